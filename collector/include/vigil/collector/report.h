// The fleet report: per-host level and risk, top alerts, top entities, trends
// and agents' health over a window, computed from the store.
#pragma once

#include "vigil/collector/store.h"
#include "vigil/v1/query.pb.h"

namespace vigil::collector {

inline constexpr std::uint64_t kDefaultReportWindowS = 3600;
inline constexpr std::uint32_t kReportBuckets = 12;
inline constexpr std::uint64_t kReportMaxScan = 2'000'000;  // events read per report at most

[[nodiscard]] v1::FleetReport build_fleet_report(Store& store, const v1::FleetReportRequest& req,
                                                 std::uint64_t now_ns);

}  // namespace vigil::collector
