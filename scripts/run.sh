#!/usr/bin/env bash
# The run command: set everything up, then start web + worker + scheduler together.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements.txt
scripts/redis.sh
.venv/bin/python manage.py collectstatic --noinput -v0
cat <<MSG

  CNN Studio is starting on http://${STUDIO_HOST:-127.0.0.1}:${STUDIO_PORT:-8000}
  Sign up on the site, or make an admin (staff dashboard, /admin) in another terminal:
      .venv/bin/python manage.py createsuperuser
  Stop with Ctrl-C.

MSG
exec .venv/bin/honcho start -f Procfile
