#!/usr/bin/env bash
# Builds the reference virtual environment for benchmarks whose oracle cannot live in the main
# venv: mlfinpy 0.1.2 pins numpy<1.27 and numba 0.60, the project needs numpy 2.x.
# Idempotent: does nothing when bench/.venv-ref already has mlfinpy. Prints the python path.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${ALPHALOOP_REF_VENV:-$HERE/.venv-ref}"
PYTHON="${PYTHON:-python3.11}"
MLFINPY_VERSION="0.1.2"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import mlfinpy" >/dev/null 2>&1; then
  echo "$VENV/bin/python"
  exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "need $PYTHON on PATH" >&2; exit 1; }
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
echo "*" > "$VENV/.gitignore"  # keep the reference venv out of git (what Python 3.13's venv does)
"$VENV/bin/python" -m pip install -q --upgrade pip >&2
"$VENV/bin/python" -m pip install -q "mlfinpy==$MLFINPY_VERSION" "scikit-learn>=1.3,<1.8" >&2  # mlfinpy imports sklearn without declaring it
"$VENV/bin/python" -c "import mlfinpy" >&2
echo "$VENV/bin/python"
