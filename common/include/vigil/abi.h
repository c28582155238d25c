/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event ABI shared by the kernel probes (bpf/) and user space (agent/).
 *
 * Rules (checked by static_assert in common/src/abi_check.cpp):
 *  - fixed-width fields only, fixed-length char arrays, explicit padding;
 *  - no bool, enum or pointer in a record;
 *  - every record starts with struct vigil_hdr (type + ABI version + size);
 *  - bump VIGIL_ABI_VERSION on any layout change.
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define VIGIL_ABI_VERSION 3

#define VIGIL_COMM_LEN 16
#define VIGIL_PATH_LEN 256
/* argv capture: the whole argv when it fits in VIGIL_ARGS_LEN - 1 bytes, else
 * the first VIGIL_ARGS_HEAD bytes and the last VIGIL_ARGS_LEN - VIGIL_ARGS_HEAD
 * (padding the middle of argv cannot push the last arguments out of view). */
#define VIGIL_ARGS_LEN 512
#define VIGIL_ARGS_HEAD 256
#define VIGIL_ARGS_TAIL (VIGIL_ARGS_LEN - VIGIL_ARGS_HEAD)

/*
 * Record types (vigil_hdr.type). Each probe family owns a range so families
 * grow without renumbering: process 1..15, network 16..31, memory 32..47,
 * file 48..63. VIGIL_EV_MAX is the highest type in use.
 */
#define VIGIL_EV_EXEC 1
#define VIGIL_EV_FORK 2
#define VIGIL_EV_EXIT 3
#define VIGIL_EV_SETUID 4
#define VIGIL_EV_SETGID 5
#define VIGIL_EV_CAPSET 6
#define VIGIL_EV_PTRACE 7
#define VIGIL_EV_KILL 8
#define VIGIL_EV_NS_CHANGE 9 /* setns/unshare: the namespaces after the call */
#define VIGIL_EV_CGROUP 10   /* cgroup v2 directory made or removed */
/* network family */
#define VIGIL_EV_SOCK 16        /* connect, accept, listen, close, connect failure, UDP send */
#define VIGIL_EV_NET_SUMMARY 17 /* XDP per-source summary */
/* memory family */
#define VIGIL_EV_MEM_WX 32         /* mmap/mprotect giving write+execute */
#define VIGIL_EV_MEM_EXEC_ADDED 33 /* mprotect adding execute to a writable mapping */
#define VIGIL_EV_MEMFD 34          /* memfd_create */
#define VIGIL_EV_FILELESS_EXEC 35  /* exec of a memfd or deleted file */
#define VIGIL_EV_INJECT 36         /* process_vm_writev / open of /proc/PID/mem for write */
#define VIGIL_EV_CRASH_STORM 37    /* fatal signals to one executable, summarised */
#define VIGIL_EV_ALLOC_RATE 38     /* anonymous memory growth of one process, summarised */
/* file family */
#define VIGIL_EV_FILE 48 /* a watched file was changed or a credential store read */
#define VIGIL_EV_MAX 48  /* highest in use (file family) */

/* vigil_exec.flags */
#define VIGIL_EXEC_SETUID (1U << 0)       /* euid != uid after exec */
#define VIGIL_EXEC_SETGID (1U << 1)       /* egid != gid after exec */
#define VIGIL_EXEC_EUID_CHANGED (1U << 2) /* euid differs from before the exec */
#define VIGIL_EXEC_ARGS_TRUNC (1U << 3)   /* argv did not fit in args[] */
#define VIGIL_EXEC_PREV_UNKNOWN (1U << 4) /* pre-exec creds were not seen */

/* vigil_setid.syscall: which call changed the ids. */
#define VIGIL_SYS_SETUID 1
#define VIGIL_SYS_SETREUID 2
#define VIGIL_SYS_SETRESUID 3
#define VIGIL_SYS_SETFSUID 4
#define VIGIL_SYS_SETGID 5
#define VIGIL_SYS_SETREGID 6
#define VIGIL_SYS_SETRESGID 7
#define VIGIL_SYS_SETFSGID 8
#define VIGIL_SYS_CAPSET 9
/* vigil_ns_change.syscall */
#define VIGIL_SYS_SETNS 10
#define VIGIL_SYS_UNSHARE 11

