#!/usr/bin/env bash
# How the evolved model compares with the detector-only baseline and the
# initial random repertoire across several held-out splits of the shipped
# dataset (docs/learning.md, "Across splits"). Prints a Markdown table: one row
# per setting: single evolutions of 20 and 80 generations, 80 with the count
# chosen by inner validation on the training part, and ensembles of 4
# evolutions (the last row: the shipped settings of
# deploy/evolve-default-model.sh). Each split seed s is also the evolution seed.
#   deploy/evolve-cv.sh [SPLITS] [EXTRA vigil-evolve train OPTIONS...]
#   deploy/evolve-cv.sh 8                      # default: 8 splits (seeds 1..8)
# A "win" is what vigil-evolve --keep-best and the collector accept
# (evo::accepts): AUC+TPR with an indicator at least 0.001 higher, AUC+TPR on
# all events at most 0.002 lower.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SPLITS=${1:-8}
shift || true
SETTINGS=${SETTINGS:-"--generations 20|--generations 80|--generations 80 --inner-folds 3|--generations 40 --ensemble 4|--generations 80 --ensemble 4"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| setting | baseline AUC+TPR, with an indicator (mean; min..max) | initial repertoire (mean) | evolved (mean; min..max) | evolved beats baseline | evolved beats initial | baseline AUC+TPR, all | evolved, all (min) |"
echo "|---|---|---|---|---|---|---|---|"
IFS='|' read -ra settings <<<"$SETTINGS"
for setting in "${settings[@]}"; do
  for s in $(seq 1 "$SPLITS"); do
    # shellcheck disable=SC2086
    "$BUILD/cli/vigil-evolve" train --dataset models/dataset.vds --out "$tmp/m.pb" \
      --seed "$s" --workers "${WORKERS:-2}" $setting "$@" --report "$tmp/r.md" >/dev/null 2>&1
    i=$(grep "initial random" "$tmp/r.md" | awk -F'|' '{print $3+$4, $5+$6}')
    b=$(grep "detector-only" "$tmp/r.md" | awk -F'|' '{print $3+$4, $5+$6}')
    e=$(grep 'evolved\*\*' "$tmp/r.md" | tr -d '*' | awk -F'|' '{print $3+$4, $5+$6}')
    echo "$b $e $i"
  done | awk -v g="$setting $*" '
    { ba += $1; bi += $2; ea += $3; ei += $4; ii += $6; n++;
      w += ($4 >= $2 + 0.001 && $3 >= $1 - 0.002); wi += ($4 >= $6 + 0.001 && $3 >= $5 - 0.002);
      if (n == 1 || $2 < bmin) bmin = $2; if (n == 1 || $2 > bmax) bmax = $2;
      if (n == 1 || $4 < emin) emin = $4; if (n == 1 || $4 > emax) emax = $4;
      if (n == 1 || $3 < amin) amin = $3 }
    END { printf "| %s | %.3f; %.3f..%.3f | %.3f | %.3f; %.3f..%.3f | %d of %d | %d of %d | %.4f | %.4f (%.4f) |\n",
          g, bi/n, bmin, bmax, ii/n, ei/n, emin, emax, w, n, wi, n, ba/n, ea/n, amin }'
done
