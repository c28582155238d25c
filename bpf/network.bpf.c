// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vigil network probe family.
 *  - XDP on ingress: per-source state (IPv4 and IPv6) in an LRU map; only
 *    summaries cross to user space, when a source crosses a threshold (scan,
 *    SYN flood, UDP/ICMP flood) and once per window for busy sources. Traffic
 *    always passes unless enforcement is on and the source is blocklisted.
 *  - Sockets with process attribution: connect, accept, listen (syscall
 *    tracepoints), close with byte counts and asynchronous connect failures
 *    (inet_sock_set_state), first UDP send to each destination.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "vigil/abi.h"
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define NSEC_PER_MSEC 1000000ULL

/* Settings written by the agent before load. */
const volatile __u64 window_ns = 5000000000ULL;
const volatile __u32 scan_ports = 100;		/* distinct destination ports (sketch bits) */
const volatile __u32 syn_flood = 2000;		/* SYNs without ACK per window */
const volatile __u32 udp_flood = 5000;		/* UDP packets per window */
const volatile __u32 icmp_flood = 2000;		/* ICMP packets per window */
const volatile __u64 periodic_min_pkts = 10000; /* busy source: summarised at window end */
const volatile __u8 enforce = 0;		/* drop blocklisted sources */

/* Socket events and XDP summaries for user space; size set by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} network_events SEC(".maps");

struct src_state {
	__u64 window_start;
	__u64 pkts;
	__u64 bytes;
	__u32 syns;
	__u32 udp;
	__u32 icmp;
	__u32 dport_bits;
	__u32 daddr_bits;
	__u32 reported;	 /* VIGIL_NET_* already sent this window */
	__u32 next_scan; /* dport_bits at which the next scan summary goes out */
	__u32 next_syns; /* SYN count at which the next flood summary goes out */
	__u32 _pad;
	__u64 dports[VIGIL_NET_PORT_BITS / 64];
	__u64 daddrs;
};

/* Per-source traffic state for the current window. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vigil_addr_key);
	__type(value, struct src_state);
} sources SEC(".maps");

/* Enforcement blocklist: source -> expiry (CLOCK_MONOTONIC ns, 0 = never). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct vigil_addr_key);
	__type(value, __u64);
} blocklist SEC(".maps");

/* Scratch for a source's first packet (too big for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct src_state);
} scratch SEC(".maps");

struct sock_owner {
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 euid;
	__u32 _pad;
	__u64 cgroup_id; /* the owner's cgroup: a container's events stay its own */
	char comm[VIGIL_COMM_LEN];
};

/* Socket -> the process that connected or accepted it (state changes run in softirq). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct sock_owner);
} owners SEC(".maps");

struct udp_key {
	__u32 tgid;
	__u16 family;
	__u16 port;
	__u8 addr[16];
};

/* UDP destinations each process already sent to (in-kernel de-duplication). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct udp_key);
	__type(value, __u8);
} udp_seen SEC(".maps");

struct net_args {
	__u64 a0;
	__u64 a1;
	__u64 a2;
};

/* connect/accept/listen/sendto entry args, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct net_args);
} nstash SEC(".maps");

/* ================================================================= XDP */

static __always_inline void xdp__emit(struct vigil_addr_key *key, struct src_state *st,
				      __u32 reason, __u32 ifindex, __u64 now)
{
	struct vigil_net_summary *e;

	e = ringbuf__reserve(&network_events, sizeof(*e));
	if (!e)
		return;
	__builtin_memset(&e->hdr, 0, sizeof(e->hdr));
	e->hdr.type = VIGIL_EV_NET_SUMMARY;
	e->hdr.abi_version = VIGIL_ABI_VERSION;
	e->hdr.size = sizeof(*e);
	e->hdr.ts_ns = bpf_ktime_get_boot_ns();
	e->reason = reason;
	e->ifindex = ifindex;
	e->family = key->family;
	e->_pad0 = 0;
	e->_pad1 = 0;
	e->window_ms = (now - st->window_start) / NSEC_PER_MSEC;
	__builtin_memcpy(e->src, key->addr, sizeof(e->src));
	e->pkts = st->pkts;
	e->bytes = st->bytes;
	e->syns = st->syns;
	e->udp = st->udp;
	e->icmp = st->icmp;
	e->dport_bits = st->dport_bits;
	e->daddr_bits = st->daddr_bits;
	ringbuf__submit(&network_events, e);
}

/*
 * murmur3's finaliser: random-looking bits even for sequential ports, which
 * linear counting needs (a low-discrepancy hash such as Fibonacci hashing
 * spreads a port sweep with no collisions and the estimate overshoots).
 */
static __always_inline __u32 hash32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return h;
}