/* Counters in the per-CPU stats map, one slot each. */
#define VIGIL_STAT_EVENTS 0      /* records submitted to the ring buffer */
#define VIGIL_STAT_RB_DROPS 1    /* ring buffer full: record lost */
#define VIGIL_STAT_FILTERED 2    /* suppressed by the in-kernel filter */
#define VIGIL_STAT_STASH_MISS 3  /* syscall exit without its entry */
#define VIGIL_STAT_READ_ERRORS 4 /* a bpf_probe_read failed */
#define VIGIL_STAT_FAMILY_BASE 5 /* slots 5..15: each family's own counters */
/* memory family */
#define VIGIL_STAT_MEM_SUPPRESSED 5 /* W+X/exec-added events over the per-process rate */
#define VIGIL_STAT_MEM_CRASHES 6    /* fatal signals counted into storms */
/* network family */
#define VIGIL_STAT_NET_XDP_PKTS 5  /* packets seen by XDP */
#define VIGIL_STAT_NET_XDP_DROPS 6 /* packets dropped by the enforcement blocklist */
#define VIGIL_STAT_NET_UDP_DEDUP 7 /* UDP sends to already-seen destinations */
/* file family */
#define VIGIL_STAT_FILE_WALKS 5     /* dentry walks for writable opens */
#define VIGIL_STAT_FILE_DEPTH_CAP 6 /* walks that hit the depth bound */
#define VIGIL_STAT_MAX 16

/* Filter map value bits (ignore_comm). */
#define VIGIL_FILTER_ALL 1U

/* Common header of every record: 72 bytes. */
struct vigil_hdr {
  __u16 type;
  __u16 abi_version;
  __u32 size;  /* whole record, header included */
  __u64 ts_ns; /* CLOCK_BOOTTIME, ns */
  __u32 pid;   /* thread group id (what users call pid) */
  __u32 tid;   /* thread id */
  __u32 ppid;  /* real parent's thread group id */
  __u32 uid;
  __u32 euid;
  __u32 gid;
  __u32 egid;
  __u32 _pad0;
  __u64 cgroup_id; /* cgroup v2 id of the task */
  char comm[VIGIL_COMM_LEN];
};

/*
 * A task's namespaces, by inode number (what the links in /proc/PID/ns name), its
 * thread group's pid in its own (active) pid namespace, and its effective
 * capabilities. 40 bytes.
 */
struct vigil_ns {
  __u32 mnt;
  __u32 pid; /* the active pid namespace (not pid_for_children) */
  __u32 net;
  __u32 user;
  __u32 uts;
  __u32 ipc;
  __u32 cgroup;
  __u32 ns_pid;
  __u64 cap_eff;
};

struct vigil_exec {
  struct vigil_hdr hdr;
  __u32 flags;     /* VIGIL_EXEC_* */
  __u32 prev_euid; /* euid before the exec */
  __u32 prev_uid;
  __u32 args_len;  /* bytes used in args, NUL separators included */
  __u32 argc;      /* total argument count (may exceed what fits) */
  __u32 args_tail; /* 0: args is argv's start; else args[args_tail..args_len) is argv's end */
  __u32 loginuid;  /* the login uid (audit), VIGIL_LOGINUID_UNSET for daemons */
  __u32 _pad0;
  __u64 start_ns;     /* task start, CLOCK_BOOTTIME */
  struct vigil_ns ns; /* after the exec */
  char filename[VIGIL_PATH_LEN];
  char args[VIGIL_ARGS_LEN]; /* NUL-separated argv, or its head and (at args_tail) its tail */
};

#define VIGIL_LOGINUID_UNSET 0xFFFFFFFFU

