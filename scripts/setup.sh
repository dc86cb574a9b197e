#!/usr/bin/env bash
# Shared set-up for `make run` and `make test`: virtual environment, pinned packages,
# model files, database. Safe to run again; it skips what is already done.
#   scripts/setup.sh [requirements-file]
set -euo pipefail
cd "$(dirname "$0")/.."
REQS=${1:-requirements.txt}
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements.txt "$REQS" | sha256sum | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  echo "==> installing $REQS (torch is large: the first time takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$REQS"
  touch "$stamp"
fi

echo "==> model files (checked by SHA-256)"
.venv/bin/python manage.py fetch_models

echo "==> database"
.venv/bin/python manage.py migrate --noinput -v0
