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
#   FIRST=2 deploy/evolve-cv.sh 8              # seeds 2..9: leaves the shipped split (1) out
#   PER_SPLIT=1 ...                            # and a row per split after the summary
# "Accepted" is what vigil-evolve --keep-best and the collector accept
# (evo::accepts): AUC+TPR with an indicator at least 0.001 higher, AUC+TPR on
# all events at most 0.002 lower, and at the alert score 50 neither more benign
# events alerting nor more attacks not alerting. "Better ranking" is the first
# two conditions alone.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SPLITS=${1:-8}
shift || true
SETTINGS=${SETTINGS:-"--generations 20|--generations 80|--generations 80 --inner-folds 3|--generations 40 --ensemble 4|--generations 80 --ensemble 4"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| setting | baseline AUC+TPR, with an indicator (mean; min..max) | initial repertoire (mean) | evolved (mean; min..max) | evolved, all events (mean; min) [baseline] | evolved better ranking (with an indicator +0.001, all events -0.002 at most) | benign events alerting at 50, evolved [baseline] (mean) | attacks not alerting, evolved [baseline] (mean) | evolved accepted over baseline | over initial |"
echo "|---|---|---|---|---|---|---|---|---|---|"
IFS='|' read -ra settings <<<"$SETTINGS"
for setting in "${settings[@]}"; do
  for s in $(seq "${FIRST:-1}" $((${FIRST:-1} + SPLITS - 1))); do
    # shellcheck disable=SC2086
    "$BUILD/cli/vigil-evolve" train --dataset models/dataset.vds --out "$tmp/m.pb" \
      --seed "$s" --workers "${WORKERS:-2}" $setting "$@" --report "$tmp/r.md" >/dev/null 2>&1
    # per model: all-events AUC+TPR, with-indicator AUC+TPR, false alerts, missed
    row() { grep "^| $1" "$tmp/r.md" | tr -d '*' | awk -F'|' '{print $3+$4, $5+$6, $7, $8}'; }
    echo "$s $(row 'detector-only baseline') $(row '\*\*evolved\*\*') $(row 'initial random')"
  done >"$tmp/rows"
  if [[ -n ${PER_SPLIT:-} ]]; then
    awk '{ printf "| %d | %.4f | %.4f | %.4f | %.4f [%.4f] | %.5f [%.5f] | %.4f [%.4f] |\n",
           $1, $3, $11, $7, $6, $2, $8, $4, $9, $5 }' "$tmp/rows" >>"$tmp/splits"
  fi
  cut -d' ' -f2- "$tmp/rows" | awk -v g="$setting $*" '
    { ba += $1; bi += $2; ea += $5; ei += $6; ii += $10; n++;
      efa += $7; bfa += $3; emi += $8; bmi += $4;
      rank = ($6 >= $2 + 0.001 && $5 >= $1 - 0.002); r += rank;
      w += (rank && $7 <= $3 + 1e-12 && $8 <= $4 + 1e-12);
      wi += ($6 >= $10 + 0.001 && $5 >= $9 - 0.002 && $7 <= $11 + 1e-12 && $8 <= $12 + 1e-12);
      if (n == 1 || $2 < bmin) bmin = $2; if (n == 1 || $2 > bmax) bmax = $2;
      if (n == 1 || $6 < emin) emin = $6; if (n == 1 || $6 > emax) emax = $6;
      if (n == 1 || $5 < amin) amin = $5 }
    END { printf "| %s | %.3f; %.3f..%.3f | %.3f | %.3f; %.3f..%.3f | %.4f; %.4f [%.4f] | %d of %d | %.5f [%.5f] | %.4f [%.4f] | %d of %d | %d of %d |\n",
          g, bi/n, bmin, bmax, ii/n, ei/n, emin, emax, ea/n, amin, ba/n, r, n, efa/n, bfa/n, emi/n, bmi/n, w, n, wi, n }'
done
if [[ -n ${PER_SPLIT:-} ]]; then
  echo
  echo "| split seed | baseline AUC+TPR, with an indicator | initial repertoire | evolved | evolved, all events [baseline] | benign events alerting at 50, evolved [baseline] | attacks not alerting, evolved [baseline] |"
  echo "|---|---|---|---|---|---|---|"
  cat "$tmp/splits"
fi