struct vigil_fork {
  struct vigil_hdr hdr; /* the parent */
  __u32 child_pid;
  __u32 child_tid;
  __u64 child_start_ns;
  struct vigil_ns ns; /* the child's; all zero when the hook cannot reach the child */
};

/* Namespace change: setns(2) or unshare(2) returned (failures too). */
struct vigil_ns_change {
  struct vigil_hdr hdr;
  __u32 syscall; /* VIGIL_SYS_SETNS, VIGIL_SYS_UNSHARE */
  __s32 ret;
  __u32 flags; /* setns: nstype; unshare: CLONE_* flags */
  __u32 _pad0;
  struct vigil_ns ns; /* the calling thread's, after the call */
};

/* vigil_cgroup.op */
#define VIGIL_CGROUP_MKDIR 1
#define VIGIL_CGROUP_RMDIR 2

/* A cgroup of the cgroup2 (default) hierarchy made or removed; v1 hierarchies
 * are filtered out in the kernel. The header names the task that did it. */
struct vigil_cgroup {
  struct vigil_hdr hdr;
  __u32 op;    /* VIGIL_CGROUP_* */
  __u32 level; /* depth below the root (root = 0) */
  __u64 id;    /* kernfs id: bpf_get_current_cgroup_id() of its tasks, st_ino of its directory */
  char path[VIGIL_PATH_LEN]; /* relative to the cgroup2 mount, starting with '/' */
};

struct vigil_exit {
  struct vigil_hdr hdr;
  __s32 exit_code; /* the status byte of exit(2) */
  __u32 signal;    /* terminating signal, 0 if it exited */
  __u32 core_dumped;
  __u32 _pad0;
  __u64 lifetime_ns;
};

struct vigil_setid {
  struct vigil_hdr hdr; /* credentials after the call */
  __u32 syscall;        /* VIGIL_SYS_* */
  __s32 ret;
  __u32 req[3];     /* requested ids as passed (uid_t)-1 = unchanged */
  __u32 old_ids[3]; /* real, effective, saved before */
  __u32 new_ids[3]; /* real, effective, saved after */
  __u32 _pad0;
  __u64 old_cap_eff; /* capset: effective/permitted before and after */
  __u64 new_cap_eff;
  __u64 old_cap_prm;
  __u64 new_cap_prm;
};

struct vigil_ptrace {
  struct vigil_hdr hdr;
  __s64 request;
  __u32 target_pid;
  __s32 ret;
  __u64 addr;
  __u64 data;
};

struct vigil_kill {
  struct vigil_hdr hdr; /* the sender */
  __u32 target_pid;
  __u32 target_uid;
  __u32 signal;
  __s32 si_code; /* SI_USER, SI_TKILL, SI_QUEUE, ... */
  __s32 result;  /* TRACE_SIGNAL_* of signal_generate */
  __u32 _pad0;
  char target_comm[VIGIL_COMM_LEN];
};

/* vigil_mem_prot.syscall, vigil_inject.method */
#define VIGIL_MEM_MMAP 1
#define VIGIL_MEM_MPROTECT 2
#define VIGIL_INJECT_VM_WRITEV 1
#define VIGIL_INJECT_PROC_MEM 2
/* vigil_mem_prot.anon */
#define VIGIL_MAP_FILE 0
#define VIGIL_MAP_ANON 1
#define VIGIL_MAP_UNKNOWN 2

struct vigil_mem_prot {
  struct vigil_hdr hdr;
  __u64 addr;
  __u64 len;
  __u32 prot;       /* PROT_* requested */
  __u32 flags;      /* mmap flags; 0 for mprotect */
  __u32 syscall;    /* VIGIL_MEM_* */
  __s32 ret;        /* 0 or -errno */
  __u64 vm_flags;   /* mprotect: the mapping's flags before the call (VM_*) */
  __u32 anon;       /* VIGIL_MAP_* */
  __u32 suppressed; /* events of this process dropped by the rate limit before this one */
  char file[32];    /* backing file's name (dentry), empty if anonymous */
};

