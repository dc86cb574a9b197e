#!/usr/bin/env bash
# The test command: set up (dev requirements, models, Redis, Chromium), run every test.
# Extra arguments go to pytest, e.g. `scripts/test.sh -k lifecycle`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements-dev.txt
scripts/redis.sh
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing chromium (apt) for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Chromium: install the 'chromium' package (or set CHROMIUM=/path)." >&2
    exit 1
  fi
fi
echo "==> pytest (database: ${DATABASE_URL:-SQLite})"
start=$(date +%s)
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
echo "==> tests took $(( $(date +%s) - start )) s"
exit $status
