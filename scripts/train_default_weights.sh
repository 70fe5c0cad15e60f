#!/usr/bin/env bash
# Reproduce the bundled default weights (mcseg/weights/*.pt).
#
# 300 training images of 1400 x 1000 px at 0.07 mm: about half fully synthetic,
# half synthetic calcifications inserted into real CBIS-DDSM film backgrounds
# of patient P_00173 only, so that patient P_00820 (whose films the tests, the
# demo and the benchmarks use) stays unseen. Then both networks are trained,
# each round (from scratch, then two of hard-negative mining) up to 4000 steps,
# early stopping deciding: capped at 1500, the segmentator's fine-tuning rounds
# were still improving when cut off.
# About 55 minutes on 2 CPU cores; the patch store takes 3.9 GB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${OUT:-runs/default-weights}
BACKGROUNDS=${BACKGROUNDS:-../shared/data/cbis-ddsm-sample/cases/sfm-benign-0}
MCSEG=.venv/bin/mcseg
[ -f "$OUT/data/synth_0299.dcm" ] || $MCSEG synth "$OUT/data" -n 300 --seed 2026 --mode mixed --backgrounds "$BACKGROUNDS"
$MCSEG train "$OUT/data" -o "$OUT" --steps 4000 --validate-every 100 --mining-rounds 2 --finetune-steps 4000 --seed 0 "$@"
cp "$OUT/detector.pt" "$OUT/segmentator.pt" mcseg/weights/
cp "$OUT/training.json" mcseg/weights/training.json
echo "default weights updated in mcseg/weights/"
