#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test (unit, BPF on the
# real kernel, integration). Exits non-zero on any failure. Must run as root:
# the BPF and integration tests load real probes into the kernel.
#
#   sudo deploy/test.sh            # everything
#   BUILD_DIR=/tmp/b sudo -E deploy/test.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build}

if [[ ${EUID} -ne 0 ]]; then
  echo "deploy/test.sh: must run as root (sudo deploy/test.sh): the BPF tests load real probes" >&2
  exit 1
fi

deploy/install-deps.sh

# Prefix /usr: the .deb packages tested at the end are made from this very build.
cmake -S . -B "${BUILD_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_BUILD_TESTS=ON \
  -DCMAKE_INSTALL_PREFIX=/usr
cmake --build "${BUILD_DIR}" -j"$(nproc)"

log=$(mktemp)
trap 'rm -f "${log}"' EXIT
set +e
(cd "${BUILD_DIR}" && ctest --output-on-failure -j"$(nproc)" --timeout 300) 2>&1 | tee "${log}"
rc=${PIPESTATUS[0]}
set -e

# As root nothing may skip: a skipped privileged test would hide a broken probe.
if grep -qE '\*\*\*Skipped|Not Run' "${log}"; then
  echo "deploy/test.sh: some tests were skipped or not run while running as root" >&2
  exit 1
fi
if [[ ${rc} -ne 0 ]]; then
  exit "${rc}"
fi

# The quickstart as a new user runs it, and every command it and the README
# print, as printed (tests/quickstart).
tests/quickstart/printed-commands.sh "${BUILD_DIR}"

# The packages: built from this build with CPack, installed, run from their
# systemd units' command lines, removed and purged (tests/packaging).
rm -f "${BUILD_DIR}"/*.deb
(cd "${BUILD_DIR}" && cpack -G DEB >/dev/null)
tests/packaging/test-packages.sh "${BUILD_DIR}"
