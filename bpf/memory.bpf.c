// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vigil memory probe family: write+execute memory, execute added to writable
 * memory (RW->RX staging), memfd_create and fileless exec, cross-process
 * injection (process_vm_writev, /proc/PID/mem), crash storms per executable,
 * anonymous allocation-rate summaries.
 *
 * Busy processes (JITs) are rate-limited per process in the kernel, never
 * ignored: what the limit drops is counted and reported with the next event.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vigil/abi.h"
#include "maps.bpf.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PROT_WRITE 0x2
#define PROT_EXEC 0x4
#define MAP_ANONYMOUS 0x20
#define VM_WRITE 0x2ULL
#define VM_EXEC 0x4ULL
#define O_WRONLY 01
#define O_RDWR 02

#define SIGILL 4
#define SIGABRT 6
#define SIGBUS 7
#define SIGSEGV 11

#define NSEC_PER_SEC 1000000000ULL

/* Settings written by the agent before load. */
const volatile __u32 prot_events_per_sec = 8; /* per process */
const volatile __u32 crash_threshold = 20;    /* fatal signals per window */
const volatile __u64 crash_window_ns = 10 * NSEC_PER_SEC;
const volatile __u64 alloc_threshold = 256ULL << 20; /* bytes per window */
const volatile __u64 alloc_window_ns = 1 * NSEC_PER_SEC;

/* Memory records for user space; size set by the agent before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} memory_events SEC(".maps");

struct mmap_stash {
	__u64 addr;
	__u64 len;
	__u32 prot;
	__u32 flags;
	__u64 vm_flags;
	__u32 anon;
	__u32 syscall;
	__u32 suppressed; /* events of this process rate-limited before this one */
	__u32 _pad;
	char file[32];
};

/* mmap/mprotect arguments between sys_enter and sys_exit, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct mmap_stash);
} prot_stash SEC(".maps");

struct rate_state {
	__u64 window_start;
	__u32 sent;
	__u32 suppressed;
};

/* W+X / exec-added event budget per process (tgid) and second. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct rate_state);
} prot_rate SEC(".maps");

struct syscall_args {
	__u64 a0;
	__u64 a1;
	__u64 a2;
	__u64 a3;
};

/* memfd_create / process_vm_writev / openat(/proc/PID/mem) entry args, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct syscall_args);
} args_stash SEC(".maps");

struct crash_key {
	__u64 ino;
	__u32 dev;
	__u32 _pad;
};

struct crash_state {
	__u64 window_start;
	__u32 count;
	__u32 next_report;
};

/* Fatal signals per executable (inode) in the current window. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct crash_key);
	__type(value, struct crash_state);
} crashes SEC(".maps");

struct alloc_state {
	__u64 window_start;
	__u64 bytes;
	__u32 calls;
	__u32 reported;
	__u64 brk_before; /* brk at sys_enter_brk, to measure growth at exit */
};

/* Anonymous memory growth per process (tgid) in the current window. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct alloc_state);
} allocs SEC(".maps");

/* ------------------------------------------------------- W+X, RW->RX */

/* True when this process may send another prot event now; counts the rest. */
static __always_inline bool rate__allow(__u32 tgid, __u32 *suppressed)
{
	struct rate_state fresh = {}, *st;
	__u64 now;

	*suppressed = 0;
	if (raw_events)
		return true;
	now = bpf_ktime_get_boot_ns();
	st = bpf_map_lookup_elem(&prot_rate, &tgid);
	if (!st) {
		fresh.window_start = now;
		fresh.sent = 1;
		bpf_map_update_elem(&prot_rate, &tgid, &fresh, BPF_ANY);
		return true;
	}
	if (now - st->window_start >= NSEC_PER_SEC) {
		st->window_start = now;
		st->sent = 0;
	}
	if (st->sent >= prot_events_per_sec) {
		st->suppressed++;
		stats__inc(VIGIL_STAT_MEM_SUPPRESSED);
		return false;
	}
	st->sent++;
	*suppressed = st->suppressed;
	st->suppressed = 0;
	return true;
}

