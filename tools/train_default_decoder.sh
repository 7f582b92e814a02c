#!/usr/bin/env bash
# How the shipped vgg16-hed decoder is trained: the exact commands, resumable across sessions.
#
#   nohup nice -n 5 tools/train_default_decoder.sh > "$RUNS/train.log" 2>&1 &
#
# RUNS (default /work/runs) holds the run folders; they stay out of git (full checkpoints with
# optimiser state). Since 2026-12-02 the default decoder is the multi-level one (issue 13: gated
# 1x1 skips from the AdaIN'd relu3_1, relu2_1 and relu1_1 features; its skips and gates learn at
# 1e-3, everything else at 1e-4 with decay 5e-5), trained on the paper's objective (content 1,
# style 10) at 128-px crops of images resized to shorter side 256 (style crops zoomed 0.7-2x and
# colour-jittered by 0.3), batch 4, with 10% of the content and style images held out as the
# selection split (checkpoints are chosen there, never on data/val), precision auto (bf16 autocast
# where the CPU has AVX512-BF16/AMX: 0.36 s a step at 2 threads on the Xeon of 2026-12-03, against
# 0.80 s in fp32; fp32 on CPUs without native bf16, 1.25 s a step on the AMD EPYC of 2026-12-02), the
# exported decoder a moving average of the weights (decay 0.999).
#
# The run: $RUNS/multilevel. It continues (--fork) the multi-level arm of the A/B of
# tools/ab_multilevel.sh ($RUNS/ab-multilevel, 1,500 steps from the shipped plain decoder); on a
# machine without either folder it starts from the newest committed snapshot
# (snapshots/vgg16-hed/latest/decoder.safetensors, written at the end of a session), else from the
# shipped decoder (INIT=path overrides; a plain decoder starts it with the gates closed); a new
# start has a fresh optimiser, and the manifest's init_decoder_entry records what it started from.
# The plain decoder's recipe before 2026-12-02 (reconstruction warm start, adain128aug, adain128ema)
# is in docs/decoder-training.md and, command by command, in the manifests of the decoders it made.
# Before a session ends:
#   .venv/bin/adain train --run-dir "$RUNS/multilevel" --export snapshots/vgg16-hed/latest/decoder.safetensors --export-only
set -eu
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/work/runs}
DATA=${DATA:-../shared/data}
STEPS=${STEPS:-100000}
THREADS=${THREADS:-2}
A=".venv/bin/adain"
MAIN="$RUNS/multilevel"
# since 2026-12-03 the run goes on in the 128-px arm of the crop-size A/B (tools/ab_crop_size.sh),
# forked from $RUNS/multilevel at its step 3,800: continue that one where it exists
if [ -f "$RUNS/ab-crop-128/checkpoint.pt" ]; then MAIN="$RUNS/ab-crop-128"; fi
AB="$RUNS/ab-multilevel"
RECIPE=(--content "$DATA/content" --style "$DATA/style" --run-dir "$MAIN" --steps "$STEPS" --batch-size 4
  --crop-size 128 --resize-shorter 256 --lr 1e-4 --lr-decay 5e-5 --content-weight 1 --style-weight 10
  --style-zoom 0.7,2.0 --style-color-jitter 0.3 --ema-decay 0.999 --decoder multilevel --skip-lr 1e-3
  --selection-fraction 0.1 --checkpoint-every 200 --checkpoint-minutes 10 --sample-every 250 --log-every 10
  --threads "$THREADS" --no-progress)

SNAPSHOT=snapshots/vgg16-hed/latest/decoder.safetensors
SHIPPED=src/adain/weights/shipped/vgg16-hed-decoder.safetensors
if [ -f "$MAIN/checkpoint.pt" ]; then
  $A train --resume --content "$DATA/content" --style "$DATA/style" --run-dir "$MAIN" --steps "$STEPS" \
    --threads "$THREADS" --no-progress
elif [ -f "$AB/checkpoint.pt" ]; then
  $A train --fork "$AB" "${RECIPE[@]}"
else
  INIT=${INIT:-$( [ -f "$SNAPSHOT" ] && echo "$SNAPSHOT" || echo "$SHIPPED")}
  $A train --init "$INIT" "${RECIPE[@]}"
fi
