// The limits table is complete and enforced: every string and repeated field
// reachable from Hello, Health, Event and BehaviourReport has a row (vigil/wire_limits.h), and
// one over its row's limit is refused by the collector's checks. Walks the
// proto descriptors, so a field added later without a row fails here.
#include "vigil/wire_limits.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <set>

#include "vigil/clock.h"
#include "vigil/collector/validate.h"

namespace vigil::collector {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// Applies `mutate` to the field `path` leads to (message fields on the way
// are created; repeated ones get one element).
void at_path(Message& m, const std::vector<const FieldDescriptor*>& path, std::size_t i,
             const std::function<void(Message&, const FieldDescriptor*)>& mutate) {
  const auto* f = path[i];
  if (i + 1 == path.size()) {
    mutate(m, f);
    return;
  }
  const auto* r = m.GetReflection();
  Message* sub = f->is_repeated() ? r->AddMessage(&m, f) : r->MutableMessage(&m, f);
  at_path(*sub, path, i + 1, mutate);
}

struct Case {
  std::string name;
  std::function<void(Message&)> break_it;
};

// Every string/repeated field under `desc`, with a mutation that exceeds its row.
void collect(const google::protobuf::Descriptor* desc, std::vector<const FieldDescriptor*> path,
             std::vector<Case>& out, std::vector<std::string>& missing) {
  for (int i = 0; i < desc->field_count(); ++i) {
    const auto* f = desc->field(i);
    auto here = path;
    here.push_back(f);
    const bool message = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (f->is_repeated() || f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      const auto* row = wire::find_limit(f->full_name());
      if (row == nullptr) {
        missing.push_back(std::string(f->full_name()));
      } else if (f->is_repeated()) {
        out.push_back({std::string(f->full_name()) + " count", [here, row](Message& m) {
                         at_path(m, here, 0, [&](Message& leaf, const FieldDescriptor* fd) {
                           const auto* r = leaf.GetReflection();
                           for (std::uint32_t k = 0; k <= row->max; ++k) {
                             switch (fd->cpp_type()) {
                               case FieldDescriptor::CPPTYPE_STRING:
                                 r->AddString(&leaf, fd, "");
                                 break;
                               case FieldDescriptor::CPPTYPE_UINT32:
                                 r->AddUInt32(&leaf, fd, 1);
                                 break;
                               case FieldDescriptor::CPPTYPE_UINT64:
                                 r->AddUInt64(&leaf, fd, 1);
                                 break;
                               case FieldDescriptor::CPPTYPE_FLOAT:
                                 r->AddFloat(&leaf, fd, 1);
                                 break;
                               case FieldDescriptor::CPPTYPE_MESSAGE:
                                 r->AddMessage(&leaf, fd);
                                 break;
                               default:
                                 FAIL() << "no filler for " << fd->full_name();
                             }
                           }
                         });
                       }});
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
          out.push_back({std::string(f->full_name()) + " element", [here, row](Message& m) {
                           at_path(m, here, 0, [&](Message& leaf, const FieldDescriptor* fd) {
                             leaf.GetReflection()->AddString(&leaf, fd,
                                                             std::string(row->item_bytes + 1, 'a'));
                           });
                         }});
        }
      } else {
        out.push_back({std::string(f->full_name()), [here, row](Message& m) {
                         at_path(m, here, 0, [&](Message& leaf, const FieldDescriptor* fd) {
                           leaf.GetReflection()->SetString(&leaf, fd,
                                                           std::string(row->max + 1, 'a'));
                         });
                       }});
      }
    }
    if (message) {
      collect(f->message_type(), here, out, missing);
    }
  }
}

template <class M>
void expect_complete_and_enforced(const M& valid, const std::function<bool(const M&)>& refused,
                                  std::size_t min_cases = 6) {
  ASSERT_FALSE(refused(valid)) << "the base message must pass";
  std::vector<Case> cases;
  std::vector<std::string> missing;
  collect(M::descriptor(), {}, cases, missing);
  EXPECT_TRUE(missing.empty()) << "fields without a row in vigil::wire::kFieldLimits: "
                               << ::testing::PrintToString(missing);
  EXPECT_GE(cases.size(), min_cases);
  for (const auto& c : cases) {
    M m = valid;
    c.break_it(m);
    EXPECT_TRUE(refused(m)) << c.name << " over its limit was not refused";
  }
}

TEST(WireLimits, EveryHelloFieldHasARowAndIsEnforced) {
  v1::Hello h;
  h.set_agent_id("a");
  h.set_host_id("h");
  expect_complete_and_enforced<v1::Hello>(
      h, [](const v1::Hello& m) { return check_hello(m).has_value(); });
}

TEST(WireLimits, EveryHealthFieldHasARowAndIsEnforced) {
  expect_complete_and_enforced<v1::Health>(
      v1::Health{}, [](const v1::Health& m) { return check_health(m).has_value(); });
}

