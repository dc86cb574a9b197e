"""Loaded by pytest before Django (`-p tests.testenv` in pyproject.toml): test defaults.

The worker and web-server processes the tests start inherit this environment, so they
see the same Redis database, channel prefix, media folder and fast timings.
"""

import os
import tempfile

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
    "LOG_LEVEL": "WARNING",
    "PYTHONUNBUFFERED": "1",
    # Two cores shared by the test process, workers and a browser: one thread each keeps
    # torch from oversubscribing (measured ~30x slower training with two threads here).
    "OMP_NUM_THREADS": "1",
}
for key, value in DEFAULTS.items():
    os.environ.setdefault(key, value)
