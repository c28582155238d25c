// Enrollment end to end (issue 19): a real collector with TLS, an issuing CA
// from deploy/make-certs.sh --issuing-ca and an operator token; tokens made
// with vigilctl; real vigil-agent processes that enroll with --enroll, stream
// over mTLS, renew (certificates living seconds here), and are refused once
// revoked. Root: the agents load their probes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "util/proc.h"
#include "util/test_util.h"
#include "vigil/clock.h"

namespace {

using namespace std::chrono_literals;
using vigil::test::Proc;
using vigil::test::slurp;
using vigil::test::wait_until;
namespace fs = std::filesystem;

// The certificate's serial and notAfter (unix s), by the openssl command line.
struct Serial {
  std::string serial;
  std::int64_t not_after = 0;
};

class EnrollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_ROOT_OR_SKIP();
    Proc make(
        {"/bin/bash", VIGIL_SOURCE_DIR "/deploy/make-certs.sh", certs().string(), "--issuing-ca"},
        own_dir("make-certs"));
    ASSERT_EQ(make.wait(), 0) << make.err();
    std::ofstream(dir_.path() / "tokens") << "operator operator-token-0123456789\n"
                                          << "viewer viewer-token-0123456789\n";
    std::ofstream(dir_.path() / "operator.token") << "operator-token-0123456789\n";
    std::ofstream(dir_.path() / "viewer.token") << "viewer-token-0123456789\n";
    collector_ = std::make_unique<Proc>(
        std::vector<std::string>{
            VIGIL_COLLECTOR_BIN, "--listen", "127.0.0.1:0", "--data-dir",
            (dir_.path() / "data").string(), "--tls-cert", pem("collector.crt"), "--tls-key",
            pem("collector.key"), "--tls-ca", pem("ca.crt"), "--token-file",
            (dir_.path() / "tokens").string(), "--enroll-ca-cert", pem("issuing-ca.crt"),
            "--enroll-ca-key", pem("issuing-ca.key"), "--enroll-cert-lifetime-s", "12"},
        own_dir("collector"));
    const std::regex re("listening agents=(127\\.0\\.0\\.1:\\d+)");
    std::smatch m;
    ASSERT_TRUE(wait_until(
        [&] {
          const auto out = collector_->out();
          if (!std::regex_search(out, m, re)) return false;
          addr_ = m[1].str();
          return true;
        },
        10s))
        << collector_->err();
  }

  fs::path certs() const { return dir_.path() / "tls"; }
  std::string pem(const std::string& f) const { return (certs() / f).string(); }
  fs::path own_dir(const std::string& name) {
    fs::create_directories(dir_.path() / name);
    return dir_.path() / name;
  }

  // vigilctl over TLS with a token; the exit code, stdout and stderr.
  int ctl(std::vector<std::string> args, std::string* out, std::string* err = nullptr,
          const std::string& token = "operator.token") {
    std::vector<std::string> argv = {VIGILCTL_BIN, "--collector",  addr_,
                                     "--ca",       pem("ca.crt"),  "--timeout",
                                     "5",          "--token-file", (dir_.path() / token).string()};
    argv.insert(argv.end(), args.begin(), args.end());
    Proc p(argv, own_dir("ctl" + std::to_string(++ctl_runs_)));
    const int rc = p.wait();
    if (out != nullptr) *out = p.out();
    if (err != nullptr) *err = p.err();
    return rc;
  }

  std::unique_ptr<Proc> start_agent(const std::string& id, const fs::path& token_file) {
    return std::make_unique<Proc>(
        std::vector<std::string>{VIGIL_AGENT_BIN, "--host-id", id, "--collector", addr_,
                                 "--state-dir", (dir_.path() / ("state-" + id)).string(),
                                 "--stats-interval", "0", "--tls-ca", pem("ca.crt"), "--enroll",
                                 token_file.string()},
        own_dir("agent-" + id + "-" + std::to_string(++agent_runs_)));
  }

  // The agent's record in `vigilctl agents --json`, or null.
  nlohmann::json agent_record(const std::string& id) {
    std::string out;
    if (ctl({"--json", "agents"}, &out) != 0) return nullptr;
    const auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.contains("agents")) return nullptr;
    for (const auto& a : j["agents"]) {
      if (a.value("agent_id", "") == id) return a;
    }
    return nullptr;
  }
  bool connected(const std::string& id) {
    const auto a = agent_record(id);
    return !a.is_null() && a.value("connected", false);
  }

  Serial serial_of(const fs::path& cert) {
    Proc p({"/usr/bin/openssl", "x509", "-in", cert.string(), "-noout", "-serial", "-enddate",
            "-dateopt", "iso_8601"},
           own_dir("openssl" + std::to_string(++ctl_runs_)));
    if (p.wait() != 0) return {};
    const auto out = p.out();
    std::smatch m;
    Serial s;
    if (std::regex_search(out, m, std::regex("serial=([0-9A-F]+)"))) s.serial = m[1].str();
    if (std::regex_search(out, m,
                          std::regex("notAfter=(\\d+)-(\\d+)-(\\d+) (\\d+):(\\d+):(\\d+)"))) {
      std::tm tm{};
      tm.tm_year = std::stoi(m[1].str()) - 1900;
      tm.tm_mon = std::stoi(m[2].str()) - 1;
      tm.tm_mday = std::stoi(m[3].str());
      tm.tm_hour = std::stoi(m[4].str());
      tm.tm_min = std::stoi(m[5].str());
      tm.tm_sec = std::stoi(m[6].str());
      s.not_after = timegm(&tm);
    }
    return s;
  }

  vigil::test::TempDir dir_;
  std::unique_ptr<Proc> collector_;
  std::string addr_;
  int ctl_runs_ = 0;
  int agent_runs_ = 0;
};

