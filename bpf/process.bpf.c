// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vigil process probe family: exec, fork, exit, set*id/capset, ptrace,
 * cross-user signals, namespace changes (setns, unshare) and cgroup v2
 * directories made and removed (the agent's container table follows them).
 *
 * Scheduler events have two variants: tp_btf (typed, preferred) and a classic
 * tracepoint fallback. The agent loads one of them per hook and reports which.
 * Syscall events use the syscalls:sys_{enter,exit}_* tracepoints and pair entry
 * and exit through a per-thread stash.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vigil/abi.h"
#include "maps.bpf.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PTRACE_TRACEME 0
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSR 6
#define PTRACE_SETREGS 13
#define PTRACE_SETFPREGS 15
#define PTRACE_ATTACH 16
#define PTRACE_SETREGSET 0x4205
#define PTRACE_SEIZE 0x4206

#define SI_USER 0
#define SI_KERNEL 0x80

/* Process records for user space; size set by the agent before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} process_events SEC(".maps");

/* Exec'd paths whose exec events are dropped (longest-prefix match on bytes). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_path_key);
	__type(value, __u32);
} ignore_exec_prefix SEC(".maps");

struct exec_creds {
	__u32 uid;
	__u32 euid;
};

/* Credentials at execve entry, by thread id, to detect euid changes across exec. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct exec_creds);
} pre_exec SEC(".maps");

struct syscall_stash {
	__u32 kind; /* VIGIL_SYS_* or the ptrace marker below */
	__u32 ids[3];
	__u64 args[4];
	__u64 cap_eff;
	__u64 cap_prm;
};

#define STASH_PTRACE 100

/* Syscall arguments and old credentials between sys_enter and sys_exit, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct syscall_stash);
} stash SEC(".maps");

/* ---------------------------------------------------------- namespaces */

/* The namespaces of `task` by inode number, its thread group's pid in its
 * active pid namespace, and its effective capabilities. A task past
 * exit_task_namespaces() has no nsproxy: those read as 0. */
static __always_inline void ns__fill(struct vigil_ns *ns, struct task_struct *task)
{
	struct nsproxy *nsp = BPF_CORE_READ(task, nsproxy);
	struct pid *tp = BPF_CORE_READ(task, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);

	ns->mnt = BPF_CORE_READ(nsp, mnt_ns, ns.inum);
	ns->net = BPF_CORE_READ(nsp, net_ns, ns.inum);
	ns->uts = BPF_CORE_READ(nsp, uts_ns, ns.inum);
	ns->ipc = BPF_CORE_READ(nsp, ipc_ns, ns.inum);
	ns->cgroup = BPF_CORE_READ(nsp, cgroup_ns, ns.inum);
	ns->user = BPF_CORE_READ(task, cred, user_ns, ns.inum);
	/* task_active_pid_ns(): the pid's namespace at its own level (setns and
	 * unshare of a pid namespace change only pid_ns_for_children). */
	ns->pid = BPF_CORE_READ(tp, numbers[level].ns, ns.inum);
	ns->ns_pid = BPF_CORE_READ(tp, numbers[level].nr);
	ns->cap_eff = core__cap_effective(BPF_CORE_READ(task, cred));
}

/* ---------------------------------------------------------------- exec */

static __always_inline bool exec__path_ignored(const char *filename)
{
	struct vigil_path_key key = {.prefixlen = VIGIL_PREFIX_LEN * 8};

	bpf_probe_read_kernel(key.path, sizeof(key.path), filename);
	return bpf_map_lookup_elem(&ignore_exec_prefix, &key) != NULL;
}

