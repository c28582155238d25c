#!/usr/bin/env bash
# Generates the Python modules of vigil's API (vigil/v1/*_pb2.py, *_pb2_grpc.py)
# from proto/ with Debian's protoc and grpc_python_plugin (same gRPC release as the
# C++ build). Output: OUT_DIR (default: next to this script, in gen/).
#
#   docs/examples/python/generate.sh [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../../.." && pwd)"
out="${1:-${here}/gen}"
plugin="$(command -v grpc_python_plugin || true)"
if [[ -z "${plugin}" ]]; then
  echo "generate.sh: grpc_python_plugin not found (apt install protobuf-compiler-grpc)" >&2
  exit 1
fi
mkdir -p "${out}"
protoc -I "${root}/proto" --python_out="${out}" --grpc_out="${out}" \
  --plugin=protoc-gen-grpc="${plugin}" "${root}"/proto/vigil/v1/*.proto
touch "${out}/vigil/__init__.py" "${out}/vigil/v1/__init__.py"
echo "generate.sh: wrote ${out}/vigil/v1"