struct vigil_memfd {
  struct vigil_hdr hdr;
  __u32 flags;
  __s32 ret; /* the fd, or -errno */
  char name[64];
};

struct vigil_fileless_exec {
  struct vigil_hdr hdr;
  __u32 nlink; /* links of the executed inode: 0 = deleted or memfd */
  __u32 memfd; /* 1 if the file is a memfd */
  char filename[VIGIL_PATH_LEN];
  char dname[64]; /* the executed file's own name, e.g. "memfd:payload" */
};

struct vigil_inject {
  struct vigil_hdr hdr;
  __u32 target_pid;
  __s32 ret;
  __u64 bytes;  /* process_vm_writev: bytes written */
  __u32 method; /* VIGIL_INJECT_* */
  __u32 flags;  /* open flags for /proc/PID/mem */
  char path[32];
};

struct vigil_crash_storm {
  struct vigil_hdr hdr; /* the last crashing task */
  __u64 ino;            /* executable's inode */
  __u32 dev;
  __u32 count;     /* fatal signals in this window so far */
  __u32 signal;    /* the last one */
  __u32 window_ms; /* since the window opened */
  char exe[16];    /* executable's comm */
};

struct vigil_alloc_rate {
  struct vigil_hdr hdr;
  __u64 bytes; /* anonymous mmap + brk growth in this window */
  __u32 window_ms;
  __u32 calls;
};

/* vigil_sock.op */
#define VIGIL_SOCK_CONNECT 1
#define VIGIL_SOCK_ACCEPT 2
#define VIGIL_SOCK_LISTEN 3
#define VIGIL_SOCK_CLOSE 4
#define VIGIL_SOCK_CONNECT_FAILED 5 /* asynchronous failure (SYN_SENT -> CLOSE) */
#define VIGIL_SOCK_UDP_SEND 6       /* first UDP send to a destination */

struct vigil_sock {
  struct vigil_hdr hdr;
  __u32 op; /* VIGIL_SOCK_* */
  __s32 ret;
  __u16 family; /* AF_INET, AF_INET6 */
  __u16 proto;  /* IPPROTO_TCP, IPPROTO_UDP */
  __u16 lport;  /* host byte order */
  __u16 rport;
  __u8 laddr[16]; /* IPv4 in the first 4 bytes */
  __u8 raddr[16];
  __u64 bytes_sent; /* close: bytes acked by the peer */
  __u64 bytes_received;
};

/* vigil_net_summary.reason (bits) */
#define VIGIL_NET_SCAN 1U
#define VIGIL_NET_SYN_FLOOD 2U
#define VIGIL_NET_UDP_FLOOD 4U
#define VIGIL_NET_ICMP_FLOOD 8U
#define VIGIL_NET_PERIODIC 16U
#define VIGIL_NET_PORT_BITS 1024 /* distinct-port sketch size (linear counting) */
#define VIGIL_NET_ADDR_BITS 64

/* Per-source summary from XDP; the header has no process (pid 0). */
struct vigil_net_summary {
  struct vigil_hdr hdr;
  __u32 reason; /* VIGIL_NET_* bits */
  __u32 ifindex;
  __u16 family;
  __u16 _pad0;
  __u32 window_ms;
  __u8 src[16];
  __u64 pkts;
  __u64 bytes;
  __u32 syns; /* SYN without ACK */
  __u32 udp;
  __u32 icmp;
  __u32 dport_bits; /* set bits of the 1024-bit port sketch */
  __u32 daddr_bits; /* set bits of the 64-bit destination sketch */
  __u32 _pad1;
};

/* Key of the XDP per-source and blocklist maps. */
struct vigil_addr_key {
  __u8 addr[16];
  __u16 family;
  __u16 _pad[3];
};

