#!/usr/bin/env bash
# Runs a set of Sigma rules over benign host activity and counts matches per
# rule: which community rules are noisy on ordinary admin and developer work
# (docs/detections.md, "SigmaHQ compatibility"). Needs root (real probes).
#
#   sudo deploy/sigma-benign.sh [RULES_DIR] [BUILD_DIR]
#
# RULES_DIR defaults to ../shared/sigma/rules/linux (a SigmaHQ checkout's
# rules/linux works too). Prints a markdown table: rule, level, matches, and
# whether a match would alert at the default threshold (level high/critical).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RULES=${1:-../shared/sigma/rules/linux}
BUILD=${2:-build}
if [[ ${EUID} -ne 0 ]]; then
  echo "sigma-benign.sh: must run as root (sudo $0): the agent loads real probes" >&2
  exit 1
fi
if [[ ! -d ${RULES} ]]; then
  echo "sigma-benign.sh: no rules at ${RULES}: pass a directory of Sigma rules" >&2
  exit 1
fi
agent=${BUILD}/agent/vigil-agent
[[ -x ${agent} ]] || { echo "sigma-benign.sh: build first (${agent} missing)" >&2; exit 1; }

work=$(mktemp -d /tmp/vigil-sigma-benign-XXXXXX)
pid=
cleanup() {
  [[ -n ${pid} ]] && kill "${pid}" 2>/dev/null && wait "${pid}" 2>/dev/null
  rm -rf "${work}"
}
trap cleanup EXIT

# Threshold 1: every match is written, whatever its level.
"${agent}" --rules "${RULES}" --no-builtin-rules --probes process,file,network \
  --alerts-out "${work}/alerts.jsonl" --alert-threshold 1 --state-dir "${work}/state" \
  --stats-interval 0 2>"${work}/agent.log" &
pid=$!
for _ in $(seq 1 100); do
  grep -q "running on host" "${work}/agent.log" && break
  sleep 0.2
done
grep -q "running on host" "${work}/agent.log" || { cat "${work}/agent.log" >&2; exit 1; }

# The benign workload: the scenario suite's benign activity and the dataset's
# routine administration (deploy/benign-ops.sh).
src=${work}/src
mkdir -p "${src}"
for i in 0 1 2 3 4 5 6 7; do echo "int f$i(int x) { return x * $i; }" >"${src}/f$i.c"; done
echo 'int f0(int); int main(void) { return f0(0); }' >"${src}/main.c"
printf 'OBJS = main.o f0.o f1.o f2.o f3.o f4.o f5.o f6.o f7.o\napp: $(OBJS)\n\tcc -o app $(OBJS)\n' \
  >"${src}/Makefile"
make -s -C "${src}" -j2 >/dev/null
(cd "${src}" && git init -q && git add -A &&
  git -c user.name=t -c user.email=t@example.invalid commit -qm init)
python3 -m http.server --bind 127.0.0.1 18732 --directory "${src}" >/dev/null 2>&1 &
web=$!
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:18732/ -o /dev/null && break; sleep 0.2; done
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:18732/main.c -o /dev/null; done
kill "${web}"; wait "${web}" 2>/dev/null || true
apt-cache policy bash >/dev/null
for _ in $(seq 1 20); do date >/dev/null; ls / >/dev/null; grep -c root /etc/passwd >/dev/null; done
ps aux >/dev/null; id >/dev/null; uname -a >/dev/null; df -h >/dev/null; ss -tln >/dev/null || true
deploy/benign-ops.sh 2 >/dev/null 2>&1 || true
sleep 2
kill "${pid}"; wait "${pid}" 2>/dev/null || true
pid=

python3 - "${work}/alerts.jsonl" <<'PY'
import collections, json, sys
hits = collections.Counter()
info = {}
for line in open(sys.argv[1]):
    try:
        j = json.loads(line)
    except ValueError:
        continue
    for ind in j.get("indicators", []):
        r = ind.get("rule")
        if r:
            hits[r["id"]] += 1
            info[r["id"]] = (r.get("title", ""), r.get("level", ""))
print("| rule | title | level | matches on the benign run | alerts alone |")
print("|---|---|---|---|---|")
for rid, n in hits.most_common():
    title, level = info[rid]
    print(f"| `{rid}` | {title} | {level} | {n} | {'yes' if level in ('high', 'critical') else 'no'} |")
if not hits:
    print("| (none) | | | 0 | |")
PY
