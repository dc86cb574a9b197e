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
# The second-host tests (tests/multihost) forward the link with socat; without it (or
# without root) they are skipped with the reason.
if ! command -v socat >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> installing socat (apt) for the second-host tests"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat iproute2 >/dev/null
fi
NODE=${NODE:-$(command -v node || command -v nodejs || true)}
if [ -z "$NODE" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing nodejs (apt) for the JavaScript unit tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null
    NODE=$(command -v node || command -v nodejs)
  else
    echo "The JavaScript unit tests need Node.js 20 or newer: install the 'nodejs' package (or set NODE=/path)." >&2
    exit 1
  fi
fi
if [ ! -f node_modules/axe-core/axe.min.js ]; then
  echo "==> npm ci (axe-core, for the accessibility checks of the browser tests)"
  if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  fi
  npm ci --no-audit --no-fund
fi
start=$(date +%s)
set +e
echo "==> node --test tests/js/ ($("$NODE" --version))"
"$NODE" --test tests/js/
node_status=$?
echo "==> pytest (database: ${DATABASE_URL:-SQLite})"
.venv/bin/python -m pytest "$@"
pytest_status=$?
set -e
echo "==> tests took $(( $(date +%s) - start )) s"
[ $node_status = 0 ] || echo "==> the JavaScript unit tests failed (see above)" >&2
[ $pytest_status = 0 ] || exit $pytest_status
exit $node_status