struct vma_info {
	__u64 vm_flags;
	__u32 anon;
	__u32 found;
	char file[32];
};

static long vma__inspect(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_info *info = data;
	struct file *file = BPF_CORE_READ(vma, vm_file);

	info->found = 1;
	info->vm_flags = BPF_CORE_READ(vma, vm_flags);
	info->anon = file ? VIGIL_MAP_FILE : VIGIL_MAP_ANON;
	if (file)
		bpf_probe_read_kernel_str(info->file, sizeof(info->file),
					  BPF_CORE_READ(file, f_path.dentry, d_name.name));
	return 0;
}

static __always_inline int prot__enter(__u32 syscall, __u64 addr, __u64 len, __u32 prot,
				       __u32 flags, __u64 fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct mmap_stash s = {
	    .addr = addr, .len = len, .prot = prot, .flags = flags, .syscall = syscall};
	struct vma_info info = {.anon = VIGIL_MAP_UNKNOWN};
	bool inspected = false;

	if (!(prot & PROT_EXEC))
		return 0;
	/* W+X at creation is the only interesting mmap. */
	if (syscall == VIGIL_MEM_MMAP && !(prot & PROT_WRITE))
		return 0;
	if (syscall == VIGIL_MEM_MPROTECT && !(prot & PROT_WRITE)) {
		/* Execute added: interesting only to a mapping that was writable (RW->RX staging). */
		bpf_find_vma(bpf_get_current_task_btf(), addr, vma__inspect, &info, 0);
		if (info.found && (!(info.vm_flags & VM_WRITE) || (info.vm_flags & VM_EXEC)))
			return 0;
		inspected = true;
	}
	/* Reported unless filtered or over the rate limit: both decided here, so a
	 * suppressed call costs no mapping walk and leaves its exit nothing to do. */
	if (filter__skip_current())
		return 0;
	if (!rate__allow(pid_tgid >> 32, &s.suppressed))
		return 0;
	if (syscall == VIGIL_MEM_MMAP) {
		s.anon = (flags & MAP_ANONYMOUS) ? VIGIL_MAP_ANON : VIGIL_MAP_FILE;
	} else {
		if (!inspected)
			bpf_find_vma(bpf_get_current_task_btf(), addr, vma__inspect, &info, 0);
		s.vm_flags = info.vm_flags;
		s.anon = info.anon;
		__builtin_memcpy(s.file, info.file, sizeof(s.file));
	}
	bpf_map_update_elem(&prot_stash, &tid, &s, BPF_ANY);
	return 0;
}

static __always_inline int prot__exit(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct mmap_stash *s;
	struct vigil_mem_prot *e;

	s = bpf_map_lookup_elem(&prot_stash, &tid);
	if (!s)
		return 0;
	e = ringbuf__reserve(&memory_events, sizeof(*e));
	if (!e)
		goto out;
	hdr__fill(&e->hdr, (s->prot & PROT_WRITE) ? VIGIL_EV_MEM_WX : VIGIL_EV_MEM_EXEC_ADDED,
		  sizeof(*e));
	e->syscall = s->syscall;
	/* mmap returns the address or -errno; mprotect 0 or -errno. */
	if (s->syscall == VIGIL_MEM_MMAP && ret >= 0) {
		e->addr = ret;
		e->ret = 0;
	} else {
		e->addr = s->addr;
		e->ret = ret < 0 ? ret : 0;
	}
	e->len = s->len;
	e->prot = s->prot;
	e->flags = s->flags;
	e->vm_flags = s->vm_flags;
	e->anon = s->anon;
	e->suppressed = s->suppressed;
	__builtin_memcpy(e->file, s->file, sizeof(e->file));
	ringbuf__submit(&memory_events, e);
out:
	bpf_map_delete_elem(&prot_stash, &tid);
	return 0;
}

