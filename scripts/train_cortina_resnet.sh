#!/usr/bin/env bash
# Train the bundled weights of Cortina et al.'s pipeline 2 (mcseg/weights/cortina_resnet.pt, issue 19):
# the ResNet classifier of 16 x 16 px patches, on the training folder of the default weights
# (scripts/default_training_data.sh: phantoms at 0.05-0.2 mm, calcifications inserted into real
# CBIS-DDSM and mini-MIAS films, real mini-MIAS normals), the same images the two-stage pipeline was
# trained on. The rule the bundled weights were chosen by, written here before any evaluation image was
# run: one run, seed 0, up to the report's 30 epochs of 200 minibatches but none started after
# MAX_MINUTES (20), the epoch of best AUROC on the held-out images' patches, the paper's 0.5 threshold.
# COUNT_SCALE scales a folder made anew (the bundled weights: the full folder, COUNT_SCALE=1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/default_training_data.sh
$MCSEG train-cortina-resnet "$DATA" -o "${RESNET_OUT:-runs/cortina-resnet}" --epochs 30 \
    --max-minutes "${MAX_MINUTES:-20}" --seed 0 --no-progress "$@"
echo "copy ${RESNET_OUT:-runs/cortina-resnet}/cortina_resnet.pt to mcseg/weights/ to ship it"
