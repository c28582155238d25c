// vigil-agent: parses configuration and wires the Agent together.
#include <fmt/format.h>
#include <sys/utsname.h>

#include <cstdio>
#include <exception>

#include "vigil/agent/agent.h"
#include "vigil/agent/rules.h"
#include "vigil/log.h"

int main(int argc, char** argv) {
  using namespace vigil::agent;
  auto parsed = parse_args(argc, argv);
  if (parsed.exit_now) {
    return parsed.exit_code;
  }
  const auto& cfg = parsed.config;
  vigil::log::init(cfg.log_level, cfg.log_format);
  if (cfg.check_rules) {
    // No kernel, no root: a rule author's check.
    RulePackOptions options;
    options.builtin = cfg.builtin_rules;
    options.dirs.assign(cfg.rules.begin(), cfg.rules.end());
    options.disabled = cfg.disabled_rules;
    vigil::agent::sigma::LoadReport report;
    const auto pack = RulePack::load(options, report);
    std::fputs(format_load_report(report).c_str(), stdout);
    const bool ok = report.files_failed == 0 && report.rules_failed == 0;
    std::fputs(ok ? "result: every rule file parsed and every rule loaded\n"
                  : "result: FAILED (see the lines marked FAILED)\n",
               stdout);
    return ok ? kExitOk : kExitFailure;
  }
  try {
    Agent agent(cfg);
    if (auto loaded = agent.load_probes(); !loaded) {
      std::fprintf(stderr, "vigil-agent: %s\n", loaded.error().message.c_str());
      return kExitEnvironment;
    }
    std::string why;
    const bool ok = agent.all_requested_ok(why);
    if (cfg.check) {
      utsname u{};
      uname(&u);
      std::fputs(fmt::format("vigil-agent {} probe check on {} (kernel {})\n", kVersion,
                             agent.host(), u.release)
                     .c_str(),
                 stdout);
      std::fputs(format_status_table(agent.status()).c_str(), stdout);
      if (ok) {
        std::fputs("result: every requested probe attached\n", stdout);
        return kExitOk;
      }
      std::fprintf(stdout, "result: FAILED\n%s", why.c_str());
      return kExitFailure;
    }
    if (!ok) {
      VLOG_WARN("running degraded:\n{}", why);
    }
    if (auto started = agent.start(); !started) {
      std::fprintf(stderr, "vigil-agent: %s\n", started.error().message.c_str());
      return kExitFailure;
    }
    return agent.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil-agent: fatal: %s\n", e.what());
    return kExitFailure;
  }
}
