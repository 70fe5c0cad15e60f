#!/usr/bin/env bash
# Train the bundled weights of Marita et al.'s U-Net for masses (mcseg/weights/unet_masses.pt, issue 19
# item 2) on the only mass annotations this project may use: the mini-MIAS mass circles (CIRC, SPIC,
# MISC rows of Info.txt) of patients 1-80 (images mdb001-mdb160). Patients 81-161 are the evaluation's
# (benchmarks/compare_models.py, set mini-mias-masses).
#
# The rule for the bundled weights, written before any evaluation image was run with them: one run,
# seed 0, up to the paper's 100 epochs but no epoch started after MAX_MINUTES=10 of training, the
# epoch of best Dice on the held-out images' ROIs kept, binarised at the paper's 0.5.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${OUT:-runs/unet-masses}
SHARED=${SHARED:-../shared/data}
MCSEG=.venv/bin/mcseg
if [ ! -f "$OUT/data.done" ]; then
  mapfile -t MASSES < <(awk '($3=="CIRC" || $3=="SPIC" || $3=="MISC") && substr($1,4)+0 <= 160 {print $1}' \
                        "$SHARED/mini-mias/Info.txt" | sort -u | awk -v d="$SHARED/mini-mias/png" '{print d "/" $1 ".png"}')
  $MCSEG negatives "$OUT/data" "${MASSES[@]}" --spacing-mm 0.2 --prefix mias_mass_ \
      --mias-masses "$SHARED/mini-mias/Info.txt" --no-progress
  touch "$OUT/data.done"
fi
$MCSEG train-unet "$OUT/data" -o "$OUT" --finding mass --epochs "${EPOCHS:-100}" --max-minutes "${MAX_MINUTES:-10}" \
    --seed 0 --no-progress "$@"