/* ---------------------------------------------------------- allocations */

static __always_inline void alloc__add(__u64 bytes)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 now = bpf_ktime_get_boot_ns();
	struct alloc_state fresh = {}, *st;
	struct vigil_alloc_rate *e;

	st = bpf_map_lookup_elem(&allocs, &tgid);
	if (!st) {
		fresh.window_start = now;
		bpf_map_update_elem(&allocs, &tgid, &fresh, BPF_ANY);
		st = bpf_map_lookup_elem(&allocs, &tgid);
		if (!st)
			return;
	}
	if (now - st->window_start >= alloc_window_ns) {
		st->window_start = now;
		st->bytes = 0;
		st->calls = 0;
		st->reported = 0;
	}
	st->bytes += bytes;
	st->calls++;
	if (st->reported || st->bytes < alloc_threshold)
		return;
	st->reported = 1; /* one summary per process and window */
	if (filter__skip_current())
		return;
	e = ringbuf__reserve(&memory_events, sizeof(*e));
	if (!e)
		return;
	hdr__fill(&e->hdr, VIGIL_EV_ALLOC_RATE, sizeof(*e));
	e->bytes = st->bytes;
	e->calls = st->calls;
	e->window_ms = (now - st->window_start) / 1000000;
	ringbuf__submit(&memory_events, e);
}

SEC("tracepoint/syscalls/sys_enter_mmap")
int mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 len = BPF_CORE_READ(ctx, args[1]);
	__u32 prot = BPF_CORE_READ(ctx, args[2]);
	__u32 flags = BPF_CORE_READ(ctx, args[3]);

	if (flags & MAP_ANONYMOUS)
		alloc__add(len);
	return prot__enter(VIGIL_MEM_MMAP, BPF_CORE_READ(ctx, args[0]), len, prot, flags,
			   BPF_CORE_READ(ctx, args[4]));
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int mmap_exit(struct trace_event_raw_sys_exit *ctx)
{
	return prot__exit(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_enter_mprotect")
int mprotect_enter(struct trace_event_raw_sys_enter *ctx)
{
	return prot__enter(VIGIL_MEM_MPROTECT, BPF_CORE_READ(ctx, args[0]),
			   BPF_CORE_READ(ctx, args[1]), BPF_CORE_READ(ctx, args[2]), 0, 0);
}

SEC("tracepoint/syscalls/sys_exit_mprotect")
int mprotect_exit(struct trace_event_raw_sys_exit *ctx)
{
	return prot__exit(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_enter_brk")
int brk_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct alloc_state *st = bpf_map_lookup_elem(&allocs, &tgid);

	if (st)
		st->brk_before = BPF_CORE_READ(task, mm, brk);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_brk")
int brk_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct alloc_state *st = bpf_map_lookup_elem(&allocs, &tgid);
	__u64 now_brk = BPF_CORE_READ(task, mm, brk);

	if (!st) {
		alloc__add(0); /* start tracking; growth counts from the next call */
		return 0;
	}
	if (st->brk_before && now_brk > st->brk_before)
		alloc__add(now_brk - st->brk_before);
	return 0;
}

/* ------------------------------------------------------------- memfd */

static __always_inline void args__stash(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_args a = {
	    .a0 = BPF_CORE_READ(ctx, args[0]),
	    .a1 = BPF_CORE_READ(ctx, args[1]),
	    .a2 = BPF_CORE_READ(ctx, args[2]),
	    .a3 = BPF_CORE_READ(ctx, args[3]),
	};

	bpf_map_update_elem(&args_stash, &tid, &a, BPF_ANY);
}

SEC("tracepoint/syscalls/sys_enter_memfd_create")
int memfd_enter(struct trace_event_raw_sys_enter *ctx)
{
	args__stash(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_memfd_create")
int memfd_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct syscall_args *a = bpf_map_lookup_elem(&args_stash, &tid);
	struct vigil_memfd *e;

	if (!a)
		return 0;
	if (filter__skip_current())
		goto out;
	e = ringbuf__reserve(&memory_events, sizeof(*e));
	if (!e)
		goto out;
	hdr__fill(&e->hdr, VIGIL_EV_MEMFD, sizeof(*e));
	e->flags = a->a1;
	e->ret = BPF_CORE_READ(ctx, ret);
	if (bpf_probe_read_user_str(e->name, sizeof(e->name), (void *)a->a0) < 0) {
		e->name[0] = 0;
		stats__inc(VIGIL_STAT_READ_ERRORS);
	}
	ringbuf__submit(&memory_events, e);
out:
	bpf_map_delete_elem(&args_stash, &tid);
	return 0;
}

/* ------------------------------------------------------- fileless exec */

static __always_inline int fileless__check(const char *filename)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	struct vigil_fileless_exec *e;
	__u32 nlink;

	if (!exe)
		return 0;
	nlink = BPF_CORE_READ(exe, f_inode, __i_nlink);
	if (nlink != 0)
		return 0; /* an ordinary file on disk */
	if (filter__skip_current())
		return 0;
	e = ringbuf__reserve(&memory_events, sizeof(*e));
	if (!e)
		return 0;
	hdr__fill(&e->hdr, VIGIL_EV_FILELESS_EXEC, sizeof(*e));
	e->nlink = nlink;
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), filename) < 0)
		e->filename[0] = 0;
	/* d_name.name is a pointer: read it, then the string it points to. */
	if (bpf_probe_read_kernel_str(e->dname, sizeof(e->dname),
				      BPF_CORE_READ(exe, f_path.dentry, d_name.name)) < 0)
		e->dname[0] = 0;
	e->memfd = e->dname[0] == 'm' && e->dname[1] == 'e' && e->dname[2] == 'm' &&
		   e->dname[3] == 'f' && e->dname[4] == 'd' && e->dname[5] == ':';
	ringbuf__submit_urgent(&memory_events, e);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fileless_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return fileless__check(BPF_CORE_READ(bprm, filename));
}

