#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to live detection on this host:
# installs dependencies, builds, then runs vigil-agent in the foreground printing
# one human-readable line per process event until Ctrl-C.
#
#   sudo deploy/quickstart.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build}
STATE_DIR=${STATE_DIR:-/var/lib/vigil}

if [[ ${EUID} -ne 0 ]]; then
  echo "deploy/quickstart.sh: must run as root (sudo deploy/quickstart.sh): vigil loads eBPF probes" >&2
  exit 1
fi

deploy/install-deps.sh
cmake -S . -B "${BUILD_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "${BUILD_DIR}" -j"$(nproc)" --target vigil-agent

agent="${BUILD_DIR}/agent/vigil-agent"
echo
"${agent}" --check --probes process,memory,file --state-dir "${STATE_DIR}" || {
  echo "quickstart: some probes did not attach (see above); continuing with what works" >&2
}
echo
echo "vigil-agent is watching this host: one line per process event, alerts as"
echo "'High threat ...' lines. Try in another terminal:  /usr/bin/env true"
echo "or, for an alert:  sleep 60 & gdb -p \$! -batch   (ptrace attach, if gdb is installed)"
echo "Press Ctrl-C to stop. Counters: ${STATE_DIR}/agent-stats.json"
echo
exec "${agent}" --probes process,memory,file --events-out - --alerts-out - --format text --state-dir "${STATE_DIR}" "$@"
