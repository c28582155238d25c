#!/usr/bin/env bash
# Evolves a model from the shipped dataset, compares it with the detector-only
# baseline on held-out data, writes the better of the two to
# models/default-model.pb (the agent's built-in default) and rewrites the
# results section of docs/learning.md. Deterministic: the same dataset, seed
# and options give the same models/default-model.pb, byte for byte, whatever
# the number of workers. Needs a build (cmake + ninja, or deploy/test.sh).
#   deploy/evolve-default-model.sh    # seed 1, an ensemble of 4 evolutions of 6 x 100 genomes,
#                                     # 80 generations, reentry 2
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SEED=${SEED:-1}
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$BUILD/cli/vigil-evolve" train --dataset models/dataset.vds --out models/default-model.pb \
  --version "default-s${SEED}" --seed "$SEED" --generations 80 --ensemble 4 --reentry 2 --population 100 \
  --workers "${WORKERS:-4}" --keep-best --report "$report"
# Splice the report between the markers of docs/learning.md.
python3 - "$report" <<'PY'
import sys
report = open(sys.argv[1]).read()
path = "docs/learning.md"
doc = open(path).read()
start, end = "<!-- results:start -->", "<!-- results:end -->"
a, b = doc.index(start) + len(start), doc.index(end)
open(path, "w").write(doc[:a] + "\n" + report + "\n" + doc[b:])
PY
sha256sum models/default-model.pb
