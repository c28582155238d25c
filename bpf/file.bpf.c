// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * vigil file probe family: changes to watched locations (writes, creates,
 * renames, unlinks, chmod, truncation) and reads of credential stores.
 *
 * Filtering happens in the kernel, two ways:
 *  - opens and fd-based calls: after the call, the file's dentry chain is
 *    walked upward (bounded) and each ancestor's inode is looked up in
 *    `watched` (filled by the agent by stat()ing the configured locations).
 *    This is immune to relative paths, dirfds and symlinks.
 *  - path-based calls (rename, link, symlink, unlink, chmod, truncate):
 *    absolute paths are matched against `watch_prefix` (LPM trie on path
 *    bytes); relative ones by walking the base directory (cwd or dirfd)
 *    against `watched`. Each side of a rename/link has its own base. A path
 *    the string match cannot decide ("..", "//", "/./", or a relative path
 *    descending from an ancestor of a watched place) is reported unfiltered.
 * Sensitive basenames (authorized_keys, shell rc files, private keys) are
 * matched wherever they live, for opens; watched files also by directory
 * inode + name (`watch_child`), so a file replaced by rename stays watched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vigil/abi.h"
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AT_FDCWD -100
#define O_ACCMODE 03
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_PATH 010000000
#define S_ISUID 04000
#define S_ISGID 02000
#define MAX_DEPTH 16
#define NAME_KEY_LEN 32
#define AT_EMPTY_PATH 0x1000

/* File records for user space; size set by the agent before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} file_events SEC(".maps");

/* Watched directories and files by inode: VIGIL_WATCH_* flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct vigil_inode_key);
	__type(value, __u32);
} watched SEC(".maps");

/* Watched absolute path prefixes (for path-based calls): VIGIL_WATCH_* flags. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vigil_path_key);
	__type(value, __u32);
} watch_prefix SEC(".maps");

/* Sensitive file names wherever they are (e.g. authorized_keys): VIGIL_WATCH_* flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, char[NAME_KEY_LEN]);
	__type(value, __u32);
} watch_name SEC(".maps");

/* Watched files by directory inode + name (struct vigil_child_key): VIGIL_WATCH_* flags. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct vigil_child_key);
	__type(value, __u32);
} watch_child SEC(".maps");

/* One whole user path per CPU, for scanning it (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[VIGIL_PATH_LEN]);
} path_scratch SEC(".maps");

struct file_stash {
	__u32 op;
	__u32 flags;
	__u32 mode;
	__u32 base;
	__s32 fd;      /* fd-based calls */
	__u32 matched; /* path-based calls: decided at entry */
	__u64 path;    /* user pointers */
	__u64 new_path;
	__u64 base_dentry; /* relative path-based calls: the directory */
	__u64 new_base_dentry;
	__u32 new_base;
	__u32 fflags; /* VIGIL_FILE_F_* */
};

/* Syscall arguments between sys_enter and sys_exit, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct file_stash);
} fstash SEC(".maps");

/* ------------------------------------------------------------ helpers */