SEC("tracepoint/sched/sched_process_exec")
int fileless_tp(struct trace_event_raw_sched_process_exec *ctx)
{
	unsigned short off = BPF_CORE_READ(ctx, __data_loc_filename) & 0xFFFF;

	return fileless__check((const char *)ctx + off);
}

/* ------------------------------------------------------------ injection */

SEC("tracepoint/syscalls/sys_enter_process_vm_writev")
int vm_writev_enter(struct trace_event_raw_sys_enter *ctx)
{
	args__stash(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_process_vm_writev")
int vm_writev_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct syscall_args *a = bpf_map_lookup_elem(&args_stash, &tid);
	struct vigil_inject *e;
	long ret;

	if (!a)
		return 0;
	if ((__u32)a->a0 == (__u32)(pid_tgid >> 32) || filter__skip_current())
		goto out; /* writing into oneself is not injection */
	e = ringbuf__reserve(&memory_events, sizeof(*e));
	if (!e)
		goto out;
	hdr__fill(&e->hdr, VIGIL_EV_INJECT, sizeof(*e));
	ret = BPF_CORE_READ(ctx, ret);
	e->target_pid = a->a0;
	e->ret = ret < 0 ? ret : 0;
	e->bytes = ret > 0 ? ret : 0;
	e->method = VIGIL_INJECT_VM_WRITEV;
	e->flags = 0;
	e->path[0] = 0;
	ringbuf__submit_urgent(&memory_events, e);
out:
	bpf_map_delete_elem(&args_stash, &tid);
	return 0;
}

/* Parses "/proc/<digits>/mem"; returns the pid, 0 if the path is anything else. */
static __always_inline __u32 procmem__pid(const char *path)
{
	__u32 pid = 0;
	int i;

	if (path[0] != '/' || path[1] != 'p' || path[2] != 'r' || path[3] != 'o' ||
	    path[4] != 'c' || path[5] != '/')
		return 0;
	for (i = 6; i < 16; i++) {
		char c = path[i];

		if (c == '/')
			break;
		if (c < '0' || c > '9')
			return 0;
		pid = pid * 10 + (c - '0');
	}
	if (i >= 16 || i == 6)
		return 0;
	if (path[i + 1] != 'm' || path[i + 2] != 'e' || path[i + 3] != 'm' || path[i + 4] != 0)
		return 0;
	return pid;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u32 flags = BPF_CORE_READ(ctx, args[2]);
	char path[32];

	/* Cheap test first: only writable opens can inject. */
	if (!(flags & (O_WRONLY | O_RDWR)))
		return 0;
	if (bpf_probe_read_user_str(path, sizeof(path), (void *)BPF_CORE_READ(ctx, args[1])) < 0)
		return 0;
	if (!procmem__pid(path))
		return 0;
	args__stash(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid;
	struct syscall_args *a = bpf_map_lookup_elem(&args_stash, &tid);
	struct vigil_inject *e;
	__u32 target;

	if (!a)
		return 0;
	e = ringbuf__reserve(&memory_events, sizeof(*e));
	if (!e)
		goto out;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), (void *)a->a1) < 0) {
		bpf_ringbuf_discard(e, 0);
		goto out;
	}
	target = procmem__pid(e->path);
	if (!target || target == (__u32)(pid_tgid >> 32) || filter__skip_current()) {
		bpf_ringbuf_discard(e, 0);
		goto out;
	}
	hdr__fill(&e->hdr, VIGIL_EV_INJECT, sizeof(*e));
	e->target_pid = target;
	e->ret = BPF_CORE_READ(ctx, ret) < 0 ? BPF_CORE_READ(ctx, ret) : 0;
	e->bytes = 0;
	e->method = VIGIL_INJECT_PROC_MEM;
	e->flags = a->a2;
	ringbuf__submit_urgent(&memory_events, e);
