"""What the web-tier benchmarks share: a throw-away Django set-up and a real daphne."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def worker_args(*, level: str, name: str | None = None) -> list[str]:
    """The Celery worker as the Procfile starts it: both queues, one prefork child."""
    args = [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "gpu,default",
            "-c", "1", "-P", "prefork", "--without-gossip", "--without-mingle",
            "-l", level]  # fmt: skip
    return args + (["-n", name] if name else [])


def setup_django(tmp: Path, *, redis_db: int, **extra: str) -> dict[str, str]:
    """Configure Django on a fresh database (SQLite in `tmp` unless DATABASE_URL is set)
    and migrate it; returns the environment for the server processes."""
    env = {
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{tmp / 'bench.sqlite3'}"),
        "REDIS_URL": os.environ.get("REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}"),
        "CHANNELS_PREFIX": f"bench-{os.getpid()}",
        "MEDIA_ROOT": str(tmp / "media"),
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {**os.environ, **env}


def start_daphne(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    """The ASGI server as `make run` starts it, on a free port; (process, port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(os.environ.get("BENCH_DAPHNE_LOG", os.devnull), "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "webapp.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.1)
    raise RuntimeError("daphne did not start")


def start_redis(tmp: Path | None = None) -> tuple[subprocess.Popen, str]:
    """A private redis-server on a free port (its files, if any, in `tmp`); its URL."""
    import shutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [shutil.which("redis-server") or "redis-server", "--port", str(port),
            "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]  # fmt: skip
    if tmp is not None:
        args += ["--dir", str(tmp)]
    redis = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    return redis, f"redis://127.0.0.1:{port}/0"