static __always_inline struct file *file__from_fd(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file **fds;
	struct file *f = NULL;
	unsigned int max;

	if (fd < 0)
		return NULL;
	max = BPF_CORE_READ(task, files, fdt, max_fds);
	if ((unsigned int)fd >= max)
		return NULL;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline struct dentry *dentry__base(int dirfd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *f;

	if (dirfd == AT_FDCWD)
		return BPF_CORE_READ(task, fs, pwd.dentry);
	f = file__from_fd(dirfd);
	return f ? BPF_CORE_READ(f, f_path.dentry) : NULL;
}

/* OR of the watch flags of `d` and its ancestors (bounded walk).
 * VIGIL_WATCH_ANCESTOR counts only on `d` itself. */
static __always_inline __u32 dentry__watch_flags(struct dentry *d, bool leaf_only)
{
	struct vigil_inode_key key = {};
	__u32 flags = 0, *v;
	int i;

	stats__inc(VIGIL_STAT_FILE_WALKS);
	for (i = 0; i < MAX_DEPTH; i++) {
		struct dentry *parent;

		if (!d)
			break;
		key.ino = BPF_CORE_READ(d, d_inode, i_ino);
		key.dev = BPF_CORE_READ(d, d_sb, s_dev);
		v = bpf_map_lookup_elem(&watched, &key);
		if (v)
			flags |= i == 0 ? *v : (*v & ~VIGIL_WATCH_ANCESTOR);
		if (leaf_only)
			break;
		parent = BPF_CORE_READ(d, d_parent);
		if (parent == d)
			return flags; /* reached the root of this mount */
		d = parent;
	}
	if (i == MAX_DEPTH)
		stats__inc(VIGIL_STAT_FILE_DEPTH_CAP);
	return flags;
}

/*
 * The opened file's own flags: by inode (hard links to it included), by name
 * anywhere (watch_name), and by directory + name (watch_child). The last one
 * survives `mv new /etc/shadow`, which gives the name a new inode: that inode
 * is then added to `watched` (re-armed), so its hard links are covered too.
 */
static __always_inline __u32 leaf__watch_flags(struct dentry *d, __u32 *fflags)
{
	struct vigil_child_key ck = {};
	struct vigil_inode_key ik = {};
	__u32 flags = 0, inode_flags = 0, *v;

	ik.ino = BPF_CORE_READ(d, d_inode, i_ino);
	ik.dev = BPF_CORE_READ(d, d_sb, s_dev);
	v = bpf_map_lookup_elem(&watched, &ik);
	if (v)
		inode_flags = *v & ~VIGIL_WATCH_ANCESTOR;
	bpf_probe_read_kernel_str(ck.name, sizeof(ck.name), BPF_CORE_READ(d, d_name.name));
	v = bpf_map_lookup_elem(&watch_name, ck.name);
	if (v)
		flags |= *v;
	ck.parent_ino = BPF_CORE_READ(d, d_parent, d_inode, i_ino);
	ck.dev = ik.dev;
	v = bpf_map_lookup_elem(&watch_child, &ck);
	if (v) {
		__u32 child = *v;

		if (child & ~inode_flags) {
			__u32 rearmed = child | inode_flags;

			bpf_map_update_elem(&watched, &ik, &rearmed, BPF_ANY);
			*fflags |= VIGIL_FILE_F_REARMED;
		}
		flags |= child;
	}
	/*
	 * Only the inode matched, not the name: a hard link to a watched file,
	 * or a stale entry. Replacing a watched file (`mv new /etc/gshadow`, as
	 * useradd does) frees its old inode, and the next file created on that
	 * filesystem may get the number (useradd then userdel: /etc/group took
	 * /etc/gshadow's old inode, and `id` reading it was a "credential read").
	 * A file with a single name that is not the watched one is not a link
	 * to it. (Renaming a watched file away and reading it under the new
	 * name is missed too; the rename back is a write to the watched name.)
	 */
	if (inode_flags && !flags && BPF_CORE_READ(d, d_inode, __i_nlink) < 2)
		inode_flags = 0;
	return flags | inode_flags;
}

/* Records the names of `d` and its ancestors into comps, leaf first; returns
 * how many (VIGIL_FILE_COMPS + 1 when deeper than we keep). */
static __always_inline __u32 dentry__capture(struct dentry *d,
					     char comps[VIGIL_FILE_COMPS][VIGIL_FILE_COMP_LEN])
{
	__u32 n = 0;
	int i;

	for (i = 0; i < VIGIL_FILE_COMPS; i++) {
		struct dentry *parent;

		if (!d)
			return n;
		parent = BPF_CORE_READ(d, d_parent);
		if (parent == d)
			return n; /* the root itself adds no component */
		bpf_probe_read_kernel_str(comps[i], VIGIL_FILE_COMP_LEN,
					  BPF_CORE_READ(d, d_name.name));
		n = i + 1;
		d = parent;
	}
	if (d && BPF_CORE_READ(d, d_parent) != d)
		n = VIGIL_FILE_COMPS + 1; /* deeper than we keep */
	return n;
}

#define PATH_DOTDOT 1U /* a ".." component */
#define PATH_ODD 2U    /* a "." component or an empty one ("//") */
#define PATH_SLASH 4U  /* more than one component */

struct shape_scan {
	const char *buf;
	__u32 shape;
	__u32 len;  /* of the current component */
	__u32 dots; /* '.' in the current component */
};

static long path__shape_step(__u32 i, struct shape_scan *sc)
{
	char c;

	if (i >= VIGIL_PATH_LEN)
		return 1;
	c = sc->buf[i];
	if (c == '/' || c == 0) {
		if (sc->len == 2 && sc->dots == 2)
			sc->shape |= PATH_DOTDOT;
		else if ((sc->len == 1 && sc->dots == 1) || (c == '/' && i > 0 && sc->len == 0))
			sc->shape |= PATH_ODD;
		if (c == 0)
			return 1;
		if (i > 0)
			sc->shape |= PATH_SLASH;
		sc->len = 0;
		sc->dots = 0;
		return 0;
	}
	sc->len++;
	if (c == '.')
		sc->dots++;
	return 0;
}

/* The shape of a whole user path. bpf_loop (5.17, commit e6f2dd0f8067 "bpf:
 * Add bpf_loop helper"): the verifier checks the step once, where an unrolled
 * or bounded loop over 256 bytes multiplies its states past its limit. */
static __always_inline __u32 path__shape(const char *buf)
{
	struct shape_scan sc = {.buf = buf};

	bpf_loop(VIGIL_PATH_LEN, path__shape_step, &sc, 0);
	return sc.shape;
}

/*
 * Path-based calls: is this user path (relative to dirfd) watched? Sets the
 * base the path is to be resolved against. A path whose string cannot decide
 * it (see the file comment) gets VIGIL_WATCH_WRITE and VIGIL_FILE_F_NONCANONICAL.
 */
static __always_inline __u32 path__watch_flags(const char *upath, int dirfd, __u32 *base,
					       __u64 *base_dentry, __u32 *fflags)
{
	struct vigil_path_key key = {.prefixlen = VIGIL_PREFIX_LEN * 8};
	const __u32 unsure = VIGIL_WATCH_WRITE | VIGIL_WATCH_EXEC_BIT;
	struct dentry *base_d;
	__u32 zero = 0, shape, flags, *v;
	char *buf;

	buf = bpf_map_lookup_elem(&path_scratch, &zero);
	if (!buf)
		return 0;
	if (bpf_probe_read_user_str(buf, VIGIL_PATH_LEN, upath) < 0) {
		/* Not in memory yet (a page the syscall itself faults in; the
		 * exit reads it): undecidable here, so reported, with the base a
		 * relative path resolves against. Never a way around the watch. */
		base_d = dentry__base(dirfd);
		if (!base_d)
			return 0;
		*base = VIGIL_BASE_DIR;
		*base_dentry = (__u64)base_d;
		*fflags |= VIGIL_FILE_F_NONCANONICAL;
		return unsure;
	}
	shape = path__shape(buf);
	if (buf[0] == '/') {
		*base = VIGIL_BASE_ABSOLUTE;
		if (shape & (PATH_DOTDOT | PATH_ODD)) {
			*fflags |= VIGIL_FILE_F_NONCANONICAL;
			return unsure;
		}
		__builtin_memcpy(key.path, buf, sizeof(key.path));
		v = bpf_map_lookup_elem(&watch_prefix, &key);
		return v ? *v : 0;
	}
	base_d = dentry__base(dirfd);
	if (!base_d)
		return 0;
	*base = VIGIL_BASE_DIR;
	*base_dentry = (__u64)base_d;
	flags = dentry__watch_flags(base_d, false);
	if (flags & VIGIL_WATCH_WRITE)
		return flags;
	/* "../etc/x", or "etc/x" from "/": the base's own ancestors say nothing. */
	if ((shape & PATH_DOTDOT) || ((shape & PATH_SLASH) && (flags & VIGIL_WATCH_ANCESTOR))) {
		*fflags |= VIGIL_FILE_F_NONCANONICAL;
		return flags | unsure;
	}
	return flags;
}

/* s_dev of the superblock `d` is on (kernel dev_t); 0 for no dentry. */
static __always_inline __u32 dentry__dev(struct dentry *d)
{
	return d ? BPF_CORE_READ(d, d_sb, s_dev) : 0;
}

/* `dev` is the file's filesystem when known (the caller's dentry), else 0;
 * root_dev the writer's root: a container writing to the host's filesystem
 * through a mount shows dev != root_dev. */
static __always_inline struct vigil_file *event__start(struct file_stash *s, long ret, __u32 dev)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct vigil_file *e;

	if (filter__skip_current())
		return NULL;
	e = ringbuf__reserve(&file_events, sizeof(*e));
	if (!e)
		return NULL;
	hdr__fill(&e->hdr, VIGIL_EV_FILE, sizeof(*e));
	e->op = s->op;
	e->ret = ret < 0 ? ret : 0;
	e->flags = s->flags;
	e->mode = s->mode;
	e->base = s->base;
	e->ncomps = 0;
	e->new_base = s->new_base;
	e->new_ncomps = 0;
	e->fflags = s->fflags;
	e->dev = dev;
	e->root_dev = dentry__dev(BPF_CORE_READ(task, fs, root.dentry));
	e->_pad0 = 0;
	e->path[0] = 0;
	e->new_path[0] = 0;
	if (s->path)
		bpf_probe_read_user_str(e->path, sizeof(e->path), (void *)s->path);
	if (s->new_path)
		bpf_probe_read_user_str(e->new_path, sizeof(e->new_path), (void *)s->new_path);
	return e;
}