static __always_inline int exec__emit(const char *filename, __u32 old_tid, __u32 argc)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exec_creds *prev;
	struct vigil_exec *e;
	__u64 arg_start, arg_end, len;
	long n;

	if (filter__skip_current())
		return 0;
	e = ringbuf__reserve(&process_events, sizeof(*e));
	if (!e)
		return 0;
	hdr__fill(&e->hdr, VIGIL_EV_EXEC, sizeof(*e));

	n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename);
	if (n < 0) {
		e->filename[0] = 0;
		stats__inc(VIGIL_STAT_READ_ERRORS);
	}
	if (exec__path_ignored(e->filename)) {
		bpf_ringbuf_discard(e, 0);
		stats__inc(VIGIL_STAT_FILTERED);
		return 0;
	}

	e->flags = 0;
	e->argc = argc;
	e->args_tail = 0;
	e->_pad0 = 0;
	/* The login uid survives su and sudo: who logged in, whatever they became
	 * (audit's auid; only with CONFIG_AUDIT). */
	if (bpf_core_field_exists(task->loginuid))
		e->loginuid = BPF_CORE_READ(task, loginuid.val);
	else
		e->loginuid = VIGIL_LOGINUID_UNSET;
	e->start_ns = core__task_start_boottime(task);
	ns__fill(&e->ns, task);

	/* The new image's argv lives at mm->arg_start..arg_end. All of it when it
	 * fits; else its head and its tail, so that padding argv (many dummy
	 * arguments, or one huge one first) cannot push the last arguments out. */
	arg_start = BPF_CORE_READ(task, mm, arg_start);
	arg_end = BPF_CORE_READ(task, mm, arg_end);
	len = arg_end > arg_start ? arg_end - arg_start : 0;
	e->args[0] = 0;
	if (len <= VIGIL_ARGS_LEN - 1) {
		n = bpf_probe_read_user(e->args, len & (VIGIL_ARGS_LEN - 1), (void *)arg_start);
	} else {
		e->flags |= VIGIL_EXEC_ARGS_TRUNC;
		len = VIGIL_ARGS_LEN;
		e->args_tail = VIGIL_ARGS_HEAD;
		n = bpf_probe_read_user(e->args, VIGIL_ARGS_HEAD, (void *)arg_start);
		if (n == 0)
			n = bpf_probe_read_user(e->args + VIGIL_ARGS_HEAD, VIGIL_ARGS_TAIL,
						(void *)(arg_end - VIGIL_ARGS_TAIL));
	}
	if (n < 0) {
		len = 0;
		e->args_tail = 0;
		stats__inc(VIGIL_STAT_READ_ERRORS);
	}
	if (len < VIGIL_ARGS_LEN)
		e->args[len & (VIGIL_ARGS_LEN - 1)] = 0;
	e->args_len = len;

	if (e->hdr.euid != e->hdr.uid)
		e->flags |= VIGIL_EXEC_SETUID;
	if (e->hdr.egid != e->hdr.gid)
		e->flags |= VIGIL_EXEC_SETGID;
	prev = bpf_map_lookup_elem(&pre_exec, &old_tid);
	if (prev) {
		e->prev_uid = prev->uid;
		e->prev_euid = prev->euid;
		if (prev->euid != e->hdr.euid)
			e->flags |= VIGIL_EXEC_EUID_CHANGED;
		bpf_map_delete_elem(&pre_exec, &old_tid);
	} else {
		e->prev_uid = e->hdr.uid;
		e->prev_euid = e->hdr.euid;
		e->flags |= VIGIL_EXEC_PREV_UNKNOWN;
	}
	ringbuf__submit(&process_events, e);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return exec__emit(BPF_CORE_READ(bprm, filename), old_pid, BPF_CORE_READ(bprm, argc));
}

SEC("tracepoint/sched/sched_process_exec")
int exec_tp(struct trace_event_raw_sched_process_exec *ctx)
{
	unsigned short off = BPF_CORE_READ(ctx, __data_loc_filename) & 0xFFFF;

	return exec__emit((const char *)ctx + off, BPF_CORE_READ(ctx, old_pid), 0);
}

