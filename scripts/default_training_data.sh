# The training folder of the bundled weights (wave 2), built once into $DATA ($OUT/data.done marks it).
# Sourced by the training scripts (scripts/train_*.sh) after scripts/setup.sh; what each group is:
# scripts/train_default_weights.sh. Settings (environment): OUT (default runs/default-weights-2),
# SHARED (../shared/data), COUNT_SCALE (1: every count of the bundled weights' folder).
OUT=${OUT:-runs/default-weights-2}
SHARED=${SHARED:-../shared/data}
SCALE=${COUNT_SCALE:-1}
MCSEG=.venv/bin/mcseg
DATA="$OUT/data"
n() { python3 -c "import sys; print(max(1, round($1 * $SCALE)))"; }
PIXELS="0.05 0.07 0.085 0.1 0.12 0.14 0.17 0.2"
if [ ! -f "$OUT/data.done" ]; then
  mkdir -p "$DATA" "$OUT/mias-normals"
  # mini-MIAS normals of patients 1-80 (images mdb001-mdb160); Info.txt rows "mdbNNN G NORM"
  mapfile -t NORMALS < <(awk '$3=="NORM" && substr($1,4)+0 <= 160 {print $1}' "$SHARED/mini-mias/Info.txt" \
                         | sort -u | head -n "$(n 103)" | awk -v d="$SHARED/mini-mias/png" '{print d "/" $1 ".png"}')
  $MCSEG negatives "$OUT/mias-normals" "${NORMALS[@]}" --spacing-mm 0.2 \
      --prefix mias_normal_ --no-progress
  $MCSEG synth "$DATA" -n "$(n 100)" --seed 2027 --pixel-sizes-mm $PIXELS --ffdm-share 0.6 \
      --eight-bit-share 0.3 --prefix synth --no-progress
  $MCSEG synth "$DATA" -n "$(n 40)" --seed 2030 --prefix plain --no-progress
  $MCSEG synth "$DATA" -n "$(n 40)" --seed 2028 --mode real-background \
      --backgrounds "$SHARED/cbis-ddsm-sample/cases/sfm-benign-0" --pixel-sizes-mm 0.05 0.07 0.1 0.14 \
      --eight-bit-share 0.3 --prefix cbis --no-progress
  $MCSEG synth "$DATA" -n "$(n 40)" --seed 2029 --mode real-background --backgrounds "$OUT/mias-normals" \
      --pixel-sizes-mm 0.2 --prefix mias --no-progress
  cp "$OUT"/mias-normals/* "$DATA"/
  touch "$OUT/data.done"
fi