static __always_inline void stash__put(struct file_stash *s)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	bpf_map_update_elem(&fstash, &tid, s, BPF_ANY);
}

/* --------------------------------------------------------------- opens */

static __always_inline int open__enter(__u64 path, __u32 flags, __u32 mode)
{
	struct file_stash s = {.path = path, .flags = flags, .mode = mode, .base = VIGIL_BASE_FILE};

	s.op = (flags & O_CREAT)     ? VIGIL_FILE_CREATE
	       : (flags & O_TRUNC)   ? VIGIL_FILE_TRUNCATE
	       : (flags & O_ACCMODE) ? VIGIL_FILE_WRITE
				     : VIGIL_FILE_READ_SENSITIVE;
	stash__put(&s);
	return 0;
}

/* After an open: decide on the opened file itself, then report it. */
static __always_inline int open__exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file_stash *s = bpf_map_lookup_elem(&fstash, &tid);
	struct vigil_file *e;
	struct dentry *d;
	struct file *f;
	__u32 flags;

	if (!s)
		return 0;
	if (ret < 0)
		goto out; /* failed opens change nothing and read nothing */
	if (s->op == VIGIL_FILE_READ_SENSITIVE && (s->flags & O_PATH))
		goto out; /* an O_PATH descriptor cannot read */
	f = file__from_fd(ret);
	if (!f)
		goto out;
	d = BPF_CORE_READ(f, f_path.dentry);
	/* Read-only opens are the bulk of all opens: the file's own keys, no walk. */
	flags = leaf__watch_flags(d, &s->fflags);
	if (s->op == VIGIL_FILE_READ_SENSITIVE) {
		if (!(flags & VIGIL_WATCH_READ))
			goto out;
	} else {
		if (!(flags & VIGIL_WATCH_WRITE))
			flags |= dentry__watch_flags(BPF_CORE_READ(d, d_parent), false);
		if (!(flags & VIGIL_WATCH_WRITE))
			goto out;
	}
	e = event__start(s, ret, dentry__dev(d));
	if (!e)
		goto out;
	e->ncomps = dentry__capture(d, e->comps);
	ringbuf__submit(&file_events, e);
