#!/usr/bin/env bash
# Train the bundled SVM cascade of Cortina et al.'s pipeline 1 (mcseg/weights/cortina_svm_cascade.npz,
# issue 19 item 3) on the training folder of the default weights (scripts/default_training_data.sh).
#
# The rule for the bundled cascade, written before any evaluation image was run with it: one run,
# seed 0, on that folder at COUNT_SCALE=0.5 (162 images, the cluster CNN's and the U-Net's folder),
# grayscale-morphology candidates (the report's choice), C = 1 and scikit-learn's "scale" gamma (the
# report's grid search is not repeated), stage 1's threshold at 98% of the validation positives.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/default_training_data.sh
$MCSEG train-cortina "$DATA" -o "${CORTINA_OUT:-runs/cortina}" --candidates "${CANDIDATES:-gm}" --seed 0 \
    --no-progress "$@"
