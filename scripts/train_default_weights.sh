#!/usr/bin/env bash
# Reproduce the bundled default weights (mcseg/weights/*.pt): wave 2, real anatomy and real pixel sizes.
#
# The networks start from the wave-1 weights (300 synthetic / CBIS P_00173 images at 0.07 mm, the
# command of commit 7c76f96) and are fine-tuned on a training folder that looks more like what users
# have (issue 15):
#   synth-*   100 phantoms at pixel sizes drawn from 0.05-0.2 mm, 60% with the FFDM-like vendor
#             processing (mcseg/synth/ffdm.py), 30% stored as 8-bit values in 16 bits
#   plain-*   40 phantoms as wave 1 made them (0.07 mm), so the synthetic figures hold
#   cbis-*    40 with calcifications inserted into the CBIS-DDSM films of patient P_00173, at
#             0.05-0.14 mm, 30% 8-bit
#   mias-*    40 with calcifications inserted into real mini-MIAS normal films (0.2 mm, 8-bit)
#   mias_normal_*  the 103 mini-MIAS normal images of patients 1-80 (mdb001-mdb160) as they are,
#             with empty labels: real anatomy to learn as background and to mine false positives on
# Held out from all of it, for the evaluation: CBIS patient P_00820, mini-MIAS patients 81-161
# (mdb161-mdb322) and every calcification image of mini-MIAS, and the three vendor FFDMs.
#
# Then one round of fine-tuning (up to 1500 steps per network at the fine-tuning rate), one round of
# hard-negative mining and fine-tuning, and calibration to 1 false positive per validation image.
# COUNT_SCALE=0.05 makes a smoke run of the same steps.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
STEPS=${STEPS:-1500}
source scripts/default_training_data.sh  # builds $DATA once ($OUT/data.done)
$MCSEG train "$DATA" -o "$OUT" --init-from mcseg/weights --steps "$STEPS" --finetune-steps "$STEPS" \
    --validate-every 100 --mining-rounds 1 --seed 0 --no-progress "$@"
echo "trained into $OUT; the choice rule (README, 'The default weights') decides whether they are copied to mcseg/weights/"