out:
	bpf_map_delete_elem(&fstash, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return open__enter(BPF_CORE_READ(ctx, args[1]), BPF_CORE_READ(ctx, args[2]),
			   BPF_CORE_READ(ctx, args[3]));
}

SEC("tracepoint/syscalls/sys_exit_openat")
int openat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open__exit(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int openat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)BPF_CORE_READ(ctx, args[2]));
	return open__enter(BPF_CORE_READ(ctx, args[1]), how.flags, how.mode);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open__exit(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_enter_open")
int open_enter(struct trace_event_raw_sys_enter *ctx)
{
	return open__enter(BPF_CORE_READ(ctx, args[0]), BPF_CORE_READ(ctx, args[1]),
			   BPF_CORE_READ(ctx, args[2]));
}

SEC("tracepoint/syscalls/sys_exit_open")
int open_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open__exit(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_enter_creat")
int creat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return open__enter(BPF_CORE_READ(ctx, args[0]), O_CREAT | O_TRUNC | 1,
			   BPF_CORE_READ(ctx, args[1]));
}

SEC("tracepoint/syscalls/sys_exit_creat")
int creat_exit(struct trace_event_raw_sys_exit *ctx)
{
	return open__exit(BPF_CORE_READ(ctx, ret));
}

/* ------------------------------------------------------ fd-based calls */

static __always_inline int fdop__enter(__u32 op, int fd, __u32 mode)
{
	struct file_stash s = {.op = op, .fd = fd, .mode = mode, .base = VIGIL_BASE_FILE};

	stash__put(&s);
	return 0;
}

static __always_inline int fdop__exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file_stash *s = bpf_map_lookup_elem(&fstash, &tid);
	struct vigil_file *e;
	struct dentry *d;
	struct file *f;
	__u32 flags;

	if (!s)
		return 0;
	f = file__from_fd(s->fd);
	if (!f)
		goto out;
	d = BPF_CORE_READ(f, f_path.dentry);
	flags = leaf__watch_flags(d, &s->fflags) |
		dentry__watch_flags(BPF_CORE_READ(d, d_parent), false);
	/* Set-uid/set-gid bits are worth a record anywhere; execute bits in
	 * writable drop zones (write -> chmod +x -> exec). */
	if (!(flags & VIGIL_WATCH_WRITE) &&
	    !(s->op == VIGIL_FILE_CHMOD && (s->mode & (S_ISUID | S_ISGID))) &&
	    !(s->op == VIGIL_FILE_CHMOD && (s->mode & 0111) && (flags & VIGIL_WATCH_EXEC_BIT)))
		goto out;
	e = event__start(s, ret, dentry__dev(d));
	if (!e)
		goto out;
	e->ncomps = dentry__capture(d, e->comps);
	ringbuf__submit(&file_events, e);
out:
	bpf_map_delete_elem(&fstash, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_fchmod")
int fchmod_enter(struct trace_event_raw_sys_enter *ctx)
{
	return fdop__enter(VIGIL_FILE_CHMOD, BPF_CORE_READ(ctx, args[0]),
			   BPF_CORE_READ(ctx, args[1]));
}

SEC("tracepoint/syscalls/sys_exit_fchmod")
int fchmod_exit(struct trace_event_raw_sys_exit *ctx)
{
	return fdop__exit(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int ftruncate_enter(struct trace_event_raw_sys_enter *ctx)
{
	return fdop__enter(VIGIL_FILE_TRUNCATE, BPF_CORE_READ(ctx, args[0]), 0);
}

SEC("tracepoint/syscalls/sys_exit_ftruncate")
int ftruncate_exit(struct trace_event_raw_sys_exit *ctx)
{
	return fdop__exit(BPF_CORE_READ(ctx, ret));
}

/* ---------------------------------------------------- path-based calls */

/* `new_path` is the second path of rename/link/symlink, relative to new_dirfd.
 * A symlink's target (`path`) is a string, not a location: kept verbatim. */
static __always_inline int pathop__enter(__u32 op, int dirfd, __u64 path, int new_dirfd,
					 __u64 new_path, __u32 flags, __u32 mode)
{
	struct file_stash s = {
	    .op = op, .path = path, .new_path = new_path, .flags = flags, .mode = mode};
	__u32 watch = 0;

	if (op == VIGIL_FILE_SYMLINK)
		s.base = VIGIL_BASE_VERBATIM;
	else if (op == VIGIL_FILE_LINK && (flags & AT_EMPTY_PATH) && path) {
		/* linkat(fd, "", ...): the file is the fd (e.g. an O_TMPFILE). */
		char c = 0;

		bpf_probe_read_user(&c, 1, (void *)path);
		if (!c) {
			struct file *f = file__from_fd(dirfd);
			struct dentry *d = f ? BPF_CORE_READ(f, f_path.dentry) : NULL;

			s.base = VIGIL_BASE_FILE;
			s.path = 0;
			s.base_dentry = (__u64)d;
			if (d)
				watch = leaf__watch_flags(d, &s.fflags) |
					dentry__watch_flags(BPF_CORE_READ(d, d_parent), false);
		} else {
			watch = path__watch_flags((const char *)path, dirfd, &s.base,
						  &s.base_dentry, &s.fflags);
		}
	} else
		watch = path__watch_flags((const char *)path, dirfd, &s.base, &s.base_dentry,
					  &s.fflags);
	/* A rename or link into a watched place counts too. */
	if (new_path)
		watch |= path__watch_flags((const char *)new_path, new_dirfd, &s.new_base,
					   &s.new_base_dentry, &s.fflags);
	if (op == VIGIL_FILE_CHMOD && (mode & (S_ISUID | S_ISGID)))
		watch |= VIGIL_WATCH_WRITE;
	if (op == VIGIL_FILE_CHMOD && (mode & 0111) && (watch & VIGIL_WATCH_EXEC_BIT))
		watch |= VIGIL_WATCH_WRITE;
	if (!(watch & VIGIL_WATCH_WRITE))
		return 0;
	s.matched = 1;
	stash__put(&s);
	return 0;
}

static __always_inline int pathop__exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct file_stash *s = bpf_map_lookup_elem(&fstash, &tid);
	struct vigil_file *e;
	struct dentry *base;

	if (!s)
		return 0;
	if (!s->matched)
		goto out;
	/* A relative path's base directory is on the file's filesystem (a
	 * symlink's is its new name's; rename and link cannot cross
	 * filesystems); an absolute path names no dentry here: dev 0. */
	base = (struct dentry *)(s->base_dentry ? s->base_dentry : s->new_base_dentry);
	e = event__start(s, ret, dentry__dev(base));
	if (!e)
		goto out;
	if (s->base == VIGIL_BASE_DIR || (s->base == VIGIL_BASE_FILE && s->base_dentry))
		e->ncomps = dentry__capture((struct dentry *)s->base_dentry, e->comps);
	if (s->new_base == VIGIL_BASE_DIR)
		e->new_ncomps = dentry__capture((struct dentry *)s->new_base_dentry, e->new_comps);
	ringbuf__submit(&file_events, e);
out:
	bpf_map_delete_elem(&fstash, &tid);
	return 0;
}

#define PATHOP_EXIT(name)                                                                          \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                                 \
	int name##_exit(struct trace_event_raw_sys_exit *ctx)                                      \
	{                                                                                          \
		return pathop__exit(BPF_CORE_READ(ctx, ret));                                      \
	}

SEC("tracepoint/syscalls/sys_enter_renameat2")
int renameat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_RENAME, BPF_CORE_READ(ctx, args[0]),
			     BPF_CORE_READ(ctx, args[1]), BPF_CORE_READ(ctx, args[2]),
			     BPF_CORE_READ(ctx, args[3]), BPF_CORE_READ(ctx, args[4]), 0);
}
PATHOP_EXIT(renameat2)

SEC("tracepoint/syscalls/sys_enter_renameat")
int renameat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_RENAME, BPF_CORE_READ(ctx, args[0]),
			     BPF_CORE_READ(ctx, args[1]), BPF_CORE_READ(ctx, args[2]),
			     BPF_CORE_READ(ctx, args[3]), 0, 0);
}
PATHOP_EXIT(renameat)