TEST(WireLimits, EveryEventFieldHasARowAndIsEnforced) {
  v1::Event e;
  e.set_seq(1);
  e.set_type("exec");
  e.set_ts_ns(unix_now_ns());
  expect_complete_and_enforced<v1::Event>(
      e, [](const v1::Event& m) { return check_event(m).has_value(); });
}

TEST(WireLimits, EveryBehaviourReportFieldHasARowAndIsEnforced) {
  v1::BehaviourReport r;
  r.add_keys(1);
  expect_complete_and_enforced<v1::BehaviourReport>(
      r, [](const v1::BehaviourReport& m) { return check_behaviours(m).has_value(); }, 1);
}

TEST(WireLimits, HealthRefusesNonFiniteCpuAndAWholeEventOverItsSize) {
  v1::Health h;
  h.set_cpu_percent(std::numeric_limits<double>::quiet_NaN());
  ASSERT_TRUE(check_health(h));
  EXPECT_EQ(check_health(h)->reason, Reason::kBadHealth);
  v1::Event e;
  e.set_seq(9);
  e.set_type("exec");
  e.set_ts_ns(unix_now_ns());
  for (int i = 0; i < 20; ++i) e.mutable_exec()->add_args(std::string(4000, 'a'));
  const auto bad = check_event(e);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->reason, Reason::kTooLarge);
  EXPECT_NE(bad->detail.find("event seq 9"), std::string::npos) << bad->detail;
}

// One level vocabulary (docs/api.md, "Levels"): what the agent's awareness
// names, nothing else; ANSI escapes or HTML in `level` never reach a store.
TEST(WireLimits, HealthLevelIsOneVocabulary) {
  v1::Health h;
  for (const char* ok : {"", "calm", "attentive", "alert", "critical"}) {
    h.set_level(ok);
    EXPECT_FALSE(check_health(h)) << ok;
  }
  for (const char* bad : {"alarm", "CALM", "high", "calm\x1b[31m", "<b>critical</b>"}) {
    h.set_level(bad);
    const auto refused = check_health(h);
    ASSERT_TRUE(refused) << bad;
    EXPECT_EQ(refused->reason, Reason::kBadHealth);
  }
}

// Workload names are report keys, vigilctl columns and web view cells: a
// control character in any of them refuses the event (bad_text).
TEST(WireLimits, ContainerFieldsRefuseControlCharacters) {
  v1::Event e;
  e.set_seq(3);
  e.set_type("exec");
  e.set_ts_ns(unix_now_ns());
  auto* c = e.mutable_container();
  c->set_id(std::string(64, 'a'));
  c->set_image("nginx:1.25");
  c->set_pod("api-7f9c");
  c->set_k8s_ns("payments");
  auto* l = c->add_labels();
  l->set_key("app");
  l->set_value("caf\xc3\xa9");  // UTF-8 is fine
  ASSERT_FALSE(check_event(e));
  for (auto* set : {+[](v1::Container& x) { x.set_image("nginx\x1b[2J"); },
                    +[](v1::Container& x) { x.set_pod("api\n"); },
                    +[](v1::Container& x) { x.set_k8s_ns("pay\rments"); },
                    +[](v1::Container& x) { x.set_name(std::string("a\0b", 3)); },
                    +[](v1::Container& x) { x.set_id("a\x7f"); },
                    +[](v1::Container& x) { x.mutable_labels(0)->set_value("x\ty"); }}) {
    auto bad = e;
    set(*bad.mutable_container());
    const auto refused = check_event(bad);
    ASSERT_TRUE(refused) << bad.container().DebugString();
    EXPECT_EQ(refused->reason, Reason::kBadText);
    EXPECT_EQ(reason_code(refused->reason), "bad_text");
  }
}

TEST(WireLimits, IdsCannotCollideWhenComposed) {
  EXPECT_TRUE(valid_id("agent-1.example_x"));
  EXPECT_FALSE(valid_id("a:b"));  // ':' separates the parts of composite ids
  EXPECT_TRUE(valid_alert_ref(std::string(128, 'a') + ":" + std::string(128, 'b')));  // 257 chars
  EXPECT_TRUE(valid_alert_ref("fleet-18f2a-3"));
  EXPECT_FALSE(valid_alert_ref("a:b:c"));
  EXPECT_FALSE(valid_alert_ref(":b"));
  v1::Hello h;
  h.set_agent_id("a:b");
  h.set_host_id("h");
  ASSERT_TRUE(check_hello(h));
  EXPECT_EQ(check_hello(h)->reason, Reason::kBadHello);
}

TEST(WireLimits, EveryReasonHasADistinctCode) {
  std::set<std::string_view> codes;
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    const auto code = reason_code(static_cast<Reason>(i));
    EXPECT_NE(code, "?");
    EXPECT_TRUE(codes.insert(code).second) << code;
  }
}

}  // namespace
}  // namespace vigil::collector
