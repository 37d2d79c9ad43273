#!/usr/bin/env bash
# The Fashion-MNIST experiment of docs/results-fashion-mnist.md (issue #16):
#   DET vs HET (fixed tau 1) vs HET-XL (learned tau), seeds 0-2, under 40% label noise within the
#   look-alike groups of two kinds: `class` (every image of a grouped class flips with 0.4) and
#   `input` (image x flips with 0.4 sigmoid(4 z(x)), src/training/fashion-mnist/label-noise.ts);
#   HET-XL with fixed tau in TAUS under the input noise, seeds SWEEP_SEEDS, against its learned tau,
#   and DET with fixed tau in DET_TAUS (same seeds) as the control for the temperature alone.
# The schedule overfits on purpose (first TRAIN_LIMIT training images, EPOCHS epochs, Adam at LR with cosine decay):
# every run records its test NLL after each epoch in its manifest (provenance.training.epochTestNll).
# Every run is `npm run train` (it evaluates on the clean test set and writes evaluation.json);
# then src/cli/results-fashion-mnist.ts turns the folders into the tables. Finished runs are skipped,
# so the script can be re-run to resume or, with other SEEDS / SWEEP_SEEDS, to add runs.
# Usage: scripts/experiment-fashion-mnist.sh [OUT (default /tmp/fm-runs)]
#   PARALLEL=2 EPOCHS=40 TRAIN_LIMIT=2000 LR=0.003 SEEDS="0 1 2" SWEEP_SEEDS=0 TAUS="0.5 1 2" DET_TAUS=2
#   EVAL_SAMPLES=200 CURVE_IMAGES=2000 CURVE_SAMPLES=16 DATA=...
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/fm-runs}
PARALLEL=${PARALLEL:-2}
EPOCHS=${EPOCHS:-40}
TRAIN_LIMIT=${TRAIN_LIMIT:-2000}
LR=${LR:-0.003}
SEEDS=${SEEDS:-0 1 2}
SWEEP_SEEDS=${SWEEP_SEEDS:-0}
TAUS=${TAUS:-0.5 1 2}
DET_TAUS=${DET_TAUS:-2}
EVAL_SAMPLES=${EVAL_SAMPLES:-200}
CURVE_IMAGES=${CURVE_IMAGES:-2000}
CURVE_SAMPLES=${CURVE_SAMPLES:-16}
NOISE=0.4
COMMON="--label-noise $NOISE --epochs $EPOCHS --train-limit $TRAIN_LIMIT --lr $LR --lr-schedule cosine --eval-samples $EVAL_SAMPLES --curve-images $CURVE_IMAGES --curve-samples $CURVE_SAMPLES --out $OUT ${DATA:+--data $DATA}"
mkdir -p "$OUT/logs"

# One line of arguments per run; seed by seed, so that an interrupted experiment has whole seeds.
runs() {
  for seed in $SEEDS; do
    for kind in input class; do
      for head in det het-xl het; do
        echo "--head $head --name $head-$kind-s$seed --seed $seed --label-noise-kind $kind"
      done
    done
    if [ "$seed" = "$(echo $SEEDS | cut -d' ' -f1)" ]; then
      for sweep_seed in $SWEEP_SEEDS; do
        for tau in $TAUS; do
          echo "--head het-xl --name het-xl-input-tau$tau-s$sweep_seed --seed $sweep_seed --label-noise-kind input --tau $tau"
        done
        # The control: DET at the same fixed temperature (for DET tau only rescales the step size of W).
        for tau in $DET_TAUS; do
          echo "--head det --name det-input-tau$tau-s$sweep_seed --seed $sweep_seed --label-noise-kind input --tau $tau"
        done
      done
    fi
  done
}

runs | xargs -P "$PARALLEL" -I{} bash -c '
  args="{} '"$COMMON"'"
  name=$(echo "$args" | sed -E "s/.*--name ([^ ]+).*/\1/")
  if [ -f "'"$OUT"'/$name/evaluation.json" ]; then echo "skip $name (done)"; exit 0; fi
  echo "$(date -u +%T) start $name"
  nice -n 10 npx tsx src/cli/train.ts $args > "'"$OUT"'/logs/$name.log" 2>&1 && echo "$(date -u +%T) done $name" || echo "$(date -u +%T) FAILED $name (see '"$OUT"'/logs/$name.log)"
'
npx tsx src/cli/results-fashion-mnist.ts "$OUT"
