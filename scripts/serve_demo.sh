#!/usr/bin/env bash
# Set up (once), then serve the demo mammograms to 3D Slicer's MONAI Label panel.
#
#   bash scripts/serve_demo.sh [--port 8000] [extra start_server arguments, e.g. --conf spacing_mm 0.05]
#
# The studies folder is runs/demo-studies (a copy of the images in mcseg/data/demo,
# without their ground truth), trained models go to runs/demo-model. Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PORT=8000
if [ "${1:-}" = "--port" ]; then PORT=$2; shift 2; fi
STUDIES=${STUDIES:-runs/demo-studies}
mkdir -p "$STUDIES"
for f in mcseg/data/demo/*.dcm; do
  [ -e "$STUDIES/$(basename "$f")" ] || cp "$f" "$STUDIES/"
done
export MONAI_LABEL_SESSION_PATH=${MONAI_LABEL_SESSION_PATH:-runs/sessions}
export MONAI_LABEL_TRACKING_ENABLED=${MONAI_LABEL_TRACKING_ENABLED:-false}
echo "serving $STUDIES on http://127.0.0.1:$PORT (connect 3D Slicer's MONAI Label panel to this address)"
exec .venv/bin/python -m monailabel.main start_server --app apps/mc_segmentation --studies "$STUDIES" \
  --host 127.0.0.1 --port "$PORT" --conf models_dir runs/demo-model "$@"