SEC("xdp")
int xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct vigil_addr_key key = {};
	struct src_state *st;
	__u32 zero = 0, daddr_hash = 0, bit;
	__u16 dport = 0;
	__u8 proto, syn = 0;
	__u64 now, *expiry;
	void *l4;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		key.family = AF_INET;
		__builtin_memcpy(key.addr, &ip->saddr, 4);
		daddr_hash = ip->daddr;
		proto = ip->protocol;
		l4 = (void *)ip + ip->ihl * 4;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		key.family = AF_INET6;
		__builtin_memcpy(key.addr, &ip6->saddr, 16);
		daddr_hash = ip6->daddr.in6_u.u6_addr32[3] ^ ip6->daddr.in6_u.u6_addr32[0];
		proto = ip6->nexthdr; /* extension headers are not followed */
		l4 = ip6 + 1;
	} else {
		return XDP_PASS;
	}
	stats__inc(VIGIL_STAT_NET_XDP_PKTS);

	now = bpf_ktime_get_ns();
	if (enforce) {
		expiry = bpf_map_lookup_elem(&blocklist, &key);
		if (expiry && (*expiry == 0 || *expiry > now)) {
			stats__inc(VIGIL_STAT_NET_XDP_DROPS);
			return XDP_DROP;
		}
	}

	if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) <= end) {
			dport = bpf_ntohs(tcp->dest);
			syn = tcp->syn && !tcp->ack;
		}
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) <= end)
			dport = bpf_ntohs(udp->dest);
	}

	st = bpf_map_lookup_elem(&sources, &key);
	if (!st) {
		struct src_state *fresh = bpf_map_lookup_elem(&scratch, &zero);

		if (!fresh)
			return XDP_PASS;
		__builtin_memset(fresh, 0, sizeof(*fresh));
		fresh->window_start = now;
		bpf_map_update_elem(&sources, &key, fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&sources, &key);
		if (!st)
			return XDP_PASS;
	}
	if (now - st->window_start >= window_ns) {
		/* Window over: a busy source gets one summary of it, then a fresh start. */
		if (st->pkts >= periodic_min_pkts)
			xdp__emit(&key, st, VIGIL_NET_PERIODIC | st->reported, ctx->ingress_ifindex,
				  now);
		st->window_start = now;
		st->pkts = st->bytes = 0;
		st->syns = st->udp = st->icmp = 0;
		st->dport_bits = st->daddr_bits = 0;
		st->reported = 0;
		st->next_scan = 0;
		st->next_syns = 0;
		st->daddrs = 0;
		for (int i = 0; i < VIGIL_NET_PORT_BITS / 64; i++)
			st->dports[i] = 0;
	}

	st->pkts++;
	st->bytes += end - data;
	if (syn)
		st->syns++;
	if (proto == IPPROTO_UDP)
		st->udp++;
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6)
		st->icmp++;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		/* Linear-counting sketch of distinct destination ports. */
		bit = hash32(dport) >> 22; /* 10 bits: 0..1023 */
		if (!(st->dports[(bit >> 6) & 15] & (1ULL << (bit & 63)))) {
			st->dports[(bit >> 6) & 15] |= 1ULL << (bit & 63);
			st->dport_bits++;
		}
	}
	bit = hash32(daddr_hash) >> 26; /* 6 bits */
	if (!(st->daddrs & (1ULL << bit))) {
		st->daddrs |= 1ULL << bit;
		st->daddr_bits++;
	}

	{
		__u32 crossed = 0;

		if (st->dport_bits >= scan_ports)
			crossed |= VIGIL_NET_SCAN;
		if (st->syns >= syn_flood)
			crossed |= VIGIL_NET_SYN_FLOOD;
		if (st->udp >= udp_flood)
			crossed |= VIGIL_NET_UDP_FLOOD;
		if (st->icmp >= icmp_flood)
			crossed |= VIGIL_NET_ICMP_FLOOD;
		crossed &= ~st->reported;
		/*
		 * An ongoing scan or flood is re-summarised as it grows (ports by
		 * ~3%, SYNs by doubling), so the last summary is close to the truth
		 * while the number of records stays logarithmic.
		 */
		if ((st->reported & VIGIL_NET_SCAN) && st->dport_bits >= st->next_scan)
			crossed |= VIGIL_NET_SCAN;
		if ((st->reported & VIGIL_NET_SYN_FLOOD) && st->syns >= st->next_syns)
			crossed |= VIGIL_NET_SYN_FLOOD;
		if (crossed & VIGIL_NET_SCAN)
			st->next_scan = st->dport_bits + (st->dport_bits >> 5) + 4;
		if (crossed & VIGIL_NET_SYN_FLOOD)
			st->next_syns = st->syns * 2;
		if (crossed) {
			st->reported |= crossed;
			xdp__emit(&key, st, crossed, ctx->ingress_ifindex, now);
		}
	}
	return XDP_PASS;
}

