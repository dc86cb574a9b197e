"""Loaded by pytest before Django (`-p tests.testenv` in pyproject.toml): test defaults.

The worker and web-server processes the tests start inherit this environment, so they
see the same Redis, channel prefix, media folder and fast timings. Unless REDIS_URL is
set, each run starts a Redis server of its own.
"""

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time

_run = f"{os.getpid()}"
DEFAULTS = {
    "STUDIO_EXTRA_JOB_KINDS": "tests.webapp.testkind",
    "REDIS_URL": "redis://127.0.0.1:6379/13",
    "CHANNELS_PREFIX": f"studio-test-{_run}",
    "MEDIA_ROOT": tempfile.mkdtemp(prefix="studio-test-media-"),
    # A file (not :memory:) so the worker processes share it; one per run, so two runs
    # on one machine do not trample each other.
    "SQLITE_TEST_NAME": os.path.join(tempfile.gettempdir(), f"studio-test-{_run}.sqlite3"),
    "JOB_HEARTBEAT_S": "0.5",
    "JOB_STALE_AFTER_S": "4",
    "JOB_REAPER_INTERVAL_S": "1",
    "JOB_PUBLISH_INTERVAL_S": "0.05",
    "JOB_CANCEL_POLL_S": "0.1",
    "DASHBOARD_PUSH_INTERVAL_S": "0.5",
    "USER_MAX_ACTIVE_JOBS": "20",
    # Every test signs up and logs in from 127.0.0.1; the throttling tests set their own.
    "SIGNUP_MAX_PER_ADDRESS": "10000",
    "LOGIN_MAX_FAILURES_PER_ADDRESS": "10000",
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
    # Two cores shared by the test process, workers and a browser: one thread each keeps
    # torch from oversubscribing (measured ~30x slower training with two threads here).
    "OMP_NUM_THREADS": "1",
}


def _own_redis() -> str | None:
    """Start a private redis-server for this test run, so that parallel runs on one
    machine never share queues; None when no redis-server binary is installed."""
    binary = shutil.which("redis-server")
    if not binary:
        return None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    atexit.register(proc.kill)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return f"redis://127.0.0.1:{port}/0"
        time.sleep(0.05)
    proc.kill()
    return None


if "REDIS_URL" not in os.environ:
    DEFAULTS["REDIS_URL"] = _own_redis() or DEFAULTS["REDIS_URL"]
for key, value in DEFAULTS.items():
    os.environ.setdefault(key, value)
