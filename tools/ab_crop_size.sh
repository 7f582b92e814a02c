#!/usr/bin/env bash
# Issue 13's third lever, an A/B at equal CPU time: from one checkpoint of the multi-level run, (a) the
# recipe as it is (128-px crops) and (b) 256-px crops (4x the pixels per step), side by side, one
# thread each, for the same wall-clock time; then compare both on the selection split:
#   adain eval --decoder FILE --pairs /work/selection --sizes 256 --lbfgs-iterations 0 --refine ''
#
#   nohup nice -n 5 tools/ab_crop_size.sh > "$RUNS/ab-crop.log" 2>&1 &
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/work/runs}
DATA=${DATA:-../shared/data}
FROM=${FROM:-$RUNS/multilevel}
A=".venv/bin/adain"
common=(--content "$DATA/content" --style "$DATA/style" --steps 100000 --batch-size 4 --resize-shorter 256
  --lr 1e-4 --lr-decay 5e-5 --content-weight 1 --style-weight 10 --style-zoom 0.7,2.0 --style-color-jitter 0.3
  --ema-decay 0.999 --decoder multilevel --skip-lr 1e-3 --selection-fraction 0.1 --checkpoint-every 100
  --checkpoint-minutes 5 --sample-every 250 --log-every 10 --threads 1 --no-progress)
for arm in 128 256; do
  if [ -f "$RUNS/ab-crop-$arm/checkpoint.pt" ]; then
    $A train --resume --content "$DATA/content" --style "$DATA/style" --run-dir "$RUNS/ab-crop-$arm" --steps 100000 \
      --threads 1 --no-progress &
  else
    $A train --fork "$FROM" --run-dir "$RUNS/ab-crop-$arm" --crop-size "$arm" "${common[@]}" &
  fi
done
wait
