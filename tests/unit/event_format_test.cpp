#include "vigil/event_format.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

Event exec_event() {
  Event e;
  e.type = EventType::kExec;
  e.ts_ns = 1700000000000000000ULL;
  e.host = "h1";
  e.pid = 6864;
  e.ppid = 6800;
  e.uid = 1000;
  e.euid = 1000;
  e.comm = "bash";
  e.exe = "/usr/bin/nc";
  e.args = {"nc", "-l", "4444"};
  e.data = ExecData{.filename = "/usr/bin/nc", .argc = 3};
  return e;
}

TEST(EventFormat, JsonHasStableFieldNames) {
  std::string out;
  append_json(exec_event(), out);
  for (const char* field :
       {"\"ts\":1700000000000000000", "\"host\":\"h1\"", "\"type\":\"exec\"", "\"pid\":6864",
        "\"ppid\":6800", "\"uid\":1000", "\"euid\":1000", "\"comm\":\"bash\"",
        "\"exe\":\"/usr/bin/nc\"", "\"args\":[\"nc\",\"-l\",\"4444\"]", "\"argc\":3",
        "\"setuid\":false"}) {
    EXPECT_NE(out.find(field), std::string::npos) << field << " missing in " << out;
  }
  EXPECT_EQ(out.front(), '{');
  EXPECT_EQ(out.back(), '}');
}

TEST(EventFormat, EscapesControlQuotesAndInvalidUtf8) {
  std::string out;
  append_json_string("a\"b\\c\n\x01\xff\xc3\xa9", out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\xEF\xBF\xBD\xC3\xA9\"");
}

TEST(EventFormat, RejectsOverlongAndSurrogateUtf8) {
  std::string out;
  append_json_string("\xc0\xaf\xed\xa0\x80", out);  // overlong '/', then a surrogate
  EXPECT_EQ(out.find("\xc0"), std::string::npos);
  EXPECT_EQ(out.find("\xed\xa0"), std::string::npos);
}

TEST(EventFormat, TextLineIsShortAndHuman) {
  std::string out;
  append_text(exec_event(), out);
  EXPECT_EQ(out, "exec pid=6864 ppid=6800 uid=1000 comm=bash exe=/usr/bin/nc args=\"nc -l 4444\"");
}

TEST(EventFormat, ExitAndKillFields) {
  Event e = exec_event();
  e.type = EventType::kExit;
  e.data = ExitData{.exit_code = 42, .signal = 0, .core_dumped = false, .lifetime_ns = 7};
  std::string out;
  append_json(e, out);
  EXPECT_NE(out.find("\"exit_code\":42"), std::string::npos);
  EXPECT_NE(out.find("\"lifetime_ns\":7"), std::string::npos);

  e.type = EventType::kKill;
  e.data = KillData{.target_pid = 5, .target_uid = UINT32_MAX, .signal = 9};
  out.clear();
  append_json(e, out);
  EXPECT_NE(out.find("\"signal_name\":\"SIGKILL\""), std::string::npos);
  EXPECT_EQ(out.find("target_uid"), std::string::npos) << "unknown uid must be omitted";
}

TEST(EventType, NamesRoundTrip) {
  for (auto t : {EventType::kExec, EventType::kFork, EventType::kExit, EventType::kSetuid,
                 EventType::kSetgid, EventType::kCapset, EventType::kPtrace, EventType::kKill}) {
    EXPECT_EQ(event_type_from_string(to_string(t)), t);
  }
  EXPECT_FALSE(event_type_from_string("nope"));
}

}  // namespace
}  // namespace vigil