static __always_inline int exec__remember_creds(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct exec_creds c = {
	    .uid = BPF_CORE_READ(task, cred, uid.val),
	    .euid = BPF_CORE_READ(task, cred, euid.val),
	};

	bpf_map_update_elem(&pre_exec, &tid, &c, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int execve_enter(void *ctx)
{
	return exec__remember_creds();
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int execveat_enter(void *ctx)
{
	return exec__remember_creds();
}

/* ---------------------------------------------------------------- fork */

/* `child` NULL: the hook cannot reach the child task (its namespaces stay 0). */
static __always_inline int fork__emit(__u32 child_pid, __u32 child_tid, __u64 child_start,
				      struct task_struct *child)
{
	struct vigil_fork *e;

	if (filter__skip_current())
		return 0;
	e = ringbuf__reserve(&process_events, sizeof(*e));
	if (!e)
		return 0;
	hdr__fill(&e->hdr, VIGIL_EV_FORK, sizeof(*e));
	e->child_pid = child_pid;
	e->child_tid = child_tid;
	e->child_start_ns = child_start;
	if (child)
		ns__fill(&e->ns, child);
	else
		__builtin_memset(&e->ns, 0, sizeof(e->ns));
	ringbuf__submit(&process_events, e);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child)
{
	__u32 pid = BPF_CORE_READ(child, tgid);
	__u32 tid = BPF_CORE_READ(child, pid);

	/* New threads are not new processes: report thread group leaders only. */
	if (pid != tid)
		return 0;
	return fork__emit(pid, tid, core__task_start_boottime(child), child);
}

/*
 * The classic tracepoint names only the child's thread id and the child task is
 * out of reach, so threads cannot be told apart here: user space marks them.
 */
SEC("tracepoint/sched/sched_process_fork")
int fork_tp(struct trace_event_raw_sched_process_fork *ctx)
{
	__u32 child = BPF_CORE_READ(ctx, child_pid);

	return fork__emit(child, child, 0, NULL);
}

/* ---------------------------------------------------------------- exit */

static __always_inline int exit__emit(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vigil_exit *e;
	__u32 code;

	/* Only the last thread of a group ends the process (signal->live hits 0 first). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (filter__skip_current())
		return 0;
	e = ringbuf__reserve(&process_events, sizeof(*e));
	if (!e)
		return 0;
	hdr__fill(&e->hdr, VIGIL_EV_EXIT, sizeof(*e));
	code = BPF_CORE_READ(task, exit_code);
	e->exit_code = (code >> 8) & 0xff;
	e->signal = code & 0x7f;
	e->core_dumped = (code & 0x80) ? 1 : 0;
	e->_pad0 = 0;
	e->lifetime_ns = bpf_ktime_get_boot_ns() - core__task_start_boottime(task);
	ringbuf__submit(&process_events, e);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *p)
{
	return exit__emit();
}

SEC("tracepoint/sched/sched_process_exit")
int exit_tp(void *ctx)
{
	return exit__emit();
}

/* ------------------------------------------------------- set*id, capset */

static __always_inline int setid__enter(struct trace_event_raw_sys_enter *ctx, __u32 kind)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = BPF_CORE_READ(task, cred);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_stash s = {.kind = kind};

	s.args[0] = BPF_CORE_READ(ctx, args[0]);
	s.args[1] = BPF_CORE_READ(ctx, args[1]);
	s.args[2] = BPF_CORE_READ(ctx, args[2]);
	if (kind >= VIGIL_SYS_SETGID && kind <= VIGIL_SYS_SETFSGID) {
		s.ids[0] = kind == VIGIL_SYS_SETFSGID ? BPF_CORE_READ(cred, fsgid.val)
						      : BPF_CORE_READ(cred, gid.val);
		s.ids[1] = BPF_CORE_READ(cred, egid.val);
		s.ids[2] = BPF_CORE_READ(cred, sgid.val);
	} else {
		s.ids[0] = kind == VIGIL_SYS_SETFSUID ? BPF_CORE_READ(cred, fsuid.val)
						      : BPF_CORE_READ(cred, uid.val);
		s.ids[1] = BPF_CORE_READ(cred, euid.val);
		s.ids[2] = BPF_CORE_READ(cred, suid.val);
	}
	s.cap_eff = core__cap_effective(cred);
	s.cap_prm = core__cap_permitted(cred);
	bpf_map_update_elem(&stash, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int setid__exit(struct trace_event_raw_sys_exit *ctx, __u32 kind)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	const struct cred *cred;
	struct syscall_stash *s;
	struct vigil_setid *e;
	__u16 type;

	s = bpf_map_lookup_elem(&stash, &tid);
	if (!s || s->kind != kind) {
		stats__inc(VIGIL_STAT_STASH_MISS);
		return 0;
	}
	if (filter__skip_current())
		goto out;
	type = kind == VIGIL_SYS_CAPSET	  ? VIGIL_EV_CAPSET
	       : kind >= VIGIL_SYS_SETGID ? VIGIL_EV_SETGID
					  : VIGIL_EV_SETUID;
	e = ringbuf__reserve(&process_events, sizeof(*e));
	if (!e)
		goto out;
	hdr__fill(&e->hdr, type, sizeof(*e));
	cred = BPF_CORE_READ(task, cred);
	e->syscall = kind;
	e->ret = BPF_CORE_READ(ctx, ret);
	e->req[0] = s->args[0];
	e->req[1] = s->args[1];
	e->req[2] = s->args[2];
	e->old_ids[0] = s->ids[0];
	e->old_ids[1] = s->ids[1];
	e->old_ids[2] = s->ids[2];
	if (type == VIGIL_EV_SETGID) {
		e->new_ids[0] = kind == VIGIL_SYS_SETFSGID ? BPF_CORE_READ(cred, fsgid.val)
							   : BPF_CORE_READ(cred, gid.val);
		e->new_ids[1] = BPF_CORE_READ(cred, egid.val);
		e->new_ids[2] = BPF_CORE_READ(cred, sgid.val);
	} else {
		e->new_ids[0] = kind == VIGIL_SYS_SETFSUID ? BPF_CORE_READ(cred, fsuid.val)
							   : BPF_CORE_READ(cred, uid.val);
		e->new_ids[1] = BPF_CORE_READ(cred, euid.val);
		e->new_ids[2] = BPF_CORE_READ(cred, suid.val);
	}
	if (type == VIGIL_EV_CAPSET) {
		/* capset takes pointers, not ids: no requested values to report. */
		e->req[0] = e->req[1] = e->req[2] = 0;
	}
	e->_pad0 = 0;
	e->old_cap_eff = s->cap_eff;
	e->old_cap_prm = s->cap_prm;
	e->new_cap_eff = core__cap_effective(cred);
	e->new_cap_prm = core__cap_permitted(cred);
	ringbuf__submit(&process_events, e);
out:
	bpf_map_delete_elem(&stash, &tid);
	return 0;
}

#define SETID_PROBE(name, kind)                                                                    \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                                \
	int name##_enter(struct trace_event_raw_sys_enter *ctx)                                    \
	{                                                                                          \
		return setid__enter(ctx, kind);                                                    \
	}                                                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int name##_exit(struct trace_event_raw_sys_exit *ctx)                                      \
	{                                                                                          \
		return setid__exit(ctx, kind);                                                     \
	}

SETID_PROBE(setuid, VIGIL_SYS_SETUID)
SETID_PROBE(setreuid, VIGIL_SYS_SETREUID)
SETID_PROBE(setresuid, VIGIL_SYS_SETRESUID)
SETID_PROBE(setfsuid, VIGIL_SYS_SETFSUID)
SETID_PROBE(setgid, VIGIL_SYS_SETGID)
SETID_PROBE(setregid, VIGIL_SYS_SETREGID)
SETID_PROBE(setresgid, VIGIL_SYS_SETRESGID)
SETID_PROBE(setfsgid, VIGIL_SYS_SETFSGID)
SETID_PROBE(capset, VIGIL_SYS_CAPSET)

/* ------------------------------------------------------ setns, unshare */

static __always_inline int ns__enter(__u32 kind, __u64 flags)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_stash s = {.kind = kind};

	s.args[0] = flags;
	bpf_map_update_elem(&stash, &tid, &s, BPF_ANY);
	return 0;
}

/* Reported whatever the result: a refused setns into another namespace is
 * worth seeing too. The namespaces are the calling thread's after the call. */
static __always_inline int ns__exit(struct trace_event_raw_sys_exit *ctx, __u32 kind)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct vigil_ns_change *e;
	struct syscall_stash *s;

	s = bpf_map_lookup_elem(&stash, &tid);
	if (!s || s->kind != kind) {
		stats__inc(VIGIL_STAT_STASH_MISS);
		return 0;
	}
	if (filter__skip_current())
		goto out;
	e = ringbuf__reserve(&process_events, sizeof(*e));
	if (!e)
		goto out;
	hdr__fill(&e->hdr, VIGIL_EV_NS_CHANGE, sizeof(*e));
	e->syscall = kind;
	e->ret = BPF_CORE_READ(ctx, ret);
	e->flags = (__u32)s->args[0];
	e->_pad0 = 0;
	ns__fill(&e->ns, task);
	ringbuf__submit(&process_events, e);
out:
	bpf_map_delete_elem(&stash, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_setns")
int setns_enter(struct trace_event_raw_sys_enter *ctx)
{
	return ns__enter(VIGIL_SYS_SETNS, BPF_CORE_READ(ctx, args[1]));
}

SEC("tracepoint/syscalls/sys_exit_setns")
int setns_exit(struct trace_event_raw_sys_exit *ctx)
{
	return ns__exit(ctx, VIGIL_SYS_SETNS);
}

SEC("tracepoint/syscalls/sys_enter_unshare")
int unshare_enter(struct trace_event_raw_sys_enter *ctx)
{
	return ns__enter(VIGIL_SYS_UNSHARE, BPF_CORE_READ(ctx, args[0]));
}

SEC("tracepoint/syscalls/sys_exit_unshare")
int unshare_exit(struct trace_event_raw_sys_exit *ctx)
{
	return ns__exit(ctx, VIGIL_SYS_UNSHARE);
}

/* ---------------------------------------------------------------- cgroup */

/*
 * The container table's feed: every cgroup2 directory made or removed.
 * Bookkeeping, not activity: neither the agent filter nor ignore_comm apply
 * (ignoring runc's comm must not blind the table). Only the default
 * hierarchy (hierarchy_id 0, what bpf_get_current_cgroup_id() names); on a
 * hybrid host the v1 controllers' hierarchies fire the same tracepoints.
 */
static __always_inline int cgroup__emit(__u32 op, __u64 id, __u32 level, const char *path)
{
	struct vigil_cgroup *e;

	e = ringbuf__reserve(&process_events, sizeof(*e));
	if (!e)
		return 0;
	hdr__fill(&e->hdr, VIGIL_EV_CGROUP, sizeof(*e));
	e->op = op;
	e->level = level;
	e->id = id;
	if (bpf_probe_read_kernel_str(e->path, sizeof(e->path), path) < 0) {
		e->path[0] = 0;
		stats__inc(VIGIL_STAT_READ_ERRORS);
	}
	ringbuf__submit(&process_events, e);
	return 0;
}

static __always_inline int cgroup__btf(__u32 op, struct cgroup *cgrp, const char *path)
{
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	/* cgroup_id(): the kernfs node's id, which is also its inode number. */
	return cgroup__emit(op, BPF_CORE_READ(cgrp, kn, id), BPF_CORE_READ(cgrp, level), path);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(cgroup_mkdir_btf, struct cgroup *cgrp, const char *path)
{
	return cgroup__btf(VIGIL_CGROUP_MKDIR, cgrp, path);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cgroup_rmdir_btf, struct cgroup *cgrp, const char *path)
{
	return cgroup__btf(VIGIL_CGROUP_RMDIR, cgrp, path);
}

static __always_inline int cgroup__tp(__u32 op, struct trace_event_raw_cgroup *ctx)
{
	unsigned short off = BPF_CORE_READ(ctx, __data_loc_path) & 0xFFFF;

	if (BPF_CORE_READ(ctx, root) != 0)
		return 0;
	return cgroup__emit(op, BPF_CORE_READ(ctx, id), BPF_CORE_READ(ctx, level),
			    (const char *)ctx + off);
}

SEC("tracepoint/cgroup/cgroup_mkdir")
int cgroup_mkdir_tp(struct trace_event_raw_cgroup *ctx)
{
	return cgroup__tp(VIGIL_CGROUP_MKDIR, ctx);
}

SEC("tracepoint/cgroup/cgroup_rmdir")
int cgroup_rmdir_tp(struct trace_event_raw_cgroup *ctx)
{
	return cgroup__tp(VIGIL_CGROUP_RMDIR, ctx);
}

/* ---------------------------------------------------------------- ptrace */

static __always_inline bool ptrace__interesting(__s64 req)
{
	switch (req) {
	case PTRACE_TRACEME:
	case PTRACE_POKETEXT:
	case PTRACE_POKEDATA:
	case PTRACE_POKEUSR:
	case PTRACE_SETREGS:
	case PTRACE_SETFPREGS:
	case PTRACE_ATTACH:
	case PTRACE_SETREGSET:
	case PTRACE_SEIZE:
		return true;
	default:
		return false; /* PEEK*, CONT, ... are a debugger's routine */
	}
}

SEC("tracepoint/syscalls/sys_enter_ptrace")
int ptrace_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_stash s = {.kind = STASH_PTRACE};

	s.args[0] = BPF_CORE_READ(ctx, args[0]);
	if (!ptrace__interesting((__s64)s.args[0]))
		return 0;
	s.args[1] = BPF_CORE_READ(ctx, args[1]);
	s.args[2] = BPF_CORE_READ(ctx, args[2]);
	s.args[3] = BPF_CORE_READ(ctx, args[3]);
	bpf_map_update_elem(&stash, &tid, &s, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int ptrace_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_stash *s;
	struct vigil_ptrace *e;

	s = bpf_map_lookup_elem(&stash, &tid);
	if (!s || s->kind != STASH_PTRACE)
		return 0; /* uninteresting request: nothing was stashed */
	if (filter__skip_current())
		goto out;
	e = ringbuf__reserve(&process_events, sizeof(*e));
	if (!e)
		goto out;
	hdr__fill(&e->hdr, VIGIL_EV_PTRACE, sizeof(*e));
	e->request = (__s64)s->args[0];
	e->target_pid = (__u32)s->args[1];
	e->ret = BPF_CORE_READ(ctx, ret);
	e->addr = s->args[2];
	e->data = s->args[3];
	ringbuf__submit_urgent(&process_events, e);
out:
	bpf_map_delete_elem(&stash, &tid);
	return 0;
}

/* ---------------------------------------------------------------- kill */

/*
 * Reports a process-sent signal. `target` is NULL when the hook cannot reach the
 * target task (classic tracepoint): then `target_pid` comes from the hook and
 * the cross-user test is left to user space (target_uid = -1).
 */
static __always_inline int kill__emit(int sig, int code, int result, struct task_struct *target,
				      __u32 target_pid)
{
	__u32 target_uid = (__u32)-1;
	struct vigil_kill *e;

	/* Signals the kernel raises (faults, timers, SIGCHLD) have si_code > 0. */
	if (sig == 0 || code > 0)
		return 0;
	if (target) {
		struct task_struct *me = (struct task_struct *)bpf_get_current_task();
		__u32 my_uid = BPF_CORE_READ(me, cred, uid.val);
		__u32 my_euid = BPF_CORE_READ(me, cred, euid.val);

		target_uid = BPF_CORE_READ(target, cred, uid.val);
		target_pid = BPF_CORE_READ(target, tgid);
		if (target_uid == my_uid || target_uid == my_euid)
			return 0; /* same user: routine */
	}
	if (filter__skip_current())
		return 0;
	e = ringbuf__reserve(&process_events, sizeof(*e));
	if (!e)
		return 0;
	hdr__fill(&e->hdr, VIGIL_EV_KILL, sizeof(*e));
	e->target_pid = target_pid;
	e->target_uid = target_uid;
	e->signal = sig;
	e->si_code = code;
	e->result = result;
	e->_pad0 = 0;
	if (target)
		BPF_CORE_READ_STR_INTO(&e->target_comm, target, comm);
	else
		e->target_comm[0] = 0;
	ringbuf__submit(&process_events, e);
	return 0;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(kill_btf, int sig, struct kernel_siginfo *info, struct task_struct *task, int group,
	     int result)
{
	int code;

	/* SEND_SIG_NOINFO (0) and SEND_SIG_PRIV (1) are markers, not pointers. */
	if ((unsigned long)info == 0)
		code = SI_USER;
	else if ((unsigned long)info == 1)
		code = SI_KERNEL;
	else
		code = BPF_CORE_READ(info, si_code);
	return kill__emit(sig, code, result, task, 0);
}

/*
 * The classic tracepoint gives the target's pid (a thread id) but not its task,
 * so the cross-user test cannot run here: every user-sent signal is reported.
 */
SEC("tracepoint/signal/signal_generate")
int kill_tp(struct trace_event_raw_signal_generate *ctx)
{
	return kill__emit(BPF_CORE_READ(ctx, sig), BPF_CORE_READ(ctx, code),
			  BPF_CORE_READ(ctx, result), NULL, BPF_CORE_READ(ctx, pid));
}