SEC("tracepoint/syscalls/sys_enter_rename")
int rename_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_RENAME, AT_FDCWD, BPF_CORE_READ(ctx, args[0]), AT_FDCWD,
			     BPF_CORE_READ(ctx, args[1]), 0, 0);
}
PATHOP_EXIT(rename)

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int unlinkat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_UNLINK, BPF_CORE_READ(ctx, args[0]),
			     BPF_CORE_READ(ctx, args[1]), 0, 0, BPF_CORE_READ(ctx, args[2]), 0);
}
PATHOP_EXIT(unlinkat)

SEC("tracepoint/syscalls/sys_enter_unlink")
int unlink_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_UNLINK, AT_FDCWD, BPF_CORE_READ(ctx, args[0]), 0, 0, 0, 0);
}
PATHOP_EXIT(unlink)

SEC("tracepoint/syscalls/sys_enter_fchmodat")
int fchmodat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_CHMOD, BPF_CORE_READ(ctx, args[0]),
			     BPF_CORE_READ(ctx, args[1]), 0, 0, 0, BPF_CORE_READ(ctx, args[2]));
}
PATHOP_EXIT(fchmodat)

SEC("tracepoint/syscalls/sys_enter_chmod")
int chmod_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_CHMOD, AT_FDCWD, BPF_CORE_READ(ctx, args[0]), 0, 0, 0,
			     BPF_CORE_READ(ctx, args[1]));
}
PATHOP_EXIT(chmod)

