#!/usr/bin/env bash
# The protos compile with the stock toolchains docs/api.md names, and the
# generated Python modules import: Debian's protoc with grpc_python_plugin, and
# Debian's python3-grpc-tools (whose bundled protoc predates proto3 `optional`).
#
#   tests/proto/compile-stock.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=${1:?source dir}
work=${2:?work dir}
rm -rf "${work}"
mkdir -p "${work}/protoc" "${work}/grpc_tools"

protoc -I "${src}/proto" --python_out="${work}/protoc" --grpc_out="${work}/protoc" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" "${src}"/proto/vigil/v1/*.proto
/usr/bin/python3 -m grpc_tools.protoc -I "${src}/proto" --python_out="${work}/grpc_tools" \
  --grpc_python_out="${work}/grpc_tools" "${src}"/proto/vigil/v1/*.proto

for out in protoc grpc_tools; do
  touch "${work}/${out}/vigil/__init__.py" "${work}/${out}/vigil/v1/__init__.py"
  (cd "${work}/${out}" && /usr/bin/python3 - <<'PY'
import glob, importlib, os
mods = sorted(os.path.basename(p)[:-3] for p in glob.glob("vigil/v1/*_pb2*.py"))
assert len(mods) >= 10, mods
for m in mods:
    importlib.import_module("vigil.v1." + m)
from vigil.v1 import model_pb2
m = model_pb2.Model()
assert not m.HasField("focus_bonus")
m.focus_bonus = 0          # presence survives a zero: an evolved model's "no bonus"
again = model_pb2.Model.FromString(m.SerializeToString())
assert again.HasField("focus_bonus") and again.focus_bonus == 0
print("imported", len(mods), "modules")
PY
  )
done
echo "compile-stock.sh: protoc+grpc_python_plugin and python3-grpc-tools both compile vigil.v1"
