#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to live detection on this host:
# installs dependencies, builds, starts vigil-collector (embedded RocksDB under
# a local directory) and vigil-agent connected to it, and prints events and
# alerts in this terminal until Ctrl-C. `vigilctl report` answers meanwhile.
#
#   sudo deploy/quickstart.sh
#   DATA_DIR=/srv/vigil sudo -E deploy/quickstart.sh      # keep data elsewhere
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build}
DATA_DIR=${DATA_DIR:-$(pwd)/vigil-quickstart}
COLLECTOR=${COLLECTOR:-127.0.0.1:7700}
PROBES=${PROBES:-process,memory,file}

if [[ ${EUID} -ne 0 ]]; then
  echo "deploy/quickstart.sh: must run as root (sudo deploy/quickstart.sh): vigil loads eBPF probes" >&2
  exit 1
fi

deploy/install-deps.sh
cmake -S . -B "${BUILD_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "${BUILD_DIR}" -j"$(nproc)" --target vigil-agent vigil-collector vigilctl

agent="${BUILD_DIR}/agent/vigil-agent"
collector="${BUILD_DIR}/collector/vigil-collector"
vigilctl="$(cd "${BUILD_DIR}/cli" && pwd)/vigilctl"
mkdir -p "${DATA_DIR}"

# One operator token, kept beside the data (0600): vigilctl and the web view
# (on loopback) use it. A tokens file from an older quickstart (viewer only) is
# replaced, so every printed command works, model and rule commands included.
WEB=${WEB:-127.0.0.1:7780}
tokens="${DATA_DIR}/tokens"
if ! grep -q '^operator ' "${tokens}" 2>/dev/null; then
  (umask 077 && printf 'operator %s\n' "$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')" >"${tokens}")
fi
web_token=$(awk '$1 == "operator" {print $2; exit}' "${tokens}")
# The release key fleet-wide scoring models need (docs/security.md, "Models").
# A real deployment keeps it offline; here it sits beside the data (0600), so
# `vigilctl models sign --key ${DATA_DIR}/release.key VERSION` releases a
# model the collector rolled out to its canary. Collector and agent get its
# public half.
release_key="${DATA_DIR}/release.key"
[[ -f ${release_key} ]] || "${vigilctl}" models keygen --out "${release_key}" >/dev/null
release_pubkey=$(cat "${release_key}.pub")
"${collector}" --insecure --listen "${COLLECTOR}" --data-dir "${DATA_DIR}/collector" \
  --web-listen "${WEB}" --token-file "${tokens}" --model-release-pubkey "${release_pubkey}" \
  >"${DATA_DIR}/collector.out" 2>"${DATA_DIR}/collector.log" &
collector_pid=$!
trap 'kill ${collector_pid} 2>/dev/null; wait ${collector_pid} 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  grep -q "listening" "${DATA_DIR}/collector.out" 2>/dev/null && break
  if ! kill -0 "${collector_pid}" 2>/dev/null; then
    echo "quickstart: vigil-collector did not start:" >&2
    cat "${DATA_DIR}/collector.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo
cat "${DATA_DIR}/collector.out"

echo
"${agent}" --check --probes "${PROBES}" --state-dir "${DATA_DIR}/agent" || {
  echo "quickstart: some probes did not attach (see above); continuing with what works" >&2
}
echo
echo "vigil-collector (data in ${DATA_DIR}/collector, log ${DATA_DIR}/collector.log) and"
echo "vigil-agent (state in ${DATA_DIR}/agent) are running. One line per event below;"
echo "alerts are the '... threat ...' lines (Medium, High, Critical). Try in another terminal (each line runs"
echo "as printed; tests/quickstart/printed-commands.sh checks that they do):"
echo "  /usr/bin/env true                       # an exec event"
echo "  sleep 60 & gdb -p \$! -batch             # ptrace attach: an alert"
ctl="${vigilctl} --collector ${COLLECTOR} --insecure --token-file ${tokens}"
echo "  ${ctl} report                            # hosts, levels, top alerts"
echo "  ${ctl} alerts --follow                   # live alerts (Ctrl-C ends it)"
echo "  ${ctl} models list                       # scoring models, evolution"
echo "web view: http://${WEB}/#token=${web_token}"
echo "Press Ctrl-C to stop both."
echo
# The agent accepts scoring models this collector grants (canary) and, for
# fleet-wide use, those released with the release key (vigilctl models sign).
pubkey=$(cat "${DATA_DIR}/collector/model-signing.key.pub" 2>/dev/null || true)
"${agent}" --probes "${PROBES}" --events-out - --alerts-out - --format text \
  --state-dir "${DATA_DIR}/agent" --collector "${COLLECTOR}" --insecure \
  ${pubkey:+--model-pubkey "${pubkey}"} --model-release-pubkey "${release_pubkey}" "$@"
