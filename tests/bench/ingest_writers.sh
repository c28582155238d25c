#!/usr/bin/env bash
# The collector's ingest path, A/B in one session: the harness's two ingest
# plans (100 agents flat out; 1 000 quiet agents at 10 events/s) against a
# collector with ingest_writers = each of WRITERS, for each of ROUNDS, and for
# each collector binary of COLLECTORS (label=path; default: BUILD_DIR's), the
# binaries interleaved within a round so they share the machine's noise.
# One line per run: acked events/s, sent, acked, ack p50/p99 (ms), and the
# collector's CPU (% of one core, utime + stime over the run).
#
#   tests/bench/ingest_writers.sh [BUILD_DIR]          # ROUNDS="1 2" WRITERS="1 4"
#   ROUNDS="1" WRITERS="1 2 4" tests/bench/ingest_writers.sh build
#   COLLECTORS="before=/tmp/old/vigil-collector after=build/collector/vigil-collector" \
#     ROUNDS="1 2 3" WRITERS=4 tests/bench/ingest_writers.sh build
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
HZ=$(getconf CLK_TCK)
for round in ${ROUNDS:-1 2}; do
  for w in ${WRITERS:-1 4}; do
    for plan in "busy 100 1000000 1000" "quiet 1000 10 10"; do
      for c in ${COLLECTORS:-build=${B}/collector/vigil-collector}; do
        label=${c%%=*}
        bin=${c#*=}
        set -- ${plan}
        d=$(mktemp -d /tmp/vigil-ingest-ab.XXXXXX)
        printf 'ingest_writers: %s\n' "${w}" >"${d}/c.yaml"
        "${bin}" --config "${d}/c.yaml" --insecure --listen 127.0.0.1:0 \
          --data-dir "${d}/data" --log-level warn >"${d}/out" 2>"${d}/err" &
        cp=$!
        for _ in $(seq 50); do grep -q listening "${d}/out" && break; sleep 0.1; done
        addr=$(grep -o 'agents=[^ ]*' "${d}/out" | cut -d= -f2)
        c0=$(awk '{print $14+$15}' "/proc/${cp}/stat")
        t0=$(date +%s.%N)
        res=$("${B}/cli/vigil-loadgen" --collector "${addr}" --insecure --agents "$2" --rate "$3" \
          --batch "$4" --duration 10 2>/dev/null | tail -1 || true)
        c1=$(awk '{print $14+$15}' "/proc/${cp}/stat")
        t1=$(date +%s.%N)
        kill "${cp}"
        wait "${cp}" 2>/dev/null || true
        echo "round=${round} writers=${w} collector=${label} $1: $(python3 -c '
import json, sys
o = json.loads(sys.argv[1])
cpu = 100.0 * (int(sys.argv[3]) - int(sys.argv[2])) / int(sys.argv[4]) / (float(sys.argv[6]) - float(sys.argv[5]))
print("acked/s=%.0f sent=%s acked=%s p50=%s p99=%s cpu=%.0f%%" % (o["acked_per_s"], o.get("sent"),
      o.get("acked"), o.get("ack_ms_p50"), o["ack_ms_p99"], cpu))' "${res}" "${c0}" "${c1}" "${HZ}" \
          "${t0}" "${t1}")"
        rm -rf "${d}"
      done
    done
  done
done
