#!/usr/bin/env bash
# How the evolved model compares with the detector-only baseline across
# several held-out splits of the shipped dataset, for a few generation counts
# (docs/learning.md, "Across splits"). Prints a Markdown table.
#   deploy/evolve-cv.sh [SPLITS]        # default 8 splits (seeds 1..8)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SPLITS=${1:-8}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| generations | baseline AUC+TPR, with an indicator (mean; min..max) | evolved (mean; min..max) | evolved wins | baseline AUC+TPR, all | evolved, all |"
echo "|---|---|---|---|---|---|"
for g in 10 20 40 80; do
  for s in $(seq 1 "$SPLITS"); do
    "$BUILD/cli/vigil-evolve" train --dataset models/dataset.vds --out "$tmp/m.pb" \
      --generations "$g" --seed "$s" --report "$tmp/r.md" >/dev/null 2>&1
    b=$(grep "detector-only" "$tmp/r.md" | awk -F'|' '{print $3+$4, $5+$6}')
    e=$(grep 'evolved\*\*' "$tmp/r.md" | tr -d '*' | awk -F'|' '{print $3+$4, $5+$6}')
    echo "$b $e"
  done | awk -v g="$g" '
    { ba += $1; bi += $2; ea += $3; ei += $4; n++; w += ($4 > $2 + 0.001);
      if (n == 1 || $2 < bmin) bmin = $2; if (n == 1 || $2 > bmax) bmax = $2;
      if (n == 1 || $4 < emin) emin = $4; if (n == 1 || $4 > emax) emax = $4 }
    END { printf "| %d | %.3f; %.3f..%.3f | %.3f; %.3f..%.3f | %d of %d | %.4f | %.4f |\n",
          g, bi/n, bmin, bmax, ei/n, emin, emax, w, n, ba/n, ea/n }'
done
