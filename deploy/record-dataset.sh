#!/usr/bin/env bash
# Records the evolution dataset from real runs (docs/learning.md): the public
# attack scenarios (positives: events with an indicator of severity >= 40), the
# benign suite and routine administration that trips indicators
# (deploy/benign-ops.sh) as negatives (every event), each run ROUNDS times
# (default 2), merged into models/dataset.vds (each recording one run, with its
# duration; each attack event grouped by its strongest indicator: the
# leave-one-scenario-out evaluation, deploy/evaluate.sh, needs both). Needs
# root (the agents load BPF programs) and a build (deploy/test.sh or cmake + ninja).
#   sudo deploy/record-dataset.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
BUILD=${BUILD:-build}
if [[ ${EUID} -ne 0 ]]; then
  echo "record-dataset.sh: must run as root (the agents load BPF programs)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/vigil-record-XXXXXX)
trap 'rm -rf "$work"' EXIT
parts=()
for r in $(seq 1 "$ROUNDS"); do
  mkdir -p "$work/$r"
  echo "record-dataset.sh: round $r of $ROUNDS (scenarios + benign suite, ~2 min)"
  # Scenarios and the benign suite only: RarityPath runs attacks under an
  # agent at the default threshold, which would record them as benign.
  VIGIL_RECORD_DIR="$work/$r" "$BUILD/tests/scenarios/vigil_scenarios" \
    --gtest_filter='Scenarios.*:BenignSuite.*' >"$work/$r/log" 2>&1 || {
    tail -30 "$work/$r/log"
    echo "record-dataset.sh: the scenario run failed (log above)" >&2
    exit 1
  }
  # Routine administration under its own agent: the hard negatives.
  "$BUILD/agent/vigil-agent" --probes process,network,memory,file --baseline-warmup 0 \
    --state-dir "$work/$r/ops-state" --stats-interval 0 \
    --record-features "$work/$r/ops.vds" --record-label benign >"$work/$r/ops-agent.log" 2>&1 &
  agent=$!
  for _ in $(seq 1 100); do
    grep -q "running on host" "$work/$r/ops-agent.log" && break
    sleep 0.1
  done
  deploy/benign-ops.sh 10
  sleep 1
  kill -INT "$agent"
  wait "$agent" || true
  parts+=("$work/$r/scenarios.vds" "$work/$r/benign.vds" "$work/$r/ops.vds")
done
mkdir -p models
"$BUILD/cli/vigil-evolve" merge --out models/dataset.vds "${parts[@]}"
