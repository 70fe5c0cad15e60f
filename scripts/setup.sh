#!/usr/bin/env bash
# Set up .venv with CPU PyTorch, MONAI Label and the pinned dependencies.
# Idempotent: re-running with unchanged requirements does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.mcseg-requirements.sha256
want=$(cat requirements.txt requirements/constraints.txt scripts/setup.sh pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c "import mcseg, monailabel" 2>/dev/null; then
  exit 0
fi
echo "setting up $VENV (a few minutes the first time)..." >&2
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
# 1. torch first, from the constraint, so nothing later can pull a CUDA build.
"${PIP[@]}" install -c requirements/constraints.txt torch==2.13.0
# 2. monailabel without its declared dependencies: some of them (sam2, a CUDA
#    torchvision) cannot work on a CPU machine; its real runtime needs are pinned
#    in requirements.txt instead.
"${PIP[@]}" install --no-deps monailabel==0.8.5
# 3. everything else, exactly pinned.
"${PIP[@]}" install -c requirements/constraints.txt -r requirements.txt
"${PIP[@]}" install --no-deps --no-build-isolation -e . >/dev/null
"$VENV/bin/python" -c "import torch, monai, monailabel, mcseg" 
echo "$want" > "$STAMP"
