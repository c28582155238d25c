#!/usr/bin/env bash
# Leave-one-scenario-out evaluation of the shipped dataset (docs/learning.md,
# "Leave-one-scenario-out evaluation"): each attack group is held out in turn
# with one benign recording run; the detector-only baseline, a plain logistic
# regression and the evolved model (the shipped settings of
# deploy/evolve-default-model.sh) are trained on the rest and compared at a
# false-alert budget per host-hour. Prints the Markdown table and writes it
# between the loso markers of docs/learning.md. Deterministic for a dataset;
# about 2 minutes on 2 cores. Needs a build (cmake + ninja, or deploy/test.sh).
#   deploy/evaluate.sh                 # budget 1 false alert per host-hour
#   BUDGET=100 deploy/evaluate.sh      # another budget
#   DOC= deploy/evaluate.sh            # print only, leave docs/learning.md alone
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DATASET=${DATASET:-models/dataset.vds}
DOC=${DOC-docs/learning.md}
table=$(mktemp)
trap 'rm -f "$table"' EXIT
"$BUILD/cli/vigil-evolve" evaluate --loso --dataset "$DATASET" --budget "${BUDGET:-1}" \
  --workers "${WORKERS:-2}" --out "$table"
if [[ -n $DOC ]]; then
  python3 - "$table" "$DOC" <<'PY'
import sys
table, path = open(sys.argv[1]).read(), sys.argv[2]
doc = open(path).read()
start, end = "<!-- loso:start -->", "<!-- loso:end -->"
a, b = doc.index(start) + len(start), doc.index(end)
open(path, "w").write(doc[:a] + "\n" + table + "\n" + doc[b:])
PY
fi
