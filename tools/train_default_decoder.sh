#!/usr/bin/env bash
# How the shipped vgg16-hed decoder is trained: the exact commands, resumable across sessions.
#
#   nohup nice -n 5 tools/train_default_decoder.sh > "$RUNS/train.log" 2>&1 &
#
# RUNS (default /work/runs) holds the run folders; they stay out of git (full checkpoints with
# optimiser state). Phase 1: a short reconstruction warm start (the decoder learns to invert
# relu4_1; pixel loss dominant). Phase 2: the paper's AdaIN objective (content 1, style 10) at
# 128-px crops of images resized to shorter side 256 (style crops zoomed 0.7-2x and colour-jittered),
# batch 8, Adam 1e-4 with decay 5e-5, bf16 autocast, the exported decoder a moving average of the
# weights (decay 0.999). Each call resumes whatever is there, so the same line continues in a new session.
# On a machine without the run folders (a new machine), phase 2 starts from the newest committed
# snapshot (snapshots/vgg16-hed/latest: the run's decoder at the end of the last session, committed when
# it is not the shipped one), else from the shipped decoder; its optimiser state is lost, and the manifest's
# init_decoder_entry records what it started from. INIT=path overrides that decoder; INIT=
# (empty) with no run folders starts again from phase 1. Before a session ends:
#   .venv/bin/adain train --run-dir "$RUNS/adain128ema" --export snapshots/vgg16-hed/latest/decoder.safetensors --export-only
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/work/runs}
DATA=${DATA:-../shared/data}
STEPS=${STEPS:-40000}
A=".venv/bin/adain"
RECON="$RUNS/recon"
# phase 2 runs with style augmentation since 2026-12-01 (adain128, without it, stopped at step 1,200 of its
# second start: its loss on unseen styles had stayed flat for 2,000 steps; that decoder is adain128aug's INIT),
# and from step 5,600 with a moving average of the weights (adain128ema, forked from adain128aug: the exported
# decoder's loss on unseen styles swung by +-20% between checkpoints 1,000 steps apart)
AUGMENTED="$RUNS/adain128aug"
MAIN="$RUNS/adain128ema"
RECIPE=(--content "$DATA/content" --style "$DATA/style" --run-dir "$MAIN" --steps "$STEPS" --batch-size 8
  --crop-size 128 --resize-shorter 256 --lr 1e-4 --lr-decay 5e-5 --content-weight 1 --style-weight 10
  --style-zoom 0.7,2.0 --style-color-jitter 0.3 --ema-decay 0.999
  --checkpoint-every 200 --checkpoint-minutes 10 --sample-every 250 --log-every 10 --threads 2)

SNAPSHOT=snapshots/vgg16-hed/latest/decoder.safetensors
SHIPPED=src/adain/weights/shipped/vgg16-hed-decoder.safetensors
if [ -z "${INIT+set}" ] && [ ! -f "$RECON/decoder.safetensors" ]; then
  INIT=$( [ -f "$SNAPSHOT" ] && echo "$SNAPSHOT" || { [ -f "$SHIPPED" ] && echo "$SHIPPED"; } || true)
fi
INIT=${INIT-}
if [ -f "$MAIN/checkpoint.pt" ] || [ -f "$AUGMENTED/checkpoint.pt" ] || [ -n "$INIT" ]; then
  :  # phase 1 is not needed: phase 2 resumes, forks, or starts from INIT
elif [ ! -f "$RECON/decoder.safetensors" ]; then
  resume=$([ -f "$RECON/checkpoint.pt" ] && echo --resume || true)
  $A train --objective reconstruction --content "$DATA/content" --style "$DATA/style" --run-dir "$RECON" \
    --steps 300 --batch-size 8 --crop-size 128 --resize-shorter 256 --lr 1e-4 --feature-weight 0.01 \
    --checkpoint-every 100 --sample-every 200 --log-every 10 --threads 2 $resume
fi
if [ -f "$MAIN/checkpoint.pt" ]; then
  $A train --resume --content "$DATA/content" --style "$DATA/style" --run-dir "$MAIN" --steps "$STEPS" \
    --threads 2 --checkpoint-every 200 --sample-every 250
elif [ -f "$AUGMENTED/checkpoint.pt" ]; then
  $A train --fork "$AUGMENTED" "${RECIPE[@]}"
else
  $A train --init "${INIT:-$RECON/decoder.safetensors}" "${RECIPE[@]}"
fi
