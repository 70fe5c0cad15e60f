#!/usr/bin/env bash
# Train the bundled weights of Cortina et al.'s pipeline 3 (mcseg/weights/cortina_detector.pt, issue 19):
# MONAI's RetinaNet on 224 x 224 px windows, its backbone started from the bundled pipeline 2 network,
# on the training folder of the default weights (scripts/default_training_data.sh), the same images the
# two-stage pipeline was trained on. The rule the bundled weights were chosen by, written here before
# any evaluation image was run: one run, seed 0, up to the report's 15 epochs of 100 minibatches of 6
# windows but none started after MAX_MINUTES (25), the epoch of best AP at IoU 0.5 on the held-out
# images' windows, the 0.5 threshold.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/default_training_data.sh
$MCSEG train-cortina-detector "$DATA" -o "${DETECTOR_OUT:-runs/cortina-detector}" --epochs 15 \
    --max-minutes "${MAX_MINUTES:-25}" --seed 0 --no-progress "$@"
echo "copy ${DETECTOR_OUT:-runs/cortina-detector}/cortina_detector.pt to mcseg/weights/ to ship it"