out:
	bpf_map_delete_elem(&args_stash, &tid);
	return 0;
}

/* ---------------------------------------------------------- crash storms */

SEC("tp_btf/signal_generate")
int BPF_PROG(crash_btf, int sig, struct kernel_siginfo *info, struct task_struct *task, int group,
	     int result)
{
	struct crash_state fresh = {}, *st;
	struct vigil_crash_storm *e;
	struct crash_key key = {};
	struct file *exe;
	__u64 now;

	if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGABRT)
		return 0;
	exe = BPF_CORE_READ(task, mm, exe_file);
	if (!exe)
		return 0;
	key.ino = BPF_CORE_READ(exe, f_inode, i_ino);
	key.dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	stats__inc(VIGIL_STAT_MEM_CRASHES);
	now = bpf_ktime_get_boot_ns();
	st = bpf_map_lookup_elem(&crashes, &key);
	if (!st) {
		fresh.window_start = now;
		fresh.next_report = crash_threshold;
		bpf_map_update_elem(&crashes, &key, &fresh, BPF_ANY);
		st = bpf_map_lookup_elem(&crashes, &key);
		if (!st)
			return 0;
	}
	if (now - st->window_start >= crash_window_ns) {
		st->window_start = now;
		st->count = 0;
		st->next_report = crash_threshold;
	}
	st->count++;
	/* One summary at the threshold, then one each time the count doubles. */
	if (st->count < st->next_report)
		return 0;
	st->next_report = st->count * 2;
	if (filter__skip_current())
		return 0;
	e = ringbuf__reserve(&memory_events, sizeof(*e));
	if (!e)
		return 0;
	hdr__fill(&e->hdr, VIGIL_EV_CRASH_STORM, sizeof(*e));
	e->ino = key.ino;
	e->dev = key.dev;
	e->count = st->count;
	e->signal = sig;
	e->window_ms = (now - st->window_start) / 1000000;
	BPF_CORE_READ_STR_INTO(&e->exe, task, comm);
	ringbuf__submit(&memory_events, e);
	return 0;
}
