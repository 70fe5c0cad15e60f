#!/usr/bin/env bash
# Train the bundled weights of Luna-Lozoya et al.'s shallow cluster CNN (mcseg/weights/cluster_cnn.pt,
# issue 19) on the training folder of the default weights (scripts/default_training_data.sh: synthetic
# phantoms at many pixel sizes, calcifications inserted into real CBIS-DDSM and mini-MIAS films, real
# mini-MIAS normals), the same images the two-stage pipeline was trained on.
# COUNT_SCALE scales the folder (the bundled weights: COUNT_SCALE=0.5); EPOCHS the epochs (paper: 100).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
EPOCHS=${EPOCHS:-100}
source scripts/default_training_data.sh
$MCSEG train-cluster-cnn "$DATA" -o "${CLUSTER_OUT:-runs/cluster-cnn}" --epochs "$EPOCHS" --seed 0 --no-progress "$@"
