#!/usr/bin/env bash
# The test suite (the README's second command). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# -p no:cacheprovider: CI runs on a read-only-friendly clean clone.
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