/* ============================================================= sockets */

static __always_inline struct sock *sock__from_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds, *f = NULL;
	struct socket *sock;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/* The IPv4/IPv6 socket behind fd, or NULL (unix sockets and the like). */
static __always_inline struct sock *inet_sock__from_fd(int fd)
{
	struct sock *sk = sock__from_fd(fd);
	__u16 family;

	if (!sk)
		return NULL;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return family == AF_INET || family == AF_INET6 ? sk : NULL;
}

/* Fills family, protocol, addresses and ports from the socket. */
static __always_inline void sock__addrs(struct sock *sk, struct vigil_sock *e)
{
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->proto = BPF_CORE_READ(sk, sk_protocol);
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__builtin_memset(e->laddr, 0, sizeof(e->laddr));
	__builtin_memset(e->raddr, 0, sizeof(e->raddr));
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->raddr, sk, __sk_common.skc_daddr);
	}
}

static __always_inline void owner__remember(struct sock *sk)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 key = (__u64)sk;
	struct sock_owner o = {
	    .pid = pid_tgid >> 32,
	    .tid = (__u32)pid_tgid,
	    .ppid = BPF_CORE_READ(task, real_parent, tgid),
	    .uid = BPF_CORE_READ(task, cred, uid.val),
	    .euid = BPF_CORE_READ(task, cred, euid.val),
	    .cgroup_id = bpf_get_current_cgroup_id(),
	};

	bpf_get_current_comm(o.comm, sizeof(o.comm));
	bpf_map_update_elem(&owners, &key, &o, BPF_ANY);
}

static __always_inline struct vigil_sock *sock__event(__u32 op, long ret)
{
	struct vigil_sock *e;

	if (filter__skip_current())
		return NULL;
	e = ringbuf__reserve(&network_events, sizeof(*e));
	if (!e)
		return NULL;
	hdr__fill(&e->hdr, VIGIL_EV_SOCK, sizeof(*e));
	e->op = op;
	e->ret = ret < 0 ? ret : 0;
	e->bytes_sent = 0;
	e->bytes_received = 0;
	return e;
}

static __always_inline void args__stash(struct trace_event_raw_sys_enter *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct net_args a = {
	    .a0 = BPF_CORE_READ(ctx, args[0]),
	    .a1 = BPF_CORE_READ(ctx, args[1]),
	    .a2 = BPF_CORE_READ(ctx, args[2]),
	};

	bpf_map_update_elem(&nstash, &tid, &a, BPF_ANY);
}

static __always_inline struct net_args *args__take(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	return bpf_map_lookup_elem(&nstash, &tid);
}

static __always_inline void args__drop(void)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_delete_elem(&nstash, &tid);
}

/* Reads a user sockaddr into family/port/address. */
static __always_inline void sockaddr__read(__u64 uaddr, struct vigil_sock *e)
{
	struct sockaddr_in6 sa = {};

	bpf_probe_read_user(&sa, sizeof(sa), (void *)uaddr);
	if (sa.sin6_family == AF_INET6) {
		e->family = AF_INET6;
		e->rport = bpf_ntohs(sa.sin6_port);
		__builtin_memcpy(e->raddr, &sa.sin6_addr, 16);
	} else if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;

		e->family = AF_INET;
		e->rport = bpf_ntohs(in->sin_port);
		__builtin_memset(e->raddr, 0, sizeof(e->raddr));
		__builtin_memcpy(e->raddr, &in->sin_addr, 4);
	}
}

SEC("tracepoint/syscalls/sys_enter_connect")
int connect_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct sock *sk;

	args__stash(ctx);
	/* The owner is known before the SYN leaves: on loopback (or any fast
	 * refusal) the RST and the SYN_SENT -> CLOSE change it causes are handled
	 * inside this very syscall, before its exit. */
	sk = inet_sock__from_fd(BPF_CORE_READ(ctx, args[0]));
	if (sk)
		owner__remember(sk);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int connect_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct net_args *a = args__take();
	struct vigil_sock *e;
	struct sock *sk;

	if (!a)
		return 0;
	sk = inet_sock__from_fd(a->a0);
	if (!sk)
		goto out;
	/* Closed already (refused, or a failure the state change reported): no
	 * later change will consume the entry, and a stale one would name this
	 * process as the owner of the next socket allocated at the same address. */
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_CLOSE) {
		__u64 key = (__u64)sk;

		bpf_map_delete_elem(&owners, &key);
	} else {
		owner__remember(sk);
	}
	e = sock__event(VIGIL_SOCK_CONNECT, BPF_CORE_READ(ctx, ret));
	if (!e)
		goto out;
	sock__addrs(sk, e);
	sockaddr__read(a->a1, e); /* the destination as asked, even if the connect failed */
	ringbuf__submit(&network_events, e);
