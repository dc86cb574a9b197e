"""Several machines, measured on this one (issue 24's figures), ratios in one run.

    .venv/bin/python bench/bench_multihost.py [--detect-jobs 12] [--repeats 5] [--stream-mb 256]
        [--parts 1,2,3]

1. Added time of the object store against local files: the same style job and the same
   detection job, each `--repeats` times, on a worker whose files are local and on one
   whose files are in the S3 server (moto's, its own process); the job's own run time
   (claimed to finished, from the database), median, after one warm-up job per worker.
2. Throughput of short detection jobs with one worker host against two: `--detect-jobs`
   jobs sent at once, then the time from the first sent to the last finished; the second
   host is a worker in its own network and mount namespaces (tests/multihost/harness.py),
   over its veth link (root only; skipped, saying so, elsewhere).
3. The web process's resident memory while it streams a `--stream-mb` result from the
   store (sampled every 50 ms), to a client that reads as fast as it can (what a
   buffering proxy in front does) and to one that reads at 16 MB/s: flat means the file
   never sits in the web process whole.

Uses a throw-away SQLite database, a private Redis and a private S3 server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import rss_mb  # noqa: E402
from localstack import setup_django, start_redis  # noqa: E402

# A style job of a size people start from the page (the tests' one is a few steps).
STYLE_JOB = {"size": 128, "steps": 20}


def run_seconds(job) -> float:
    job.refresh_from_db()
    assert job.status == "succeeded", (job.kind, job.error)
    return (job.finished_at - job.started_at).total_seconds()


def storage_overhead(site, store, user, repeats: int) -> dict[str, dict[str, float]]:
    """Median run time of a style and a detection job, local files vs the object store."""
    from tests.conftest import Stack, wait_job_done
    from tests.multihost.conftest import site_settings
    from tests.multihost.kinds import start
    from webapp.models import Job

    out: dict[str, dict[str, float]] = {}
    for mode, storage_url in (("local", ""), ("s3", store.url())):
        stack = Stack(site.log_dir, **{**site.env, "STORAGE_URL": storage_url})
        with site_settings(storage_url=storage_url, redis_url=site.redis_url):
            worker = stack.worker(name=f"bench-{mode}", queues="gpu,default")
            try:
                for kind in ("stylize", "detect"):
                    changes = STYLE_JOB if kind == "stylize" else {}
                    wait_job_done(start(kind, user, **changes), timeout=600)  # models loaded
                    times = [
                        run_seconds(wait_job_done(start(kind, user, **changes), timeout=600))
                        for _ in range(repeats)
                    ]
                    out.setdefault(kind, {})[mode] = statistics.median(times)
                    if mode == "s3":  # what one such job asked of the store
                        job = Job.objects.filter(kind=kind).latest("created_at")
                        out[kind]["requests"] = store_requests(store, job)
                out.setdefault("one request", {})[mode] = request_seconds()
            finally:
                worker.stop()
    return out


def store_requests(store, job) -> int:
    """Requests the S3 server logged for `job`'s files (uploads, reads, writes)."""
    return sum(1 for line in store.proc.log().splitlines() if f"/jobs/{job.id}/" in line)


def request_seconds(size: int = 100_000, repeats: int = 30) -> float:
    """Median time of one whole write and one read of `size` bytes in the storage in use
    (the size of a preview or a result picture), per request."""
    from webapp.storage import storage_read, storage_save

    times = []
    for i in range(repeats):
        began = time.perf_counter()
        storage_save(f"bench/probe-{i % 3}.bin", b"x" * size)
        storage_read(f"bench/probe-{i % 3}.bin")
        times.append((time.perf_counter() - began) / 3)  # save (exists + PUT) + HEAD + GET
    return statistics.median(times)


def throughput(site, store, user, jobs: int, second_host) -> dict[str, float]:
    """Jobs per second for `jobs` short detection jobs: one host, then two."""
    from tests.conftest import Stack, wait_job_done
    from tests.multihost.conftest import site_settings, start_second_host_worker
    from tests.multihost.kinds import start

    out: dict[str, float] = {}
    stack = Stack(site.log_dir, **{**site.env, "STORAGE_URL": store.url()})
    with site_settings(storage_url=store.url(), redis_url=site.redis_url):
        first = stack.worker(name="bench-h1", queues="gpu,default")
        try:
            wait_job_done(start("detect", user), timeout=600)
            for hosts in (1, 2):
                if hosts == 2:
                    if second_host is None:
                        break
                    h2 = start_second_host_worker(second_host, site, name="bench-h2")
                    wait_job_done(start("detect", user), timeout=600)  # its warm-up
                began = time.monotonic()
                sent = [start("detect", user) for _ in range(jobs)]
                for job in sent:
                    wait_job_done(job, timeout=900)
                out[f"{hosts} host"] = jobs / (time.monotonic() - began)
            if second_host is not None:
                h2.stop()
        finally:
            first.stop()
    return out


