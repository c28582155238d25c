#include <gtest/gtest.h>
#include <netinet/in.h>

#include "util/test_util.h"
#include "vigil/agent/network_probe.h"

namespace vigil::agent {
namespace {

TEST(BlockEntry, ParsesAddressesAndExpiry) {
  auto v4 = parse_block_entry("10.200.1.2");
  ASSERT_OK(v4);
  EXPECT_EQ(v4->family, AF_INET);
  EXPECT_EQ(v4->addr[0], 10);
  EXPECT_EQ(v4->ttl_s, 0U);
  auto v6 = parse_block_entry("2001:db8::1/300");
  ASSERT_OK(v6);
  EXPECT_EQ(v6->family, AF_INET6);
  EXPECT_EQ(v6->ttl_s, 300U);
  EXPECT_FALSE(parse_block_entry("10.0.0"));
  EXPECT_FALSE(parse_block_entry("10.0.0.1/0"));
  EXPECT_FALSE(parse_block_entry("10.0.0.1/abc"));
  EXPECT_FALSE(parse_block_entry(""));
}

TEST(XdpIfaces, NamedInterfacesAreKeptAllExpandsWithoutLoopback) {
  EXPECT_EQ(resolve_xdp_ifaces({"vgl-n0"}), std::vector<std::string>{"vgl-n0"});
  for (const auto& i : resolve_xdp_ifaces({"all"})) {
    EXPECT_NE(i, "lo");
  }
}

}  // namespace
}  // namespace vigil::agent
