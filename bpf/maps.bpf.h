/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Maps and helpers every vigil probe family shares. */
#ifndef VIGIL_MAPS_BPF_H
#define VIGIL_MAPS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "vigil/abi.h"

/* Per-CPU counters (VIGIL_STAT_*), summed by the agent; never reset. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Comms whose events are dropped in the kernel; filled by the agent from config. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[VIGIL_COMM_LEN]);
	__type(value, __u32);
} ignore_comm SEC(".maps");

/* The agent's own thread group: its activity is never reported (no feedback loop). */
const volatile __u32 agent_tgid = 0;

/* --raw-events: every kernel event goes to user space (no in-kernel
 * de-duplication or rate limits; scope filters still apply). */
const volatile __u8 raw_events = 0;

static __always_inline void stats__inc(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &slot);

	if (v)
		*v += 1;
}

/* Reserves a record in a ring buffer; a full buffer is counted, never silent. */
static __always_inline void *ringbuf__reserve(void *rb, __u64 size)
{
	void *e = bpf_ringbuf_reserve(rb, size, 0);

	if (!e)
		stats__inc(VIGIL_STAT_RB_DROPS);
	return e;
}

/* Ring buffer wakeups (docs/PERFORMANCE.md, "Ring buffer wakeups").
 *
 * Polled (the agent's default, wakeup_watermark > 0): a record may wake the
 * reader only if VIGIL_WAKE_GAP_NS passed since the last record that could,
 * and then only if the reader has read everything (libbpf's adaptive rule:
 * it is waiting). Every other record is submitted with BPF_RB_NO_WAKEUP and
 * read at the next wakeup or by the agent's poll (every 1 ms after a drain
 * that found records, backing off to ringbuf_poll_ms when quiet). So a quiet
 * host's record is read at once, and a storm costs at most one wakeup per gap
 * instead of one per record the reader catches up with. Two exceptions: the
 * ring's unread data passing wakeup_watermark bytes forces a wakeup (at most
 * once per VIGIL_WATERMARK_WAKE_NS: a storm cannot fill the ring between two
 * polls), and rare alert-grade records (ringbuf__submit_urgent: ptrace,
 * fileless exec, injection) always wake a waiting reader.
 *
 * Time-batched (wakeup_min_ns > 0, --ringbuf-wakeup-us): a forced wakeup at
 * most once per wakeup_min_ns; the agent polls every 1 ms while records come.
 *
 * Neither (both 0): libbpf's default, a wakeup for every record that finds the
 * reader waiting. In a storm that is one wakeup (an irq_work on this CPU and a
 * context switch of the agent) per record. */
const volatile __u64 wakeup_min_ns = 0;
const volatile __u64 wakeup_watermark = 0;
/* When a record last could wake the reader, and when one last forced it, by
 * any CPU: racy heuristics are enough (the agent's poll is the backstop). */
__u64 wakeup_last_ns = 0;
__u64 wakeup_forced_ns = 0;

#define VIGIL_WAKE_GAP_NS 250000ULL
#define VIGIL_WATERMARK_WAKE_NS 100000ULL

static __always_inline void ringbuf__commit(void *rb, void *e, bool urgent)
{
	__u64 flags = 0;

	if (wakeup_min_ns) {
		__u64 now = bpf_ktime_get_ns();

		if (now - wakeup_last_ns >= wakeup_min_ns) {
			wakeup_last_ns = now;
			flags = BPF_RB_FORCE_WAKEUP;
		} else {
			flags = BPF_RB_NO_WAKEUP;
		}
	} else if (wakeup_watermark && !urgent) {
		__u64 now = bpf_ktime_get_ns();

		flags = BPF_RB_NO_WAKEUP;
		/* Unread bytes, this reserved record included. */
		if (bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= wakeup_watermark) {
			if (now - wakeup_forced_ns >= VIGIL_WATERMARK_WAKE_NS) {
				wakeup_forced_ns = now;
				flags = BPF_RB_FORCE_WAKEUP;
			}
		} else if (now - wakeup_last_ns >= VIGIL_WAKE_GAP_NS) {
			wakeup_last_ns = now;
			flags = 0; /* wakes the reader if it has read everything */
		}
	}
	bpf_ringbuf_submit(e, flags);
	stats__inc(VIGIL_STAT_EVENTS);
}

/* Submits a record reserved from ring `rb` (see above for when it wakes the reader). */
static __always_inline void ringbuf__submit(void *rb, void *e)
{
	ringbuf__commit(rb, e, false);
}

/* A rare, alert-grade record: wakes a waiting reader at once. */
static __always_inline void ringbuf__submit_urgent(void *rb, void *e)
{
	ringbuf__commit(rb, e, true);
}

/* True when the current task must not be reported (agent itself, ignored comm). */
static __always_inline bool filter__skip_current(void)
{
	char comm[VIGIL_COMM_LEN] = {};
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (agent_tgid && tgid == agent_tgid)
		return true;
	bpf_get_current_comm(comm, sizeof(comm));
	if (bpf_map_lookup_elem(&ignore_comm, comm)) {
		stats__inc(VIGIL_STAT_FILTERED);
		return true;
	}
	return false;
}

/* Fills the common header from the current task. */
static __always_inline void hdr__fill(struct vigil_hdr *h, __u16 type, __u32 size)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const struct cred *cred = BPF_CORE_READ(task, cred);

	h->type = type;
	h->abi_version = VIGIL_ABI_VERSION;
	h->size = size;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = BPF_CORE_READ(cred, uid.val);
	h->euid = BPF_CORE_READ(cred, euid.val);
	h->gid = BPF_CORE_READ(cred, gid.val);
	h->egid = BPF_CORE_READ(cred, egid.val);
	h->_pad0 = 0;
	h->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

#endif /* VIGIL_MAPS_BPF_H */