def stream_memory(site, store, user, megabytes: int) -> dict[str, dict[str, float]]:
    """The web process's RSS before and while it streams a big stored result, to a
    client that reads as fast as it can (as a buffering proxy does) and to one that
    reads at 16 MB/s."""
    from django.conf import settings

    from tests.conftest import session_cookie
    from tests.multihost.conftest import site_settings
    from webapp.jobs import job_create

    out: dict[str, dict[str, float]] = {}
    with site_settings(storage_url=store.url(), redis_url=site.redis_url):
        job = job_create(user=user, kind="countdown-parked", params={})
        store.client().upload_fileobj(
            _Zeros(megabytes * 2**20), "studio-test", f"media/{job.storage_prefix}/big.bin"
        )
        cookie = f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}"
        for client, pause_s in (("fast client", 0.0), ("16 MB/s client", 1 / 16)):
            pid = site.web_proc.pid
            before, samples, done = rss_mb(pid), [], threading.Event()

            def sample(pid=pid, samples=samples, done=done) -> None:
                while not done.wait(0.05):
                    samples.append(rss_mb(pid))

            threading.Thread(target=sample, daemon=True).start()
            request = urllib.request.Request(
                f"{site.base_url}/jobs/{job.id}/files/big.bin", headers={"Cookie": cookie}
            )
            got, began = 0, time.monotonic()
            with urllib.request.urlopen(request, timeout=300) as response:
                while chunk := response.read(1 << 20):
                    got += len(chunk)
                    time.sleep(pause_s)
            done.set()
            assert got == megabytes * 2**20, got
            out[client] = {"before_mb": before, "peak_mb": max(samples),
                           "seconds": time.monotonic() - began}  # fmt: skip
            time.sleep(2)  # let the process settle between the two
    return out


class _Zeros:
    """A file-like of `size` zero bytes, read in pieces (never held whole)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return b"\0" * n


def report_overhead(overhead: dict[str, dict[str, float]]) -> None:
    print("1. object store vs local files (median run time of a job, s)")
    one = overhead.pop("one request")
    extra = one["s3"] - one["local"]
    print(f"   one request of 100 kB: local {one['local'] * 1000:.1f} ms, "
          f"s3 {one['s3'] * 1000:.1f} ms")  # fmt: skip
    for kind, modes in overhead.items():
        added = modes["s3"] / modes["local"] - 1
        estimate = modes["requests"] * extra / modes["local"]
        print(f"   {kind:8s} local {modes['local']:.2f}  s3 {modes['s3']:.2f}  "
              f"measured {added * 100:+.1f} %; {modes['requests']} requests to the store "
              f"x {extra * 1000:.1f} ms = {estimate * 100:+.1f} % (goal <= 5 %)")  # fmt: skip


def make_second_host(site, tmp: Path):
    """The tests' second host (namespaces, veth, forwarders) for the site."""
    from tests.multihost.conftest import _second_host_env
    from tests.multihost.harness import SecondHost

    host = SecondHost(tmp, tmp / "host2")
    (tmp / "host2").mkdir()
    host.up()
    host.forward(int(site.redis_url.rsplit(":", 1)[1].split("/")[0]))
    host.forward(site.store.port)
    host.env = _second_host_env(site, host)
    return host


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--detect-jobs", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stream-mb", type=int, default=256)
    parser.add_argument("--parts", default="1,2,3", help="which of the three to run")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-multihost-"))
    redis_proc, redis_url = start_redis(tmp)
    env = setup_django(
        tmp, redis_db=0, REDIS_URL=redis_url, STUDIO_EXTRA_JOB_KINDS="tests.webapp.testkind",
        USER_MAX_ACTIVE_JOBS="1000", JOB_STALE_AFTER_S="30",
    )  # fmt: skip
    from django.contrib.auth import get_user_model
    from django.test.utils import setup_test_environment

    from tests.conftest import Stack, free_port
    from tests.multihost.harness import CREDENTIALS, ObjectStore, namespaces_unavailable

    setup_test_environment()  # the test client's host name is allowed
    store = ObjectStore(tmp, free_port())
    store.start()
    site = Stack(tmp, **{**env, **CREDENTIALS, "STORAGE_URL": store.url()})
    site.redis_url, site.media, site.store = redis_url, tmp / "media", store
    second_host = None
    try:
        site.web_proc, site.base_url = site.web()
        user = get_user_model().objects.create_user("bench", password="pw-for-bench-1")
        parts = set(args.parts.split(","))
        if "1" in parts:
            report_overhead(storage_overhead(site, store, user, args.repeats))
        if "2" in parts:
            why = namespaces_unavailable()
            if not why:
                second_host = make_second_host(site, tmp)
            print(f"2. {args.detect_jobs} short detection jobs, jobs/s"
                  + (f" (no second host: {why})" if why else ""))  # fmt: skip
            rates = throughput(site, store, user, args.detect_jobs, second_host)
            for hosts, rate in rates.items():
                print(f"   {hosts}: {rate:.3f}")
            if len(rates) == 2:
                ratio = rates["2 host"] / rates["1 host"]
                print(f"   two hosts / one: {ratio:.2f}x (goal >= 1.8)")
        if "3" in parts:
            print(f"3. web process RSS while streaming {args.stream_mb} MB from the store")
            for client, mem in stream_memory(site, store, user, args.stream_mb).items():
                grew = mem["peak_mb"] - mem["before_mb"]
                print(f"   {client}: before {mem['before_mb']:.0f} MB, "
                      f"peak {mem['peak_mb']:.0f} MB (+{grew:.0f} MB) "
                      f"over {mem['seconds']:.1f} s")  # fmt: skip
    finally:
        if second_host is not None:
            second_host.down()
        site.stop()
        store.stop()
        redis_proc.kill()


if __name__ == "__main__":
    main()
