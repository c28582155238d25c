#!/usr/bin/env bash
# Builds the .deb packages vigil-agent, vigil-collector and vigilctl with CPack
# (installation prefix /usr, systemd units in /lib/systemd/system, configs in
# /etc/vigil). Output: $PKG_BUILD_DIR/*.deb (default build-pkg/).
#
#   sudo deploy/package.sh                  # installs build deps first (root)
#   deploy/package.sh                       # as a user, when deps are present
#   sudo apt-get install ./build-pkg/vigil-*.deb ./build-pkg/vigilctl_*.deb
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PKG_BUILD_DIR=${PKG_BUILD_DIR:-build-pkg}

if [[ ${EUID} -eq 0 ]]; then
  deploy/install-deps.sh
fi
cmake -S . -B "${PKG_BUILD_DIR}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_INSTALL_PREFIX=/usr -DVIGIL_BUILD_TESTS=OFF
cmake --build "${PKG_BUILD_DIR}" -j"$(nproc)" --target vigil-agent vigil-collector vigilctl \
  vigil-loadgen vigil-evolve
rm -f "${PKG_BUILD_DIR}"/*.deb
(cd "${PKG_BUILD_DIR}" && cpack -G DEB)
ls -l "${PKG_BUILD_DIR}"/*.deb
