"""Load on the web tier, with the stack running locally (issue 6's figures, issue 16's
dashboard history and /metrics).

    .venv/bin/python bench/bench_load.py [--jobs 100000] [--submissions 200] [--threads 4]
    .venv/bin/python bench/bench_load.py --dashboard-only   # parts 2 and 5 only

1. Job submissions per second the web tier accepts: logged-in users POST the detection
   form (one small PNG each) to a real daphne, from `--threads` client threads; no
   worker runs, so jobs stay queued (the per-user limit is lifted for the run).
2. The staff dashboard with `--jobs` rows in the job table: median and p95 of the page
   and of the stats the dashboard websocket pushes (`dashboard_stats`), target < 300 ms.
3. One real worker then runs those jobs: jobs per second, and its pool process's memory
   after a tenth of them and after all of them.
4. Resident memory of the web process before and after (nothing should grow unbounded).
5. The operator's console on those `--jobs` rows: the history charts (last hour and last
   day) beside a peer that computes the day's history the plain ORM way (model datetimes
   read back and bucketed in Python, as `dashboard_stats` does its medians), reported as
   a ratio; and a `/metrics` scrape, in process and over HTTP.

Uses a throw-away SQLite database unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import io
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from localstack import percentile, setup_django, start_daphne, worker_args  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Browser:
    """A cookie-keeping HTTP client that logs in and posts forms with their CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def get(self, path: str) -> bytes:
        with self.opener.open(self.base + path, timeout=60) as resp:
            return resp.read()

    def login(self, username: str, password: str) -> None:
        self.get("/accounts/login/")
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": self.csrf()}
        ).encode()
        self.opener.open(urllib.request.Request(self.base + "/accounts/login/", body), timeout=60)

    def post_form(
        self,
        path: str,
        fields: dict[str, str],
        files: list[tuple[str, str, bytes]],
        *,
        timeout: float = 60,
    ) -> int:
        """POST a multipart form (with the CSRF token) and files given as (field, file
        name, bytes); the answer's status, an error status included."""
        boundary = uuid.uuid4().hex
        fields = {"csrfmiddlewaretoken": self.csrf(), **fields}
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        for field, filename, data in files:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                + data
                + b"\r\n"
            )
        parts.append(f"--{boundary}--\r\n".encode())
        request = urllib.request.Request(
            self.base + path,
            b"".join(parts),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Referer": self.base + path,
            },
        )
        try:
            with self.opener.open(request, timeout=timeout) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def post_picture(self, path: str, picture: bytes) -> int:
        return self.post_form(
            path, {"conf": "0.25", "iou": "0.45"}, [("pictures", "p.png", picture)]
        )


def small_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, "PNG")
    return out.getvalue()


def make_users(n: int, password: str) -> list[str]:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    names = [f"load{i}" for i in range(n)]
    for name in names:
        User.objects.create_user(username=name, password=password)
    User.objects.create_user(username="loadstaff", password=password, is_staff=True)
    return names


