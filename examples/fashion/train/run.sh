#!/usr/bin/env bash
# Regenerate examples/fashion/data/* from scratch:
#   - Fashion-MNIST from Debian's package dataset-fashion-mnist
#     (/usr/share/datasets/fashion-mnist/*.gz), installed with apt-get if missing
#   - Python deps (pinned in requirements.txt) into a venv at $VENV (default ./.venv)
#   - train.py trains + exports, verify.py checks the export with plain numpy
# Set VENV=none to use the current python3 without creating a venv.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y dataset-fashion-mnist ||
      { apt-get update && apt-get install -y dataset-fashion-mnist; }
  else
    echo "Fashion-MNIST missing; install it as root with:" >&2
    echo "  sudo apt-get install -y dataset-fashion-mnist" >&2
    exit 1
  fi
fi

VENV="${VENV:-.venv}"
if [ "$VENV" = none ]; then
  PY=python3
else
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  PY="$VENV/bin/python"
fi
"$PY" -m pip install --disable-pip-version-check -q -r requirements.txt

"$PY" train.py
"$PY" verify.py
