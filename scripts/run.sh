#!/usr/bin/env bash
# The run command: set everything up, then start web + worker + scheduler together.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements.txt
scripts/redis.sh
.venv/bin/python manage.py collectstatic --noinput -v0
body_mb=$(( ${UPLOAD_MAX_REQUEST_BYTES:-104857600} / 1048576 ))
cat <<MSG

  CNN Studio is starting on http://${STUDIO_HOST:-127.0.0.1}:${STUDIO_PORT:-8000}
  Sign up on the site, or make an admin (staff dashboard, /admin) in another terminal:
      .venv/bin/python manage.py createsuperuser
  Request bodies: the site refuses one over ${body_mb} MB from its headers, but daphne
  reads a whole body (chunked too) before the site sees it. Facing the internet, put a
  proxy in front that stops it at the door, e.g. nginx: client_max_body_size ${body_mb}m;
  (README, "Behind a proxy").
  Stop with Ctrl-C.

MSG
exec .venv/bin/honcho start -f Procfile
