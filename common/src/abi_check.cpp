// Compile-time checks that the kernel ABI has the layout both sides assume.
// A failure here means bpf/ and agent/ would disagree on the bytes.
#include <cstddef>

#include "vigil/abi.h"

namespace {

static_assert(sizeof(vigil_hdr) == 72);
static_assert(offsetof(vigil_hdr, type) == 0);
static_assert(offsetof(vigil_hdr, abi_version) == 2);
static_assert(offsetof(vigil_hdr, size) == 4);
static_assert(offsetof(vigil_hdr, ts_ns) == 8);
static_assert(offsetof(vigil_hdr, pid) == 16);
static_assert(offsetof(vigil_hdr, cgroup_id) == 48);
static_assert(offsetof(vigil_hdr, comm) == 56);

static_assert(sizeof(vigil_ns) == 40);
static_assert(offsetof(vigil_ns, ns_pid) == 28);
static_assert(offsetof(vigil_ns, cap_eff) == 32);

static_assert(sizeof(vigil_exec) == 152 + VIGIL_PATH_LEN + VIGIL_ARGS_LEN);
static_assert(offsetof(vigil_exec, args_tail) == 92);
static_assert(VIGIL_ARGS_HEAD < VIGIL_ARGS_LEN && (VIGIL_ARGS_LEN & (VIGIL_ARGS_LEN - 1)) == 0);
static_assert(offsetof(vigil_exec, flags) == 72);
static_assert(offsetof(vigil_exec, loginuid) == 96);
static_assert(offsetof(vigil_exec, start_ns) == 104);
static_assert(offsetof(vigil_exec, ns) == 112);
static_assert(offsetof(vigil_exec, filename) == 152);
static_assert(offsetof(vigil_exec, args) == 152 + VIGIL_PATH_LEN);

static_assert(sizeof(vigil_fork) == 128);
static_assert(offsetof(vigil_fork, ns) == 88);
static_assert(sizeof(vigil_ns_change) == 128);
static_assert(offsetof(vigil_ns_change, ns) == 88);
static_assert(sizeof(vigil_cgroup) == 88 + VIGIL_PATH_LEN);
static_assert(offsetof(vigil_cgroup, id) == 80);
static_assert(offsetof(vigil_cgroup, path) == 88);
static_assert(sizeof(vigil_exit) == 96);
static_assert(offsetof(vigil_exit, lifetime_ns) == 88);
static_assert(sizeof(vigil_setid) == 152);
static_assert(offsetof(vigil_setid, old_cap_eff) == 120);
static_assert(sizeof(vigil_ptrace) == 104);
static_assert(sizeof(vigil_kill) == 112);
static_assert(offsetof(vigil_kill, target_comm) == 96);
static_assert(sizeof(vigil_path_key) == 4 + VIGIL_PREFIX_LEN);

static_assert(sizeof(vigil_mem_prot) == 152);
static_assert(offsetof(vigil_mem_prot, vm_flags) == 104);
static_assert(sizeof(vigil_memfd) == 144);
static_assert(sizeof(vigil_fileless_exec) == 400);
static_assert(sizeof(vigil_inject) == 128);
static_assert(sizeof(vigil_crash_storm) == 112);
static_assert(sizeof(vigil_alloc_rate) == 88);
static_assert(sizeof(vigil_file) ==
              72 + 48 + 2 * VIGIL_PATH_LEN + 2 * VIGIL_FILE_COMPS * VIGIL_FILE_COMP_LEN);
static_assert(offsetof(vigil_file, new_base) == 96);
static_assert(offsetof(vigil_file, dev) == 108);
static_assert(offsetof(vigil_file, root_dev) == 112);
static_assert(offsetof(vigil_file, path) == 120);
static_assert(offsetof(vigil_file, new_comps) ==
              120 + 2 * VIGIL_PATH_LEN + VIGIL_FILE_COMPS * VIGIL_FILE_COMP_LEN);
static_assert(sizeof(vigil_child_key) == 16 + VIGIL_FILE_COMP_LEN);
static_assert(sizeof(vigil_inode_key) == 16);
static_assert(sizeof(vigil_sock) == 136);
static_assert(offsetof(vigil_sock, laddr) == 88);
static_assert(sizeof(vigil_net_summary) == 72 + 16 + 16 + 16 + 24);
static_assert(offsetof(vigil_net_summary, src) == 88);
static_assert(sizeof(vigil_addr_key) == 24);

// Every record is a multiple of 8 bytes so ring buffer records stay aligned.
static_assert(sizeof(vigil_exec) % 8 == 0 && sizeof(vigil_fork) % 8 == 0 &&
              sizeof(vigil_exit) % 8 == 0 && sizeof(vigil_setid) % 8 == 0 &&
              sizeof(vigil_ptrace) % 8 == 0 && sizeof(vigil_kill) % 8 == 0 &&
              sizeof(vigil_mem_prot) % 8 == 0 && sizeof(vigil_memfd) % 8 == 0 &&
              sizeof(vigil_fileless_exec) % 8 == 0 && sizeof(vigil_inject) % 8 == 0 &&
              sizeof(vigil_crash_storm) % 8 == 0 && sizeof(vigil_alloc_rate) % 8 == 0 &&
              sizeof(vigil_file) % 8 == 0 && sizeof(vigil_sock) % 8 == 0 &&
              sizeof(vigil_net_summary) % 8 == 0 && sizeof(vigil_ns_change) % 8 == 0 &&
              sizeof(vigil_cgroup) % 8 == 0);

}  // namespace
