"""The GPU check's worker half: one job of each kind through a real Celery worker.

A private redis-server, a fresh SQLite database, and the worker as production runs it
(`celery -A webapp worker -P prefork -c 1`, README "Workers and GPUs"). Checked:
- CUDA is initialised in the pool child only, never in the parent that forks it: the
  driver library (libcuda.so) is mapped into the child and not into the parent
  (/proc/<pid>/maps), before and after the jobs;
- the staff dashboard page's worker record names the GPU and its memory, as the CUDA
  device the check itself sees;
- a stylize, a detect and a train job, posted like the pages post them, succeed on the
  worker's device (each job's result says which).
On a machine without CUDA the same runs happen on the CPU and the CUDA-only rows say
"no CUDA". Settings: `bench.gpu_settings` (the site's, less the daphne app).
Called by bench/gpu_check.py; returns its table rows as dicts.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.localstack import ROOT, setup_django, start_redis, worker_args

JOB_TIMEOUT_S = 300  # a job, the worker's first model load included
LIBCUDA = re.compile(r"/libcuda\.so")


def row(what: str, **fields) -> dict:
    return {"section": "worker", "what": what, **fields}


def maps_cuda(pid: int) -> bool:
    """Whether the CUDA driver library is mapped into process `pid` (CUDA initialised)."""
    return bool(LIBCUDA.search(Path(f"/proc/{pid}/maps").read_text()))


def cuda_context_pids() -> list[int] | None:
    """Processes holding a CUDA context, as nvidia-smi sees them (None without nvidia-smi).
    Informative only: in a container nvidia-smi may not see this namespace's pids."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return [int(p) for p in out.split() if p.isdigit()]


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def jpeg(picture: Image.Image, name: str) -> io.BytesIO:
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=92)
    buffer.seek(0)
    buffer.name = name
    return buffer


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    """The worker as README "Workers and GPUs" starts it, in its own process group."""
    return subprocess.Popen(
        worker_args(level="info", name="gpucheck@%h"),
        cwd=ROOT,
        env={**env, "STUDIO_WORKER_QUEUES": "gpu,default"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the main process (warm shutdown: the child deregisters), then SIGKILL
    to the whole group for anything left."""
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(5)


def submit_jobs(client, quick: bool) -> dict[str, str]:
    """Post one job of each kind like the pages do; {kind: job id}."""
    from bench.gpu_check import photos
    from playground.presets import preset
    from playground.train.services import input_shape_for
    from webapp.jobs import job_create
    from webapp.models import Job

    china, flower = photos()
    ids: dict[str, str] = {}
    style = {
        "preset": "standard",
        "size": 64 if quick else 512,
        "steps": 6 if quick else 50,
        "levels": 1 if quick else 2,
        "coarse_steps": 0 if quick else 50,
        "style_weight": 3,
        "content_weight": 1,
        "tv_weight": 0,
        "optimizer": "lbfgs",
        "learning_rate": 0.02,
        "init": "content",
        "pooling": "max",
        "preserve_color": "none",
        "seed": 0,
    }
    response = client.post(
        "/style/", {**style, "content": jpeg(china, "china.jpg"), "gallery": ["swirl"]}
    )
    if response.status_code != 302:
        raise RuntimeError(f"the style form answered {response.status_code}")
    ids["stylize"] = response["Location"].rstrip("/").split("/")[-1]
    response = client.post(
        "/detect/",
        {
            "conf": "0.25",
            "iou": "0.45",
            "pictures": [jpeg(china, "china.jpg"), jpeg(flower, "flower.jpg")],
        },
    )
    if response.status_code != 302:
        raise RuntimeError(f"the detection form answered {response.status_code}")
    ids["detect"] = response["Location"].rstrip("/").split("/")[-1]
    shape = input_shape_for(dataset="shapes")
    params = {
        "spec": preset("lenet5", shape),
        "preset": "lenet5",
        "dataset": "shapes",
        "image_size": 32,
        "max_samples": 400 if quick else 2000,
        "val_fraction": 0.2,
        "optimizer": "adam",
        "lr": 0.003,
        "batch_size": 64,
        "epochs": 2,
        "weight_decay": 0.0,
        "init": "default",
        "seed": 0,
        "activation_sample": 0,
        "augment": {"hflip": True, "vflip": False, "rotate": 10.0, "shift": 1, "color": 0.1},
    }
    user = Job.objects.get(pk=ids["detect"]).user
    ids["train"] = str(job_create(user=user, kind="train", params=params, title="GPU check").id)
    return ids


def worker_rows(*, quick: bool) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-worker-"))
    log = tmp / "worker.log"
    redis, url = start_redis(tmp)
    os.environ["REDIS_URL"] = url
    os.environ["ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"  # Django's test client
    env = setup_django(
        tmp, redis_db=0, DJANGO_SETTINGS_MODULE="bench.gpu_settings", LOG_LEVEL="INFO"
    )
    from django.contrib.auth import get_user_model
    from django.test import Client

    from webapp.models import Job, JobStatus, Worker

    rows: list[dict] = []
    worker = start_worker(env, log)
    try:

        def registered():
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited:\n{log.read_text()[-3000:]}")
            return [w for w in Worker.objects.all() if parent_pid(w.pid) == worker.pid]

        record = wait(registered, 120, "the worker's pool child to register")[0]
        cuda_parent_before, cuda_child_before = maps_cuda(worker.pid), maps_cuda(record.pid)

        staff = get_user_model().objects.create_user("gpucheck", password="x", is_staff=True)
        client = Client()
        client.force_login(staff)
        started = time.monotonic()
        ids = submit_jobs(client, quick)
        for kind, job_id in ids.items():

            def ended(job_id=job_id):
                job = Job.objects.get(pk=job_id)
                return job if job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) else None

            job = wait(ended, JOB_TIMEOUT_S, f"the {kind} job")
            device = job.result.get("device") or job.metrics.get("device", "?")
            on_cuda = "cuda" in str(device).lower() or "nvidia" in str(device).lower()
            seconds = (job.finished_at - job.started_at).total_seconds()
            rows.append(
                row(
                    f"a {kind} job through the worker",
                    cpu=f"on {device}",
                    cuda=f"{job.status} in {seconds:.1f} s" if on_cuda else "",
                    ok=job.status == JobStatus.SUCCEEDED,
                    limit="succeeds on the worker's device",
                    data={
                        "job": job_id,
                        "status": job.status,
                        "error": job.error,
                        "device": device,
                        "run_s": seconds,
                        "on_cuda": on_cuda,
                    },
                )
            )
        rows.append(
            row("all three jobs, queued to finished", cpu=f"{time.monotonic() - started:.1f} s")
        )

        cuda_parent_after, cuda_child_after = maps_cuda(worker.pid), maps_cuda(record.pid)
        contexts = cuda_context_pids()
        page = client.get("/staff/dashboard/").content.decode()
        stats = json.loads(re.search(r'id="dash-initial"[^>]*>(.*?)</script>', page, re.S)[1])
        shown = [w for w in stats["workers"] if w["name"] == record.name]
    finally:
        stop(worker)
        redis.terminate()
        redis.wait(10)
        if os.environ.get("OUT"):
            shutil.copy(log, Path(os.environ["OUT"]) / "gpu_worker.log")

    import torch  # here, not in the worker: its parent was started with exec, not forked from us

    cuda = torch.cuda.is_available()
    fork = row(
        "CUDA initialised in the pool child only, after the fork",
        cpu=f"parent maps libcuda: {cuda_parent_before} before jobs, {cuda_parent_after} after",
        limit="parent never; child yes",
        data={
            "parent_pid": worker.pid,
            "child_pid": record.pid,
            "parent": [cuda_parent_before, cuda_parent_after],
            "child": [cuda_child_before, cuda_child_after],
            "nvidia_smi_context_pids": contexts,
        },
    )
    parent_clean = not (cuda_parent_before or cuda_parent_after)
    if cuda:
        fork["cuda"] = (
            f"child maps libcuda: {cuda_child_before} before jobs, {cuda_child_after} after"
        )
        fork["ok"] = parent_clean and cuda_child_after
    else:
        fork["skipped"], fork["ok"] = "no CUDA", parent_clean or None
    rows.append(fork)

    board = row(
        "the dashboard's worker record names the device and its memory",
        cpu=f"{shown[0]['device']}, {shown[0]['memory_mb']} MB" if shown else "missing",
        data={"dashboard": shown},
    )
    if not shown:
        board["ok"] = False
    elif cuda:
        props = torch.cuda.get_device_properties(0)
        expected = (props.name, props.total_memory // 2**20)
        board["cuda"] = f"expected {expected[0]}, {expected[1]} MB"
        board["ok"] = (shown[0]["device"], shown[0]["memory_mb"]) == expected
    else:
        board["skipped"] = "no CUDA"
    rows.append(board)
    if cuda:
        for r in rows:
            if r["what"].endswith("through the worker") and not r["data"]["on_cuda"]:
                r["ok"] = False  # a GPU worker that ran a job on the CPU
    return rows