out:
	args__drop();
	return 0;
}

static __always_inline int accept__exit(long ret)
{
	struct vigil_sock *e;
	struct sock *sk;

	if (ret < 0)
		return 0;
	sk = inet_sock__from_fd(ret);
	if (!sk)
		return 0;
	owner__remember(sk);
	e = sock__event(VIGIL_SOCK_ACCEPT, 0);
	if (!e)
		return 0;
	sock__addrs(sk, e);
	ringbuf__submit(&network_events, e);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
	return accept__exit(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_exit_accept")
int accept_exit(struct trace_event_raw_sys_exit *ctx)
{
	return accept__exit(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_enter_listen")
int listen_enter(struct trace_event_raw_sys_enter *ctx)
{
	args__stash(ctx);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_listen")
int listen_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct net_args *a = args__take();
	struct vigil_sock *e;
	struct sock *sk;

	if (!a)
		return 0;
	sk = inet_sock__from_fd(a->a0);
	if (!sk)
		goto out;
	e = sock__event(VIGIL_SOCK_LISTEN, BPF_CORE_READ(ctx, ret));
	if (!e)
		goto out;
	sock__addrs(sk, e);
	ringbuf__submit(&network_events, e);
out:
	args__drop();
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int sendto_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct vigil_sock *e;
	struct udp_key key = {};
	struct vigil_sock probe = {};
	struct sock *sk;
	__u64 uaddr = BPF_CORE_READ(ctx, args[4]);
	__u8 one = 1;

	if (!uaddr)
		return 0; /* connected socket: its connect was reported */
	sk = sock__from_fd(BPF_CORE_READ(ctx, args[0]));
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_UDP)
		return 0;
	sockaddr__read(uaddr, &probe);
	if (probe.family != AF_INET && probe.family != AF_INET6)
		return 0;
	key.tgid = bpf_get_current_pid_tgid() >> 32;
	key.family = probe.family;
	key.port = probe.rport;
	__builtin_memcpy(key.addr, probe.raddr, sizeof(key.addr));
	if (!raw_events && bpf_map_lookup_elem(&udp_seen, &key)) {
		stats__inc(VIGIL_STAT_NET_UDP_DEDUP);
		return 0;
	}
	bpf_map_update_elem(&udp_seen, &key, &one, BPF_ANY);
	e = sock__event(VIGIL_SOCK_UDP_SEND, 0);
	if (!e)
		return 0;
	sock__addrs(sk, e);
	e->family = probe.family;
	e->rport = probe.rport;
	__builtin_memcpy(e->raddr, probe.raddr, sizeof(e->raddr));
	ringbuf__submit(&network_events, e);
	return 0;
}

/* Closes and asynchronous connect failures, attributed to the socket's owner. */
static __always_inline int state__change(struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct sock_owner *o;
	struct vigil_sock *e;
	__u32 op;

	if (newstate != TCP_CLOSE)
		return 0;
	if (oldstate == TCP_SYN_SENT)
		op = VIGIL_SOCK_CONNECT_FAILED;
	else if (oldstate != TCP_CLOSE)
		op = VIGIL_SOCK_CLOSE;
	else
		return 0;
	o = bpf_map_lookup_elem(&owners, &key);
	if (!o)
		return 0; /* only sockets a process connected or accepted */
	e = ringbuf__reserve(&network_events, sizeof(*e));
	if (!e)
		goto out;
	hdr__fill(&e->hdr, VIGIL_EV_SOCK, sizeof(*e));
	/* Softirq context: current is whoever ran; the owner is who matters. */
	e->hdr.pid = o->pid;
	e->hdr.tid = o->tid;
	e->hdr.ppid = o->ppid;
	e->hdr.uid = o->uid;
	e->hdr.euid = o->euid;
	e->hdr.cgroup_id = o->cgroup_id;
	__builtin_memcpy(e->hdr.comm, o->comm, sizeof(e->hdr.comm));
	e->op = op;
	e->ret = 0;
	sock__addrs(sk, e);
	e->bytes_sent = BPF_CORE_READ((struct tcp_sock *)sk, bytes_acked);
	e->bytes_received = BPF_CORE_READ((struct tcp_sock *)sk, bytes_received);
	ringbuf__submit(&network_events, e);
out:
	bpf_map_delete_elem(&owners, &key);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(state_btf, const struct sock *sk, const int oldstate, const int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	return state__change((struct sock *)sk, oldstate, newstate);
}

SEC("tracepoint/sock/inet_sock_set_state")
int state_tp(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP)
		return 0;
	return state__change((struct sock *)BPF_CORE_READ(ctx, skaddr),
			     BPF_CORE_READ(ctx, oldstate), BPF_CORE_READ(ctx, newstate));
}
