#include "vigil/collector/tokens.h"

#include <gtest/gtest.h>

#include <fstream>

#include "util/test_util.h"
#include "vigil/collector/ingest.h"

namespace vigil::collector {
namespace {

TEST(Tokens, RolesFromTheFileAndConstantTimeChecks) {
  auto store = TokenStore::parse(
      "# vigil API tokens\n"
      "viewer   view-0123456789abcdef\n"
      "operator oper-0123456789abcdef  # on-call\n"
      "bare-token-0123456789\n");
  ASSERT_OK(store);
  EXPECT_EQ(store->size(), 3U);
  EXPECT_EQ(store->check("view-0123456789abcdef"), Role::kViewer);
  EXPECT_EQ(store->check("oper-0123456789abcdef"), Role::kOperator);
  EXPECT_EQ(store->check("bare-token-0123456789"), Role::kViewer);
  EXPECT_EQ(store->check("view-0123456789abcde"), std::nullopt);  // a prefix is not the token
  EXPECT_EQ(store->check("view-0123456789abcdefX"), std::nullopt);
  EXPECT_EQ(store->check(""), std::nullopt);
  EXPECT_EQ(store->check_bearer("Bearer oper-0123456789abcdef"), Role::kOperator);
  EXPECT_EQ(store->check_bearer("Basic oper-0123456789abcdef"), std::nullopt);
  EXPECT_EQ(store->check_bearer("Bearer "), std::nullopt);
  EXPECT_EQ(store->check_bearer(""), std::nullopt);
}

TEST(Tokens, BadFilesAreClearErrors) {
  auto short_token = TokenStore::parse("viewer short\n");
  ASSERT_FALSE(short_token);
  EXPECT_NE(short_token.error().message.find("line 1: token shorter than 16"), std::string::npos);
  auto bad_role = TokenStore::parse("\nadmin 0123456789abcdef0123\n");
  ASSERT_FALSE(bad_role);
  EXPECT_NE(bad_role.error().message.find("line 2"), std::string::npos);
  EXPECT_FALSE(TokenStore::parse("# only a comment\n"));
  auto missing = TokenStore::load("/nonexistent/tokens");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/tokens"), std::string::npos);

  test::TempDir dir;
  {
    std::ofstream out(dir.path() / "tokens");
    out << "operator 0123456789abcdef0123\n";
  }
  auto loaded = TokenStore::load(dir.path() / "tokens");
  ASSERT_OK(loaded);
  EXPECT_EQ(loaded->check("0123456789abcdef0123"), Role::kOperator);
}

v1::Hello hello(const std::string& agent, const std::string& host) {
  v1::Hello h;
  h.set_agent_id(agent);
  h.set_host_id(host);
  return h;
}

TEST(Identity, TheCertificateNameIsTheAgentAndTheHost) {
  EXPECT_TRUE(Ingest::check_identity("web-1", hello("web-1", "web-1")));
  auto other_host = Ingest::check_identity("web-1", hello("web-1", "db-1"));
  ASSERT_FALSE(other_host);
  EXPECT_EQ(other_host.error().code, ErrorCode::kPermission);
  EXPECT_NE(other_host.error().message.find("may not speak for agent 'web-1' on host 'db-1'"),
            std::string::npos);
  EXPECT_FALSE(Ingest::check_identity("web-1", hello("db-1", "web-1")));
  EXPECT_FALSE(Ingest::check_identity("web-1", hello("web-10", "web-10")));
  auto anonymous = Ingest::check_identity("", hello("web-1", "web-1"));
  ASSERT_FALSE(anonymous);
  EXPECT_NE(anonymous.error().message.find("no verified client certificate"), std::string::npos);
}

}  // namespace
}  // namespace vigil::collector
