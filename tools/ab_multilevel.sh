#!/usr/bin/env bash
# The A/B of issue 13: from the shipped plain decoder, the same steps and batches, (a) the plain
# decoder continued, (b) the multi-level decoder (skips relu3_1, relu2_1, relu1_1; gates closed at
# the start; its new parameters at --skip-lr). Both hold out the selection split (10% of the content
# and style images by file-name hash) and run side by side at one thread each, niced, resumable:
#
#   nohup tools/ab_multilevel.sh > "$RUNS/ab.log" 2>&1 &
#
# Then evaluate both exports on the selection split (the choice) and on the val pairs (the report):
#   tools/selection_pairs.py DIR; .venv/bin/adain eval --pairs DIR --decoder "$RUNS/ab-*/decoder.safetensors" ...
# fp32 on CPUs without native bf16 (precision auto).
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/work/runs}
DATA=${DATA:-../shared/data}
STEPS=${STEPS:-1500}
SKIP_LR=${SKIP_LR:-1e-3}
INIT=src/adain/weights/shipped/vgg16-hed-decoder.safetensors
A=".venv/bin/adain"
COMMON=(--content "$DATA/content" --style "$DATA/style" --steps "$STEPS" --batch-size 4 --crop-size 128
  --resize-shorter 256 --lr 1e-4 --lr-decay 5e-5 --content-weight 1 --style-weight 10 --style-zoom 0.7,2.0
  --style-color-jitter 0.3 --ema-decay 0.998 --selection-fraction 0.1 --checkpoint-every 100
  --checkpoint-minutes 10 --sample-every 250 --log-every 10 --threads 1 --no-progress)
arm() {  # arm NAME ARGS...: start or resume one arm
  local dir="$RUNS/$1"; shift
  if [ -f "$dir/checkpoint.pt" ]; then
    nice -n 5 $A train --resume --run-dir "$dir" --content "$DATA/content" --style "$DATA/style" --steps "$STEPS" --threads 1 --no-progress
  else
    nice -n 5 $A train --init "$INIT" --run-dir "$dir" "${COMMON[@]}" "$@"
  fi
}
arm ab-plain --decoder plain > "$RUNS/ab-plain.log" 2>&1 &
arm ab-multilevel --decoder multilevel --skip-lr "$SKIP_LR" > "$RUNS/ab-multilevel.log" 2>&1 &
wait
