#!/usr/bin/env bash
# ctest K8sManifests: installs the validator's pinned npm packages into the build
# tree, checks that every manifest in deploy/k8s is valid and that a broken one
# is rejected with the reason for each document.
#   tests/k8s/validate.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$1
work=$2
mkdir -p "${work}"
cp "${src}/deploy/k8s/validate/package.json" "${src}/deploy/k8s/validate/package-lock.json" \
  "${src}/deploy/k8s/validate/validate.mjs" "${work}/"
(cd "${work}" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
node "${work}/validate.mjs" "${src}"/deploy/k8s/*.yaml
if out=$(node "${work}/validate.mjs" "${src}/tests/k8s/broken.yaml" 2>&1); then
  echo "validate.sh: the broken manifest was accepted" >&2
  exit 1
fi
echo "${out}"
for expect in "wrong-types: .*containerPort must be integer" \
  "undeclared-volume: container a mounts undeclared volume state" \
  "selects-nothing: selects no workload"; do
  grep -qE "${expect}" <<<"${out}" || { echo "validate.sh: missing error: ${expect}" >&2; exit 1; }
done
echo "validate.sh: deploy/k8s valid; broken manifest rejected"