std::string token_id_of(const std::string& out) {
  std::smatch m;
  return std::regex_search(out, m, std::regex("enroll token ([0-9a-f]+) written")) ? m[1].str()
                                                                                   : "";
}

TEST_F(EnrollTest, AnAgentEnrollsStreamsOverMtlsRenewsAndIsRefusedOnceRevoked) {
  // An operator makes a one-use token; only its id reaches the terminal.
  const auto token_file = dir_.path() / "enroll.token";
  std::string out;
  std::string err;
  ASSERT_EQ(ctl({"enroll", "create", "--uses", "1", "--ttl", "1h", "--note", "test fleet", "--out",
                 token_file.string()},
                &out, &err),
            0)
      << err;
  const auto token = slurp(token_file);
  ASSERT_NE(token.find("vigil-enroll."), std::string::npos) << token;
  EXPECT_EQ(out.find(token.substr(0, token.size() - 1)), std::string::npos) << out;
  const auto first_token_id = token_id_of(out);
  ASSERT_FALSE(first_token_id.empty()) << out;
  struct stat st {};
  ASSERT_EQ(stat(token_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  // A viewer may not make tokens.
  EXPECT_EQ(ctl({"enroll", "create", "--out", (dir_.path() / "v.token").string()}, &out, &err,
                "viewer.token"),
            1);
  EXPECT_NE(err.find("needs an operator token"), std::string::npos) << err;

  // The agent makes its key here, enrolls, and streams over mTLS under its id.
  auto agent = start_agent("enr-a", token_file);
  ASSERT_TRUE(wait_until(
      [&] {
        std::this_thread::sleep_for(200ms);
        return connected("enr-a");
      },
      60s))
      << agent->err() << collector_->err();
  const auto tls = dir_.path() / "state-enr-a" / "tls";
  ASSERT_EQ(stat((tls / "agent.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  const auto first = serial_of(tls / "agent.crt");
  ASSERT_FALSE(first.serial.empty());
  ASSERT_GT(first.not_after, 0);

  // The token is used up: a second agent with it is refused, saying so.
  auto second = start_agent("enr-b", token_file);
  ASSERT_EQ(second->wait_for(60s).value_or(-1), 1) << second->err();
  EXPECT_NE(second->err().find("is used up (1 of 1 uses"), std::string::npos) << second->err();

  // A revoked token is refused too.
  const auto revoked_file = dir_.path() / "revoked.token";
  ASSERT_EQ(ctl({"enroll", "create", "--uses", "5", "--out", revoked_file.string()}, &out, &err), 0)
      << err;
  const auto revoked_id = token_id_of(out);
  ASSERT_EQ(ctl({"enroll", "revoke", revoked_id}, &out, &err), 0) << err;
  auto third = start_agent("enr-c", revoked_file);
  ASSERT_EQ(third->wait_for(60s).value_or(-1), 1) << third->err();
  EXPECT_NE(third->err().find("enroll token " + revoked_id + " is revoked"), std::string::npos)
      << third->err();

  // Renewal at 2/3 of a 12 s validity: new certificates, and the agent is
  // still streaming after the first one expired (each renewal reconnects).
  std::set<std::string> serials{first.serial};
  ASSERT_TRUE(wait_until(
      [&] {
        std::this_thread::sleep_for(200ms);
        serials.insert(serial_of(tls / "agent.crt").serial);
        return serials.size() >= 3 && vigil::unix_now_ns() / 1'000'000'000 >
                                          static_cast<std::uint64_t>(first.not_after) + 1;
      },
      60s))
      << agent->err();
  EXPECT_NE(agent->err().find("renewed the client certificate"), std::string::npos) << agent->err();
  std::uint64_t stored_before = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        std::this_thread::sleep_for(200ms);
        const auto a = agent_record("enr-a");
        if (a.is_null() || !a.value("connected", false)) return false;
        stored_before = std::stoull(a.value("events_stored", std::string("0")));
        return true;
      },
      30s))
      << agent->err();
  // Events keep arriving over the renewed certificate (vigilctl's own execs).
  ASSERT_TRUE(wait_until(
      [&] {
        std::this_thread::sleep_for(300ms);
        const auto a = agent_record("enr-a");
        return !a.is_null() && a.value("connected", false) &&
               std::stoull(a.value("events_stored", std::string("0"))) > stored_before;
      },
      30s))
      << agent->err();

  // The token list shows the spent and the revoked token, never a token.
  ASSERT_EQ(ctl({"enroll", "list"}, &out, &err), 0) << err;
  EXPECT_NE(out.find(first_token_id), std::string::npos) << out;
  EXPECT_NE(out.find("used up"), std::string::npos) << out;
  EXPECT_NE(out.find("revoked"), std::string::npos) << out;
  EXPECT_NE(out.find("enr-a"), std::string::npos) << out;
  EXPECT_EQ(out.find("vigil-enroll."), std::string::npos) << out;

  // Revoked: the stream ends now, and reconnects and renewals are refused.
  ASSERT_EQ(ctl({"enroll", "revoke-agent", "enr-a", "--reason", "decommissioned"}, &out, &err), 0)
      << err;
  EXPECT_NE(out.find("agent enr-a revoked; its stream was ended"), std::string::npos) << out;
  ASSERT_TRUE(wait_until(
      [&] {
        std::this_thread::sleep_for(200ms);
        return !connected("enr-a") &&
               agent->err().find("collector refused: agent enr-a is revoked") != std::string::npos;
      },
      30s))
      << agent->err();
  std::this_thread::sleep_for(5s);  // retries and a renewal attempt happen meanwhile
  EXPECT_FALSE(connected("enr-a"));
  ASSERT_EQ(ctl({"--json", "enroll", "list"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("decommissioned"), std::string::npos) << out;

  // Nor may it enroll again with a fresh token.
  const auto fresh = dir_.path() / "fresh.token";
  ASSERT_EQ(ctl({"enroll", "create", "--out", fresh.string()}, &out, &err), 0) << err;
  fs::remove_all(tls);
  agent.reset();
  auto again = start_agent("enr-a", fresh);
  ASSERT_EQ(again->wait_for(60s).value_or(-1), 1) << again->err();
  EXPECT_NE(again->err().find("agent enr-a is revoked"), std::string::npos) << again->err();
}

}  // namespace
