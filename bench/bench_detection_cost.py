"""What detection jobs cost: the web process's memory under hostile uploads, and the
worker's peak memory and run time per job (the figures `detection.services.estimate`
is fitted to; docs/detection.md, docs/faults.md).

    .venv/bin/python bench/bench_detection_cost.py web [--repeats 3]
    .venv/bin/python bench/bench_detection_cost.py worker

`web`: a real daphne (started as the tests start it) on a throw-away SQLite database;
one user posts, `--repeats` times, a 120 KB zip of 24 blank 1-bit PNGs of 6324x6324
(2.9 GB once decoded), then a zip of 5 of them (200 million pixels: inside the request
budget, so queued). Prints the web process's resident memory before and after.

`worker`: for each setting a fresh Celery worker runs one job posted through the form;
prints the pool process's peak resident memory (VmHWM, model load included) and the
job's run time (started -> finished) against the estimate.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import Browser, rss_mb  # noqa: E402
from localstack import setup_django, start_daphne, start_redis  # noqa: E402

PASSWORD = "cost-pass-123"
# (pictures, width, height) of the jobs `worker` measures
SETTINGS = [(1, 640, 480), (20, 640, 480), (1, 4000, 3000), (5, 4000, 3000), (1, 6324, 6324)]


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def post_files(client: Browser, path: str, files: list[tuple[str, bytes]]) -> int:
    """POST the detection form with these files; the answer's status."""
    pictures = [("pictures", name, data) for name, data in files]
    return client.post_form(path, {"conf": "0.25", "iou": "0.45"}, pictures, timeout=600)


def blank_zip(count: int, side: int = 6324) -> bytes:
    from PIL import Image

    png = io.BytesIO()
    Image.new("1", (side, side)).save(png, "PNG")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # as the issue sent it
        for i in range(count):
            archive.writestr(f"p{i:02d}.png", png.getvalue())
    return out.getvalue()


def photo_jpeg(width: int, height: int) -> bytes:
    """A real photo (scikit-learn's china.jpg) stretched to width x height."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    photo = Image.fromarray(load_sample_image("china.jpg")).resize((width, height))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=90)
    return out.getvalue()


def start_worker(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    from webapp.models import Worker

    Worker.objects.all().delete()
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "gpu,default", "-c",
         "1", "-P", "prefork", "--without-gossip", "--without-mingle", "-l", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    for _ in range(600):
        row = Worker.objects.first()
        if row is not None:
            return worker, row.pid
        time.sleep(0.2)
    raise RuntimeError("the worker did not start")


def measure_web(client: Browser, daphne: subprocess.Popen, repeats: int) -> dict:
    hostile, inside = blank_zip(24), blank_zip(5)
    client.get("/detect/")  # first form render: imports and caches
    result = {"zip_bytes": len(hostile), "rss_mb_start": round(rss_mb(daphne.pid), 1)}
    for i in range(repeats):
        started = time.perf_counter()
        status = post_files(client, "/detect/", [("pixels.zip", hostile)])
        result[f"hostile_{i + 1}"] = {
            "status": status,
            "seconds": round(time.perf_counter() - started, 2),
            "rss_mb": round(rss_mb(daphne.pid), 1),
        }
    status = post_files(client, "/detect/", [("five.zip", inside)])
    result["five_pictures"] = {"status": status, "rss_mb": round(rss_mb(daphne.pid), 1)}
    result["peak_rss_mb"] = round(status_kb(daphne.pid, "VmHWM") / 1024, 1)
    return result


def measure_worker(client: Browser, env: dict[str, str]) -> list[dict]:
    from detection.services import estimate
    from webapp.jobkinds import Budget
    from webapp.models import Job

    rows = []
    for count, width, height in SETTINGS:
        photo = photo_jpeg(width, height)
        files = [(f"p{i:02d}.jpg", photo) for i in range(count)]
        assert post_files(client, "/detect/", files) == 200, "the form refused the job"
        job = Job.objects.order_by("-created_at").first()
        worker, child = start_worker(env)
        try:
            while Job.objects.filter(pk=job.pk, finished_at__isnull=True).exists():
                time.sleep(0.2)
            peak_mb = status_kb(child, "VmHWM") / 1024
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(60)
        job.refresh_from_db()
        cost = estimate(job.params, Budget(memory_mb=8192, runtime_s=7200))
        rows.append({
            "pictures": count, "size": f"{width}x{height}", "status": job.status,
            "pixels_m": round(job.params["pixels"] / 1e6, 1),
            "largest_m": round(job.params["largest_pixels"] / 1e6, 1),
            "peak_mb": round(peak_mb), "estimate_mb": round(cost.memory_mb),
            "run_s": round((job.finished_at - job.started_at).total_seconds(), 2),
            "estimate_s": round(cost.runtime_s, 2),
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["web", "worker"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        redis, redis_url = start_redis(tmp)
        try:
            env = setup_django(tmp, redis_db=0, REDIS_URL=redis_url, USER_MAX_ACTIVE_JOBS="100")
            from django.contrib.auth import get_user_model

            get_user_model().objects.create_user(username="cost", password=PASSWORD)
            daphne, port = start_daphne(env)
            try:
                client = Browser(f"http://127.0.0.1:{port}")
                client.login("cost", PASSWORD)
                if args.what == "web":
                    print(json.dumps(measure_web(client, daphne, args.repeats), indent=1))
                else:
                    measure_worker(client, env)
            finally:
                daphne.terminate()
                daphne.wait(30)
        finally:
            redis.terminate()
            redis.wait(10)


if __name__ == "__main__":
    main()