SEC("tracepoint/syscalls/sys_enter_truncate")
int truncate_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_TRUNCATE, AT_FDCWD, BPF_CORE_READ(ctx, args[0]), 0, 0, 0,
			     0);
}
PATHOP_EXIT(truncate)

SEC("tracepoint/syscalls/sys_enter_linkat")
int linkat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_LINK, BPF_CORE_READ(ctx, args[0]),
			     BPF_CORE_READ(ctx, args[1]), BPF_CORE_READ(ctx, args[2]),
			     BPF_CORE_READ(ctx, args[3]), BPF_CORE_READ(ctx, args[4]), 0);
}
PATHOP_EXIT(linkat)

SEC("tracepoint/syscalls/sys_enter_link")
int link_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_LINK, AT_FDCWD, BPF_CORE_READ(ctx, args[0]), AT_FDCWD,
			     BPF_CORE_READ(ctx, args[1]), 0, 0);
}
PATHOP_EXIT(link)

SEC("tracepoint/syscalls/sys_enter_symlinkat")
int symlinkat_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_SYMLINK, AT_FDCWD, BPF_CORE_READ(ctx, args[0]),
			     BPF_CORE_READ(ctx, args[1]), BPF_CORE_READ(ctx, args[2]), 0, 0);
}
PATHOP_EXIT(symlinkat)

SEC("tracepoint/syscalls/sys_enter_symlink")
int symlink_enter(struct trace_event_raw_sys_enter *ctx)
{
	return pathop__enter(VIGIL_FILE_SYMLINK, AT_FDCWD, BPF_CORE_READ(ctx, args[0]), AT_FDCWD,
			     BPF_CORE_READ(ctx, args[1]), 0, 0);
}
PATHOP_EXIT(symlink)