def fill_jobs(count: int) -> None:
    """`count` finished and failed jobs spread over the last week, in batches."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from webapp.models import Job, JobStatus

    users = list(get_user_model().objects.all())
    now = timezone.now()
    states = [JobStatus.SUCCEEDED] * 8 + [JobStatus.FAILED, JobStatus.CANCELLED]
    kinds = ["detect"] * 6 + ["stylize"] * 2 + ["train"] * 2
    rng = random.Random(0)
    batch = []
    for _ in range(count):
        created = now - timedelta(seconds=rng.uniform(0, 7 * 86400))
        started = created + timedelta(seconds=rng.uniform(0.1, 30))
        status = rng.choice(states)
        batch.append(
            Job(
                user=rng.choice(users),
                kind=rng.choice(kinds),
                status=status,
                created_at=created,
                queued_at=created,
                started_at=started,
                finished_at=started + timedelta(seconds=rng.uniform(1, 300)),
                progress=1.0,
                error="worker lost" if status == JobStatus.FAILED else "",
            )
        )
        if len(batch) == 5000:
            Job.objects.bulk_create(batch)
            batch = []
    Job.objects.bulk_create(batch)


def drain_with_a_worker(env: dict[str, str], jobs: int) -> dict[str, object]:
    """Run the queued detection jobs through one real worker; its pool child's memory
    after the first tenth of them and after all of them shows whether anything grows."""
    from webapp.models import Job, Worker

    worker = subprocess.Popen(
        worker_args(level="warning"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def done() -> int:
            return Job.objects.filter(status__in=["succeeded", "failed"]).count()

        started = time.perf_counter()
        while done() < max(1, jobs // 10):
            time.sleep(0.5)
        child = Worker.objects.get().pid
        early = rss_mb(child)
        while done() < jobs:
            time.sleep(0.5)
        return {
            "worker_jobs_done": done(),
            "worker_jobs_failed": Job.objects.filter(status="failed").count(),
            "worker_jobs_per_s": round(jobs / (time.perf_counter() - started), 1),
            "worker_rss_mb_after_10pct": round(early, 1),
            "worker_rss_mb_after_all": round(rss_mb(child), 1),
        }
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(30)


def submit_and_drain(env: dict[str, str], clients: list[Browser], args) -> dict[str, object]:
    """Parts 1 and 3: detection jobs posted from every client at once, then run by a worker."""
    from webapp.models import Job

    picture = small_png()
    per_thread = args.submissions // args.threads
    statuses: list[int] = []

    def submit(client: Browser) -> None:
        for _ in range(per_thread):
            statuses.append(client.post_picture("/detect/", picture))

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    accepted = Job.objects.filter(status="queued").count()
    return {
        "submissions": len(statuses),
        "accepted_jobs": accepted,
        "submissions_per_s": round(accepted / elapsed, 1),
        **drain_with_a_worker(env, accepted),
    }


def history_the_plain_orm_way(window_s: int, step_s: int) -> dict:
    """The peer: the same finished-per-bucket, wait and run medians and p95, from model
    datetimes read back row by row (what our EpochSeconds queries avoid)."""
    from collections import defaultdict
    from datetime import timedelta

    from django.utils import timezone

    from webapp.dashboard import percentile as nearest_rank
    from webapp.models import Job

    now = timezone.now()
    since = now - timedelta(seconds=window_s)
    buckets: dict[int, dict[str, list]] = defaultdict(lambda: {"wait": [], "run": []})
    rows = Job.objects.filter(finished_at__gte=since, started_at__isnull=False).values_list(
        "kind", "queued_at", "started_at", "finished_at"
    )
    for _kind, queued, started, finished in rows:
        b = buckets[int((finished - since).total_seconds() // step_s)]
        b["wait"].append((started - queued).total_seconds())
        b["run"].append((finished - started).total_seconds())
    return {
        i: (len(b["run"]), statistics.median(b["wait"]), nearest_rank(b["run"], 0.95))
        for i, b in buckets.items()
    }


def time_ms(fn, repeat: int = 20) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def console_figures(staff: Browser) -> dict[str, object]:
    """Part 5: the history charts beside the peer, and /metrics."""
    from webapp.dashboard import dashboard_history
    from webapp.metrics import metrics_text

    out: dict[str, object] = {}
    hour = time_ms(lambda: dashboard_history(window="hour"))
    day = time_ms(lambda: dashboard_history(window="day"))
    peer = time_ms(lambda: history_the_plain_orm_way(86400, 900))
    metrics = time_ms(metrics_text, repeat=10)
    scrape = time_ms(lambda: staff.get("/metrics"), repeat=10)
    out["history_hour_ms_p50"] = round(statistics.median(hour), 1)
    out["history_day_ms_p50"] = round(statistics.median(day), 1)
    out["history_day_ms_p95"] = round(percentile(day, 95), 1)
    out["peer_orm_history_day_ms_p50"] = round(statistics.median(peer), 1)
    out["history_day_speedup_vs_peer"] = round(statistics.median(peer) / statistics.median(day), 2)
    out["metrics_ms_p50"] = round(statistics.median(metrics), 1)
    out["metrics_http_ms_p50"] = round(statistics.median(scrape), 1)
    out["metrics_http_ms_p95"] = round(percentile(scrape, 95), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--max-dashboard-ms",
        type=float,
        default=300.0,
        help="exit 1 when the dashboard page's p95 is slower than this",
    )
    parser.add_argument(
        "--dashboard-only",
        action="store_true",
        help="skip the submissions and the worker (parts 1 and 3)",
    )
    args = parser.parse_args()
    password = "load-pass-123"
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = setup_django(Path(tmp), redis_db=11, USER_MAX_ACTIVE_JOBS="1000000")
        users = make_users(args.threads, password)
        daphne, port = start_daphne(env)
        base = f"http://127.0.0.1:{port}"
        try:
            results["web_rss_mb_start"] = round(rss_mb(daphne.pid), 1)
            clients = []
            for name in users:
                client = Browser(base)
                client.login(name, password)
                client.get("/detect/")  # warm up: first form render
                clients.append(client)
            from webapp.models import Job

            if not args.dashboard_only:
                results.update(submit_and_drain(env, clients, args))

            fill_jobs(args.jobs)
            results["jobs_in_table"] = Job.objects.count()
            from webapp.dashboard import dashboard_stats

            stats_ms = []
            for _ in range(20):
                t0 = time.perf_counter()
                dashboard_stats()
                stats_ms.append((time.perf_counter() - t0) * 1000)
            staff = Browser(base)
            staff.login("loadstaff", password)
            page_ms = []
            for _ in range(20):
                t0 = time.perf_counter()
                staff.get("/staff/dashboard/")
                page_ms.append((time.perf_counter() - t0) * 1000)
            results["dashboard_stats_ms_p50"] = round(statistics.median(stats_ms), 1)
            results["dashboard_stats_ms_p95"] = round(percentile(stats_ms, 95), 1)
            results["dashboard_page_ms_p50"] = round(statistics.median(page_ms), 1)
            results["dashboard_page_ms_p95"] = round(percentile(page_ms, 95), 1)
            results.update(console_figures(staff))
            results["web_rss_mb_end"] = round(rss_mb(daphne.pid), 1)
        finally:
            daphne.terminate()
            daphne.wait(10)
    for key, value in results.items():
        print(f"{key:28} {value}")
    print(json.dumps(results))
    if results["dashboard_page_ms_p95"] > args.max_dashboard_ms:
        sys.exit(f"dashboard p95 {results['dashboard_page_ms_p95']} ms > {args.max_dashboard_ms}")
    if results.get("worker_jobs_failed"):
        sys.exit(f"{results['worker_jobs_failed']} jobs failed")


if __name__ == "__main__":
    main()
