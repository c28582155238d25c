#!/usr/bin/env bash
# The collector's ingest writer pool, A/B in one session: the harness's two
# ingest plans (100 agents flat out; 1 000 quiet agents at 10 events/s) against
# a collector with ingest_writers = each of WRITERS, for each of ROUNDS.
# One line per run: acked events/s, sent, acked, ack p50/p99 (ms).
#
#   tests/bench/ingest_writers.sh [BUILD_DIR]          # ROUNDS="1 2" WRITERS="1 4"
#   ROUNDS="1" WRITERS="1 2 4" tests/bench/ingest_writers.sh build
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
for round in ${ROUNDS:-1 2}; do
  for w in ${WRITERS:-1 4}; do
    for plan in "busy 100 1000000 1000" "quiet 1000 10 10"; do
      set -- ${plan}
      d=$(mktemp -d /tmp/vigil-ingest-ab.XXXXXX)
      printf 'ingest_writers: %s\n' "${w}" >"${d}/c.yaml"
      "${B}/collector/vigil-collector" --config "${d}/c.yaml" --insecure --listen 127.0.0.1:0 \
        --data-dir "${d}/data" --log-level warn >"${d}/out" 2>"${d}/err" &
      cp=$!
      for _ in $(seq 50); do grep -q listening "${d}/out" && break; sleep 0.1; done
      addr=$(grep -o 'agents=[^ ]*' "${d}/out" | cut -d= -f2)
      res=$("${B}/cli/vigil-loadgen" --collector "${addr}" --insecure --agents "$2" --rate "$3" \
        --batch "$4" --duration 10 2>/dev/null | tail -1 || true)
      kill "${cp}"
      wait "${cp}" 2>/dev/null || true
      echo "round=${round} writers=${w} $1: $(python3 -c '
import json, sys
o = json.loads(sys.argv[1])
print("acked/s=%.0f sent=%s acked=%s p50=%s p99=%s" % (o["acked_per_s"], o.get("sent"),
      o.get("acked"), o.get("ack_ms_p50"), o["ack_ms_p99"]))' "${res}")"
      rm -rf "${d}"
    done
  done
done
