#!/usr/bin/env bash
# Runs deploy/quickstart.sh non-interactively, exactly as the README says
# (defaults: collector 127.0.0.1:7700, web view 127.0.0.1:7780, data in
# ./vigil-quickstart), then runs every command the quickstart prints and every
# vigilctl command of the README's quick start, as printed. Fails if one fails.
#
#   sudo tests/quickstart/printed-commands.sh [BUILD_DIR]
#
# Called by deploy/test.sh after the test suite (the build is then up to date,
# so the quickstart's own install and build steps are no-ops).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD_DIR=${1:-${BUILD_DIR:-build}}

if [[ ${EUID} -ne 0 ]]; then
  echo "printed-commands.sh: must run as root (the quickstart loads eBPF probes)" >&2
  exit 1
fi
for port in 7700 7780; do
  if ss -Htln "sport = :${port}" | grep -q .; then
    echo "printed-commands.sh: port ${port} is in use; the quickstart's defaults need it" >&2
    exit 1
  fi
done

work=$(mktemp -d)
out="${work}/quickstart.out"
# A data directory left by an earlier run is kept: the quickstart must work on it.
created_data=0
[[ -d vigil-quickstart ]] || created_data=1
qs_pid=
cleanup() {
  if [[ -n ${qs_pid} ]]; then
    kill -INT -- "-${qs_pid}" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "${qs_pid}" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-${qs_pid}" 2>/dev/null || true
  fi
  pkill -f "^sleep 60$" 2>/dev/null || true
  if ((created_data)); then rm -rf vigil-quickstart; fi
  rm -rf "${work}"
}
trap cleanup EXIT

fail() {
  echo "printed-commands.sh: FAIL: $*" >&2
  echo "--- quickstart output (last 40 lines):" >&2
  tail -n 40 "${out}" >&2 || true
  exit 1
}

# setsid: the quickstart and its children form one process group, stopped as one.
BUILD_DIR="${BUILD_DIR}" setsid deploy/quickstart.sh >"${out}" 2>&1 </dev/null &
qs_pid=$!
for _ in $(seq 1200); do
  grep -q '^Press Ctrl-C to stop both' "${out}" 2>/dev/null && break
  kill -0 "${qs_pid}" 2>/dev/null || fail "the quickstart exited early"
  sleep 0.5
done
grep -q '^Press Ctrl-C to stop both' "${out}" || fail "the quickstart did not print its commands within 10 minutes"
# The agent is the quickstart's last step: wait until it streams events.
for _ in $(seq 60); do
  grep -q '^exec ' "${out}" && break
  sleep 0.5
done

# The printed commands: the indented lines between "Try in another terminal" and
# "Press Ctrl-C". Each runs in bash exactly as printed (comments included).
mapfile -t printed < <(sed -n '/Try in another terminal/,/^Press Ctrl-C/p' "${out}" | grep '^  ')
((${#printed[@]} >= 5)) || fail "expected at least 5 printed commands, found ${#printed[@]}"

run_printed() {
  local cmd=$1 rc=0
  if [[ ${cmd} == *--follow* ]]; then
    # A live stream: it must still be running (not refused) after 5 s.
    timeout 5 bash -c "${cmd}" >"${work}/cmd.out" 2>&1 || rc=$?
    [[ ${rc} -eq 124 ]] || fail "'${cmd}' ended with ${rc} instead of streaming: $(cat "${work}/cmd.out")"
  else
    timeout 60 bash -c "${cmd}" >"${work}/cmd.out" 2>&1 || rc=$?
    [[ ${rc} -eq 0 ]] || fail "'${cmd}' exited ${rc}: $(cat "${work}/cmd.out")"
  fi
  echo "ok: ${cmd}"
}

for cmd in "${printed[@]}"; do
  run_printed "${cmd}"
done

# The ptrace example must have raised an alert in the quickstart's terminal
# ("High threat ptrace event: ..." or "Critical threat ...").
for _ in $(seq 40); do
  grep -qE '^[A-Z][a-z]+ threat ptrace event' "${out}" && break
  sleep 0.5
done
grep -qE '^[A-Z][a-z]+ threat ptrace event' "${out}" || fail "the printed gdb example raised no ptrace alert"
echo "ok: the gdb example alerted"

# The web view line: the page, and the data with the printed token.
url=$(sed -n 's/^web view: //p' "${out}")
[[ ${url} == http://127.0.0.1:*/#token=* ]] || fail "no web view line (got '${url}')"
base=${url%%#*}
token=${url##*#token=}
code=$(curl -s -o /dev/null -w '%{http_code}' "${base}")
[[ ${code} == 200 ]] || fail "web view page answered ${code}"
curl -sf -H "Authorization: Bearer ${token}" "${base}api/overview" | grep -q '"report"' ||
  fail "web view data refused the printed token"
echo "ok: web view ${base}"

# The README's quick start commands, from the repository root, as written.
mapfile -t readme < <(sed -n '/^Meanwhile, in another terminal/,/^```$/p' README.md | grep '^build/cli/vigilctl ')
((${#readme[@]} >= 2)) || fail "expected the README's vigilctl commands, found ${#readme[@]}"
for cmd in "${readme[@]}"; do
  run_printed "${cmd}"
done
echo "printed-commands.sh: all ${#printed[@]} printed and ${#readme[@]} README commands work"
