#!/usr/bin/env bash
# The Fashion-MNIST experiment of docs/results-fashion-mnist.md:
#   DET vs HET (fixed tau 1) vs HET-XL (learned tau), seeds 0-2, 40% structured label noise and clean labels;
#   HET-XL with fixed tau in {0.25, 0.5, 1, 2, 3} (noisy labels, seed 0) against its learned tau.
# Every run is `npm run train` (it evaluates on the clean test set and writes evaluation.json);
# then src/cli/results-fashion-mnist.ts turns the folders into the tables.
# Usage: scripts/experiment-fashion-mnist.sh [OUT (default /tmp/fm-runs)]   PARALLEL=2 EPOCHS=5 DATA=...
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/fm-runs}
PARALLEL=${PARALLEL:-2}
EPOCHS=${EPOCHS:-5}
NOISE=0.4
DATA_FLAG=${DATA:+--data $DATA}
mkdir -p "$OUT/logs"

{
  for seed in 0 1 2; do
    for labels in noisy clean; do
      rate=$([ "$labels" = noisy ] && echo $NOISE || echo 0)
      for head in det het het-xl; do
        echo "--head $head --name $head-$labels-s$seed --seed $seed --label-noise $rate"
      done
    done
    if [ "$seed" = 0 ]; then
      for tau in 0.25 0.5 1 2 3; do
        echo "--head het-xl --name het-xl-noisy-tau$tau-s0 --seed 0 --label-noise $NOISE --tau $tau"
      done
    fi
  done
} | xargs -P "$PARALLEL" -I{} bash -c '
  args="{} --epochs '"$EPOCHS"' --out '"$OUT"' '"$DATA_FLAG"'"
  name=$(echo "$args" | sed -E "s/.*--name ([^ ]+).*/\1/")
  if [ -f "'"$OUT"'/$name/evaluation.json" ]; then echo "skip $name (done)"; exit 0; fi
  echo "$(date -u +%T) start $name"
  npx tsx src/cli/train.ts $args > "'"$OUT"'/logs/$name.log" 2>&1 && echo "$(date -u +%T) done $name" || echo "$(date -u +%T) FAILED $name (see '"$OUT"'/logs/$name.log)"
'
npx tsx src/cli/results-fashion-mnist.ts "$OUT"
