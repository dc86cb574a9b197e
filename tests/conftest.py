"""Fixtures that start the real parts: Celery workers and an ASGI server as separate
processes, on the real Redis and the test database that pytest-django created."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop running in this
    thread from the first browser test on, and `asyncio.run` refuses to nest in it."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 30,
    interval: float = 0.1,
    what: str = "condition",
):
    """Poll until `predicate()` is truthy; return its value or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_job_done(job, timeout: float = 60):
    """Wait until `job` reaches a final state; return it refreshed."""
    from webapp.models import FINAL_STATES

    def done():
        job.refresh_from_db()
        return job.status in FINAL_STATES

    wait_for(done, timeout=timeout, what=f"job {job.id} to finish")
    return job


def countdown_on(queue: str, *, user, kind: str = "countdown", **params):
    """A test job (a countdown unless `kind` says) sent to `queue`, where only the
    worker a test started listens."""
    from django.db import transaction

    from webapp.jobs import job_create

    with transaction.atomic():  # the message leaves on commit, to the queue set here
        job = job_create(user=user, kind=kind, params=params)
        job.queue = queue
        job.save(update_fields=["queue"])
    return job


def require_model_file(name: str) -> None:
    """Skip the calling test when a model file from `fetch_models` is absent."""
    from webapp.modelfiles import ModelFileError, model_path

    try:
        model_path(name)
    except ModelFileError as exc:
        pytest.skip(str(exc))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def database_url() -> str:
    """The test database as a URL, for the processes the tests start."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Process:
    """A child process in its own process group, with its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole group (a Celery worker and its pool children)."""
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.popen.wait(5)
        self.kill(signal.SIGKILL)  # any orphaned pool child
        self._log.close()


def _pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


class Stack:
    """Starts workers and web servers that share the test database and Redis."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        self.log_dir = log_dir
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            **env,
        }
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # only the test process needs it
        self.processes: list[Process] = []
        self._count = 0

    def worker(
        self, queues: str = "gpu,default", name: str | None = None, loglevel: str = "warning"
    ) -> Process:
        from webapp.models import Worker

        self._count += 1
        name = name or f"w{self._count}"
        proc = Process(
            f"worker-{name}",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webapp",
                "worker",
                "-Q",
                queues,
                "-c",
                "1",
                "-P",
                "prefork",
                "-n",
                f"{name}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                loglevel,
            ],
            {**self.env, "STUDIO_WORKER_QUEUES": queues},
            self.log_dir,
        )
        self.processes.append(proc)

        def registered():
            assert proc.popen.poll() is None, f"worker died:\n{proc.log()}"
            return {w.name for w in Worker.objects.all() if parent_pid(w.pid) == proc.pid}

        proc.worker_names = wait_for(registered, timeout=60, what=f"worker {name} to start")
        return proc

    def beat(self) -> Process:
        """The scheduler that runs the reaper every JOB_REAPER_INTERVAL_S."""
        proc = Process(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "webapp",
                "beat",
                "-l",
                "warning",
                "-s",
                str(self.log_dir / "beat-schedule"),
            ],
            self.env,
            self.log_dir,
        )
        self.processes.append(proc)
        return proc

    def redis(self) -> Process:
        """A Redis of this stack's own (for tests that restart it), at self.env's REDIS_URL."""
        port = int(self.env["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])
        proc = Process(
            f"redis-{port}",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            self.env,
            self.log_dir,
        )
        self.processes.append(proc)
        wait_for(lambda: _pings(self.env["REDIS_URL"]), timeout=20, what="redis-server to start")
        return proc

    def web(self, port: int | None = None) -> tuple[Process, str]:
        port = port or free_port()
        proc = Process(
            f"web-{port}",
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
            self.env,
            self.log_dir,
        )
        self.processes.append(proc)

        def listening():
            assert proc.popen.poll() is None, f"web server died:\n{proc.log()}"
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_for(listening, timeout=60, what="the web server to listen")
        return proc, f"http://127.0.0.1:{port}"

    def redis_llen(self, queue: str) -> int:
        return redis.Redis.from_url(settings.REDIS_URL).llen(queue)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()


@pytest.fixture(scope="session")
def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at {settings.REDIS_URL} ({exc}); `make test` starts it"
        )
    client.flushdb()  # messages left by an earlier, interrupted run
    return client


@pytest.fixture(scope="session")
def stack(django_db_setup, django_db_blocker, redis_client, tmp_path_factory):
    """A real Celery worker and a real ASGI server, shared by the tests of a session."""
    with django_db_blocker.unblock():
        s = Stack(tmp_path_factory.mktemp("stack-logs"))
        try:
            s.worker(name="main")
            s.web_proc, s.base_url = s.web()
            yield s
        finally:
            s.stop()


@pytest.fixture
def make_user(db):
    def make(username: str = "ada", *, staff: bool = False, password: str = "pw-for-tests-1"):
        return get_user_model().objects.create_user(
            username=username, password=password, is_staff=staff
        )

    return make


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def ws_collect(
    url: str, *, cookie: str | None, origin: str, until: Callable[[dict], bool], timeout: float = 30
) -> list[dict]:
    """Connect a real websocket client and gather messages until `until(msg)` holds."""
    from websockets.asyncio.client import connect

    headers = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"} if cookie else {}
    received: list[dict] = []
    async with connect(url, origin=origin, additional_headers=headers, open_timeout=10) as ws:
        async with asyncio.timeout(timeout):
            async for raw in ws:
                msg = json.loads(raw)
                received.append(msg)
                if until(msg):
                    break
    return received


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    """Real headless Chromium (Debian's), driven by Playwright."""
    from playwright.sync_api import sync_playwright

    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        pytest.fail("Chromium is not installed; `make test` installs it (apt package chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests
    # make between browser steps are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


# Runs before each document's own scripts (Playwright injects it past the page's policy).
_CSP_REPORTER = """document.addEventListener("securitypolicyviolation", (e) => console.error(
  `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline code"}`
  + ` in ${e.sourceFile}:${e.lineNumber}`));"""


def watch_csp(page) -> list[str]:
    """Collect every Content-Security-Policy violation on `page` (Chromium also logs them)."""
    violations: list[str] = []
    page.add_init_script(_CSP_REPORTER)

    def on_console(msg) -> None:
        if msg.type == "error" and (
            msg.text.startswith("CSP violation") or "Content Security Policy" in msg.text
        ):
            violations.append(msg.text)

    page.on("console", on_console)
    return violations


@pytest.fixture
def page(browser, stack, tmp_path):
    """A fresh browser context on the live site; a screenshot is kept when a test fails.
    The test fails if any page it opened broke the Content-Security-Policy."""
    context = browser.new_context(base_url=stack.base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors
    violations = watch_csp(pg)
    yield pg
    shots = ROOT / "data" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    test_name = os.environ.get("PYTEST_CURRENT_TEST", "page").split(" ")[0]
    pg.screenshot(path=str(shots / (re.sub(r"[^\w.-]", "_", test_name) + ".png")), full_page=True)
    context.close()
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)


def browser_login(page, user, password: str = "pw-for-tests-1") -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
