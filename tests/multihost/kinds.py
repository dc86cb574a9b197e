"""One small job of each kind, started through its real form (or service), watched over
the site's real websocket, its result files fetched from the site's real file view."""

from __future__ import annotations

import asyncio
import io
import json
import re
import urllib.request

import av
from django.conf import settings
from django.test import Client
from PIL import Image

from tests.conftest import session_cookie, ws_collect
from tests.detection.test_worker import oranges_png
from webapp.models import Job

TRAIN = {
    "spec": [
        {"type": "conv2d", "filters": 4, "kernel": 3, "padding": 1},
        {"type": "relu"},
        {"type": "globalavgpool"},
    ],
    "preset": "", "dataset": "stripes", "image_size": 16, "max_samples": 160,
    "val_fraction": 0.25, "optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 1,
    "weight_decay": 0.0, "init": "he", "seed": 1, "activation_sample": 2,
    "augment": {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0, "color": 0.0},
}  # fmt: skip
STYLE = {
    "preset": "quick", "size": 48, "steps": 6, "levels": 1, "coarse_steps": 0,
    "style_weight": 3, "content_weight": 1, "tv_weight": 0, "optimizer": "lbfgs",
    "learning_rate": 0.02, "init": "content", "pooling": "max", "preserve_color": "none",
    "seed": 0, "gallery": ["swirl"],
}  # fmt: skip
KINDS = ("train", "stylize", "detect", "clip")


def _named(name: str, data: bytes) -> io.BytesIO:
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


def _png(size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_mandelbrot(size, (-2, -1.2, 1, 1.2), 60).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def start(kind: str, user, **changes) -> Job:
    """One job of `kind` (train, stylize, detect, clip) for `user`, as its page starts it;
    `changes` over the train or style settings."""
    if kind == "train":
        from webapp.jobs import job_create

        return job_create(user=user, kind="train", params={**TRAIN, **changes})
    response = submit(kind, user, **changes)
    assert response.status_code == 302, response.content.decode()[:2000]
    return Job.objects.get(pk=response["Location"].rstrip("/").split("/")[-1])


def submit(kind: str, user, **changes):
    """The form of `kind` (stylize, detect, clip) posted by `user`: the response."""
    client = Client()
    client.force_login(user)
    if kind == "stylize":
        fields = {**STYLE, **changes, "content": _named("photo.png", _png())}
        return client.post("/style/", fields)
    if kind == "detect":
        fields = {"conf": "0.1", "iou": "0.45"}
        return client.post("/detect/", {**fields, "pictures": [_named("o.png", oranges_png())]})
    from detection.video import encode_clip
    from tests.detection.test_video import moving_oranges

    clip = _named("oranges.mp4", encode_clip(moving_oranges(6), 10))
    return client.post("/detect/", {"conf": "0.1", "iou": "0.45", "video": clip})


def watch(site, job, *, timeout: float = 240) -> list[dict]:
    """The job's websocket messages on the site until it succeeds or fails."""
    url = site.base_url.replace("http", "ws") + f"/ws/jobs/{job.id}/"
    return asyncio.run(
        ws_collect(
            url,
            cookie=session_cookie(job.user),
            origin=site.base_url,
            timeout=timeout,
            until=lambda m: (
                m["type"] == "result" or m.get("job", {}).get("status") in ("failed", "cancelled")
            ),
        )
    )


def fetch(site, user, url: str) -> bytes:
    """A file from the site, as the job's owner."""
    request = urllib.request.Request(
        site.base_url + url,
        headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def dashboard_workers(site, staff) -> dict[str, dict]:
    """The workers the site's dashboard page shows a staff member, by name."""
    page = fetch(site, staff, "/staff/dashboard/").decode()
    found = re.search(r'<script id="dash-initial" type="application/json">(.*?)</script>',
                      page, re.S)  # fmt: skip
    assert found, page[:2000]
    return {w["name"]: w for w in json.loads(found.group(1))["workers"]}


def check_whole(name: str, data: bytes) -> None:
    """A result file opens as what its name says: nothing half-written was served."""
    suffix = name.rsplit(".", 1)[-1]
    if suffix in ("png", "jpg"):
        Image.open(io.BytesIO(data)).load()
    elif suffix == "json":
        json.loads(data)
    elif suffix == "webm":
        with av.open(io.BytesIO(data)) as container:
            assert sum(1 for _ in container.decode(video=0)) > 0
    elif suffix == "pt":
        import torch

        if name.endswith(".torchscript.pt"):
            torch.jit.load(io.BytesIO(data))
        else:  # a checkpoint: torch.save of a dict
            torch.load(io.BytesIO(data), weights_only=False)


def result_files(job: Job) -> list[tuple[str, str]]:
    """(name, url) of every file a finished job's result links to."""
    found: list[tuple[str, str]] = []

    def walk(value) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, str) and value.startswith(f"/jobs/{job.id}/files/"):
            found.append((value.split("/files/", 1)[1].split("?")[0], value))

    walk(job.result)
    return sorted(set(found))


# the model file each kind's job needs (a test skips without it)
WEIGHTS = {"stylize": "vgg19_caffe_q.bin", "detect": "yolov3-tiny.weights",
           "clip": "yolov3-tiny.weights"}  # fmt: skip
