#!/usr/bin/env bash
# Make sure Redis answers at $REDIS_URL (default 127.0.0.1:6379); start one if not.
set -euo pipefail
URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
HOSTPORT=${URL#redis://}; HOSTPORT=${HOSTPORT%%/*}; HOSTPORT=${HOSTPORT##*@}
HOST=${HOSTPORT%%:*}; PORT=${HOSTPORT##*:}; [ "$PORT" = "$HOST" ] && PORT=6379
if .venv/bin/python -c "import redis,sys; redis.Redis.from_url('$URL', socket_timeout=2).ping()" 2>/dev/null; then
  echo "==> Redis answers at $HOST:$PORT"
  exit 0
fi
if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing redis-server (apt)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "Redis is not running at $HOST:$PORT and redis-server is not installed." >&2
    echo "Install it (e.g. 'sudo apt-get install redis-server' or 'brew install redis') or set REDIS_URL." >&2
    exit 1
  fi
fi
echo "==> starting redis-server on $HOST:$PORT"
mkdir -p data
redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save "" --appendonly no \
  --dir "$(pwd)/data" --logfile "$(pwd)/data/redis.log"
for _ in $(seq 50); do
  .venv/bin/python -c "import redis; redis.Redis.from_url('$URL').ping()" 2>/dev/null && exit 0
  sleep 0.2
done
echo "redis-server did not come up; see data/redis.log" >&2
exit 1
