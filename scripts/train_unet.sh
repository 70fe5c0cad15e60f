#!/usr/bin/env bash
# Train the bundled weights of Marita et al.'s U-Net for calcifications (mcseg/weights/unet.pt,
# issue 19 item 2) on the training folder of the default weights (scripts/default_training_data.sh),
# the same images the pipeline and the cluster CNN were trained on.
#
# The rule for the bundled weights, written before any evaluation image was run with them: one run,
# seed 0, on that folder at COUNT_SCALE=0.5 (162 images, the cluster CNN's folder), up to the
# paper's 100 epochs but no epoch started after MAX_MINUTES=30 of training (2 CPU cores here), the
# epoch of best Dice on the held-out images' ROIs kept, binarised at the paper's 0.5.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/default_training_data.sh
$MCSEG train-unet "$DATA" -o "${UNET_OUT:-runs/unet}" --epochs "${EPOCHS:-100}" --max-minutes "${MAX_MINUTES:-30}" \
    --seed 0 --no-progress "$@"