/* vigil_file.op */
#define VIGIL_FILE_WRITE 1
#define VIGIL_FILE_CREATE 2
#define VIGIL_FILE_RENAME 3
#define VIGIL_FILE_UNLINK 4
#define VIGIL_FILE_CHMOD 5
#define VIGIL_FILE_TRUNCATE 6
#define VIGIL_FILE_READ_SENSITIVE 7
#define VIGIL_FILE_LINK 8    /* hard link: path = existing file, new_path = the new name */
#define VIGIL_FILE_SYMLINK 9 /* symlink: path = its target as passed, new_path = the link */

/* vigil_file.base: how to turn path + comps into an absolute path. */
#define VIGIL_BASE_ABSOLUTE 0 /* path is absolute */
#define VIGIL_BASE_DIR 1      /* comps name the directory `path` is relative to */
#define VIGIL_BASE_FILE 2     /* comps name the file itself (fd-based and open ops) */
#define VIGIL_BASE_VERBATIM 3 /* path is kept as passed (a symlink's target) */

/* watched inode flags (file family) */
#define VIGIL_WATCH_WRITE 1U    /* changes below this directory/file are reported */
#define VIGIL_WATCH_READ 2U     /* reads of this file are reported (credential stores) */
#define VIGIL_WATCH_EXEC_BIT 4U /* chmod setting an execute bit below here is reported */
#define VIGIL_WATCH_ANCESTOR 8U /* a directory above a watched place (e.g. "/", "/usr") */

/* vigil_file.fflags */
#define VIGIL_FILE_F_NONCANONICAL 1U /* a path had "..", "//" or "/./": reported unfiltered */
#define VIGIL_FILE_F_REARMED 2U      /* matched by directory + name: a replaced file, re-watched */

#define VIGIL_FILE_COMPS 8
#define VIGIL_FILE_COMP_LEN 32

struct vigil_file {
  struct vigil_hdr hdr;
  __u32 op; /* VIGIL_FILE_* */
  __s32 ret;
  __u32 flags;      /* open/rename/unlink flags as passed */
  __u32 mode;       /* chmod mode, or open mode */
  __u32 base;       /* VIGIL_BASE_* */
  __u32 ncomps;     /* used entries of comps, leaf first; VIGIL_FILE_COMPS+1 = truncated */
  __u32 new_base;   /* VIGIL_BASE_* of new_path (its own dirfd) */
  __u32 new_ncomps; /* as ncomps, for new_comps */
  __u32 fflags;     /* VIGIL_FILE_F_* */
  /* s_dev of the file's superblock (0 = not known: an absolute path-based
   * call) and of the writer's root (current->fs->root). Kernel dev_t
   * (major << 20 | minor); the decoder turns them into user space's
   * (makedev(), as stat(2) gives st_dev). */
  __u32 dev;
  __u32 root_dev;
  __u32 _pad0;
  char path[VIGIL_PATH_LEN];     /* as passed to the syscall (empty for fd ops) */
  char new_path[VIGIL_PATH_LEN]; /* rename/link target as passed */
  char comps[VIGIL_FILE_COMPS][VIGIL_FILE_COMP_LEN];     /* dentry names, leaf first */
  char new_comps[VIGIL_FILE_COMPS][VIGIL_FILE_COMP_LEN]; /* new_path's base directory */
};

/* Key of the file family's directory + name map (a watched file by where it is,
 * so that a file replaced by rename is still watched). */
struct vigil_child_key {
  __u64 parent_ino;
  __u32 dev;
  __u32 _pad;
  char name[VIGIL_FILE_COMP_LEN];
};

/* Key of the file family's watched-inode map. */
struct vigil_inode_key {
  __u64 ino;
  __u32 dev; /* kernel dev_t: major << 20 | minor */
  __u32 _pad;
};

/* Key of the ignore_exec_prefix LPM trie: a path prefix in bits. */
#define VIGIL_PREFIX_LEN 64
struct vigil_path_key {
  __u32 prefixlen; /* in bits */
  char path[VIGIL_PREFIX_LEN];
};

#endif /* VIGIL_ABI_H */
