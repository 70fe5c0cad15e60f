#!/usr/bin/env bash
# Train the second-stage candidate classifier (mcseg/weights/candidate_classifier.npz) on top of the
# bundled networks (issue 15: false-positive control on real anatomy).
#
# Its images are new draws (seeds 3101-3104; the networks were trained on seeds 2027-2030 and are
# evaluated on 9000-9213) over the same training-only backgrounds as the networks:
#   ffdm-*    40 FFDM-like and plain phantoms at 0.05-0.2 mm, 30% 8-bit
#   plain-*   10 phantoms as wave 1 made them (0.07 mm)
#   cbis-*    10 with calcifications in the CBIS-DDSM films of patient P_00173, 0.05-0.14 mm
#   mias-*    30 with calcifications in mini-MIAS normal films of patients 1-80 (0.2 mm)
#   mias_normal_*  60 of those normal films as they are, with empty labels (real false positives)
# Calcification contrast is uniform in 2-20 times the local noise except for plain-* (the default
# mix). Held out as for the networks: CBIS P_00820, mini-MIAS patients 81-161, the vendor FFDMs.
#
# `mcseg train-classifier` runs the pipeline on every image, labels each listed candidate by the
# evaluation's hit rule, fits the classifier on 80% of the images and calibrates its threshold to
# 1 FP/image on the other 20%; its choice rule (README, "The candidate classifier") is printed.
# COUNT_SCALE=0.1 makes a smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${OUT:-runs/candidate-classifier}
SHARED=${SHARED:-../shared/data}
SCALE=${COUNT_SCALE:-1}
MCSEG=.venv/bin/mcseg
DATA="$OUT/data"
n() { python3 -c "import sys; print(max(1, round($1 * $SCALE)))"; }

if [ ! -f "$OUT/data.done" ]; then
  mkdir -p "$DATA" "$OUT/mias-normals"
  mapfile -t NORMALS < <(awk '$3=="NORM" && substr($1,4)+0 <= 160 {print $1}' "$SHARED/mini-mias/Info.txt" \
                         | sort -u | awk -v d="$SHARED/mini-mias/png" '{print d "/" $1 ".png"}')
  $MCSEG negatives "$OUT/mias-normals" "${NORMALS[@]}" --spacing-mm 0.2 --prefix mias_normal_ --no-progress
  $MCSEG synth "$DATA" -n "$(n 40)" --seed 3101 --pixel-sizes-mm 0.05 0.07 0.085 0.1 0.12 0.14 0.17 0.2 \
      --ffdm-share 0.6 --eight-bit-share 0.3 --contrast-range 2 20 --prefix ffdm --no-progress
  $MCSEG synth "$DATA" -n "$(n 10)" --seed 3102 --prefix plain --no-progress
  $MCSEG synth "$DATA" -n "$(n 10)" --seed 3103 --mode real-background \
      --backgrounds "$SHARED/cbis-ddsm-sample/cases/sfm-benign-0" --pixel-sizes-mm 0.05 0.07 0.1 0.14 \
      --eight-bit-share 0.3 --contrast-range 2 20 --prefix cbis --no-progress
  $MCSEG synth "$DATA" -n "$(n 30)" --seed 3104 --mode real-background --backgrounds "$OUT/mias-normals" \
      --pixel-sizes-mm 0.2 --contrast-range 2 20 --prefix mias --no-progress
  # every second normal film: 60 of the 103
  ls "$OUT"/mias-normals/*.dcm | awk 'NR % 2 == 1' | head -n "$(n 60)" | while read -r f; do
    stem=$(basename "$f" .dcm); cp "$OUT/mias-normals/$stem".* "$DATA"/; done
  touch "$OUT/data.done"
fi
$MCSEG train-classifier "$DATA" -o "$OUT" --no-progress "$@"
echo "trained into $OUT; copy $OUT/candidate_classifier.npz to mcseg/weights/ only if the choice rule says so"
