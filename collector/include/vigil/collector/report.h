// The fleet report: per-host level and risk, top alerts, top entities, trends
// and agents' health over a window. Totals, trends, per-host counts and top
// entities come from the per-host per-minute rollups kept at ingest, never
// from raw events, so a report costs hosts x minutes whatever the event rate.
// The window is whole minutes: the current one and those before it.
// Top alerts and fleet alerts come from a bounded scan of the alerts (which
// are deduplicated, so few); a report says (complete = false, approximations)
// when any part is not exact.
#pragma once

#include "vigil/collector/store.h"
#include "vigil/result.h"
#include "vigil/v1/query.pb.h"

namespace vigil::collector {

inline constexpr std::uint64_t kDefaultReportWindowS = 3600;
inline constexpr std::uint32_t kReportBuckets = 12;            // at most; a bucket is whole minutes
inline constexpr std::uint64_t kReportMaxAlertScan = 100'000;  // alerts read per report
// Host-minutes read per report (~8k hosts x 2 h; ~4 s of CPU, docs/PERFORMANCE.md).
inline constexpr std::uint64_t kReportMaxRollups = 1'000'000;
// Distinct keys a fleet-wide top list gathers before it stops adding new ones.
inline constexpr std::size_t kReportMaxEntities = 200'000;
inline constexpr std::uint32_t kDefaultReportPageSize = 500;
inline constexpr std::uint32_t kMaxReportPageSize = 2000;

struct ReportLimits {
  std::uint64_t max_rollups = kReportMaxRollups;
  std::uint64_t max_alert_scan = kReportMaxAlertScan;
  std::size_t max_entities = kReportMaxEntities;
};

// One page of the report (the gRPC API): page_size hosts at most, and a token
// for the rest that pins the window. A forged token, or one from a request
// with another window_s or top, is refused (kInvalidArgument).
[[nodiscard]] Result<v1::FleetReport> fleet_report_page(Store& store,
                                                        const v1::FleetReportRequest& req,
                                                        std::uint64_t now_ns,
                                                        const ReportLimits& limits = {});

// Every host on one report (the web view, which has no message size limit).
[[nodiscard]] v1::FleetReport build_fleet_report(Store& store, const v1::FleetReportRequest& req,
                                                 std::uint64_t now_ns);

}  // namespace vigil::collector
