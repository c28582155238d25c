#!/usr/bin/env bash
# Runs every benchmark and prints one table (docs/PERFORMANCE.md): the Google
# Benchmark micro-benchmarks (decode, enrich, features + model with allocation
# counts, JSON, spool, store), one evolution generation with 1 and 4 workers,
# then the end-to-end harnesses (tests/bench/harness.py): capture efficiency
# against no tracer and bpftrace, latency, agent footprint, collector ingest.
# Root: the harnesses load the agent's eBPF probes. About 10 minutes.
#
#   sudo deploy/bench.sh                 # everything
#   sudo deploy/bench.sh --smoke         # every harness, tiny (what CI runs)
#   BUILD_DIR=/tmp/b sudo -E deploy/bench.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build}
SMOKE=()
[[ ${1:-} == --smoke ]] && SMOKE=(--smoke)

if [[ ${EUID} -ne 0 ]]; then
  echo "deploy/bench.sh: must run as root (sudo deploy/bench.sh): the harnesses load eBPF probes" >&2
  exit 1
fi
deploy/install-deps.sh
cmake -S . -B "${BUILD_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_BUILD_TESTS=ON
cmake --build "${BUILD_DIR}" -j"$(nproc)" --target vigil-agent vigil-collector vigil-loadgen \
  vigil-storm vigil_bench vigil_evolution_bench

echo "== machine: $(nproc) cores, $(uname -sr), $(date -u +%F)"
if ((${#SMOKE[@]})); then
  "${BUILD_DIR}"/tests/bench/vigil_bench --benchmark_min_time=0.01
  "${BUILD_DIR}"/tests/bench/vigil_evolution_bench --benchmark_filter='BM_EvolutionGeneration/1/20000' \
    --benchmark_min_time=0.01
else
  "${BUILD_DIR}"/tests/bench/vigil_bench --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true
  "${BUILD_DIR}"/tests/bench/vigil_evolution_bench --benchmark_filter='/100000' \
    --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
fi
python3 tests/bench/harness.py all --build "${BUILD_DIR}" "${SMOKE[@]}" \
  --json "${BUILD_DIR}/bench-results.json"
