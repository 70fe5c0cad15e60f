#!/usr/bin/env bash
# The package as a user installs it: build the wheel, install it into a clean virtual
# environment (torch first, as scripts/setup.sh does, then the wheel with the project's pins),
# and run `mcseg demo` from outside the repository, so nothing is imported from the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m venv "$WORK/venv"
PIP=("$WORK/venv/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install -c requirements/constraints.txt torch==2.13.0
# Build from a copy, so the build leaves nothing (build/, *.egg-info) in the checkout.
mkdir "$WORK/src"
tar -C "$ROOT" --exclude=./.venv --exclude=./.git --exclude=./build --exclude=./runs --exclude='*.egg-info' \
  -cf - . | tar -C "$WORK/src" -xf -
"${PIP[@]}" wheel --no-deps -w "$WORK/dist" "$WORK/src"
"${PIP[@]}" install -c requirements/constraints.txt -c requirements.txt "$WORK"/dist/mcseg-*.whl
cd "$WORK"
"$WORK/venv/bin/mcseg" demo -o "$WORK/demo-out" --no-progress
for stem in demo_synthetic_0000 demo_synthetic_0001 demo_real_background_0000 cbis-ddsm_P_00820_RIGHT_CC; do
  test -s "$WORK/demo-out/$stem.json" && test -s "$WORK/demo-out/$stem.mask.nrrd" || {
    echo "check_wheel: mcseg demo from the installed wheel did not write $stem" >&2; exit 1; }
done
# The wheel carries the candidate classifier as well as the networks, and the demo used it.
"$WORK/venv/bin/python" -c "import json, sys; d = json.load(open('$WORK/demo-out/demo_synthetic_0000.json')); \
  sys.exit(0 if 'candidate_classifier' in d['weights'] else 'the wheel ran without its candidate classifier')"
# ... and the coarse-pixel weights for inputs of 0.08 mm and coarser (COARSE_INPUT_MIN_SPACING_MM).
"$WORK/venv/bin/python" -c "from mcseg.pipeline import Pipeline; import sys; \
  sys.exit(0 if Pipeline.from_weights().coarse is not None else 'the wheel has no coarse-pixel weights')"
"$WORK/venv/bin/python" -c "import mcseg, pathlib, sys; p = pathlib.Path(mcseg.__file__).resolve(); \
  sys.exit(0 if not str(p).startswith('$ROOT') else f'mcseg imported from the checkout: {p}')"
echo "check_wheel: the wheel installs into a clean venv and mcseg demo works"
