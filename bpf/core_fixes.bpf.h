/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel differences, in one place. Each names the kernel commit that made it.
 */
#ifndef VIGIL_CORE_FIXES_BPF_H
#define VIGIL_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>

/*
 * kernel_cap_t was `struct { __u32 cap[2]; }` until commit f122a08b197d
 * ("capability: just use a 'u64' instead of a 'u32[2]' array", v6.3). Both are
 * eight bytes with capability 0 in the lowest bit on little-endian machines, so
 * reading the field's bytes as one __u64 is right on either side of the change;
 * only the field offset is relocated.
 */
static __always_inline __u64 core__cap_effective(const struct cred *cred)
{
	__u64 v = 0;

	bpf_core_read(&v, sizeof(v), &cred->cap_effective);
	return v;
}

static __always_inline __u64 core__cap_permitted(const struct cred *cred)
{
	__u64 v = 0;

	bpf_core_read(&v, sizeof(v), &cred->cap_permitted);
	return v;
}

/*
 * task_struct::start_boottime replaced real_start_time in commit cf25e24db61c
 * ("time: Rename tsk->real_start_time to ->start_boottime", v5.5).
 */
struct task_struct___pre55 {
	u64 real_start_time;
} __attribute__((preserve_access_index));

static __always_inline __u64 core__task_start_boottime(struct task_struct *task)
{
	if (bpf_core_field_exists(task->start_boottime))
		return BPF_CORE_READ(task, start_boottime);
	return BPF_CORE_READ((struct task_struct___pre55 *)task, real_start_time);
}

#endif /* VIGIL_CORE_FIXES_BPF_H */
