"""Each task trains a tiny net end to end through the real worker, Redis and database, its
live events reaching the job's websocket; the builder's endpoints and form refuse what
cannot be trained, naming the layer or the field."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
import torch
from django.test import Client
from django.urls import reverse

from playground.taskcatalogue import TASK_PRESETS
from tests.conftest import session_cookie, ws_collect
from webapp.jobs import job_create
from webapp.models import Job, JobStatus

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

RUNS = {  # task -> (preset, dataset, extra params)
    "localise": ("localiser", "boxes", {}),
    "landmarks": ("landmarker", "faces", {}),
    "segment": ("unet", "overlaps", {}),
    "verify": ("siamese", "digits_heldout", {"verify_loss": "pair", "margin": 0.2}),
}
SHAPES = {"boxes": (1, 32, 32), "faces": (1, 32, 32), "overlaps": (1, 32, 32),
          "digits_heldout": (1, 8, 8)}  # fmt: skip


def params(task: str) -> dict:
    preset, dataset, extra = RUNS[task]
    return {
        "task": task, **extra, "spec": TASK_PRESETS[preset][2](SHAPES[dataset]),
        "preset": preset, "dataset": dataset, "image_size": 32,
        "max_samples": 600 if task == "verify" else 160, "val_fraction": 0.25,
        "optimizer": "adam", "lr": 0.003, "batch_size": 16, "epochs": 2, "weight_decay": 0.0,
        "init": "default", "seed": 0, "activation_sample": 0,
        "augment": {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0, "color": 0.0},
    }  # fmt: skip


@pytest.mark.parametrize("task", list(RUNS))
def test_each_task_trains_through_the_worker_with_its_live_view(stack, make_user, task):
    user = make_user()
    job = job_create(user=user, kind="train", params=params(task))
    url = stack.base_url.replace("http", "ws") + f"/ws/jobs/{job.id}/"
    msgs = asyncio.run(ws_collect(
        url, cookie=session_cookie(user), origin=stack.base_url, timeout=120,
        until=lambda m: m["type"] == "result" or m.get("job", {}).get("status") == "failed",
    ))  # fmt: skip
    assert msgs[-1]["type"] == "result", msgs[-1]
    kinds = {m["type"] for m in msgs}
    assert {"metrics", "gradients", "epoch", "task", "status"} <= kinds, kinds
    assert not {"confusion", "samples"} & kinds  # classification's views only
    views = [m for m in msgs if m["type"] == "task"]
    assert [v["epoch"] for v in views] == [1, 2]
    assert all(v["task"] == task for v in views)
    epochs = [m for m in msgs if m["type"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and "val_metric" in epochs[-1]

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.metrics["task"]["epoch"] == 2  # a reloaded page redraws the last view
    assert job.metrics["metric"] == epochs[-1]["metric"]
    assert len(json.dumps(job.metrics)) < 600_000
    client = Client()
    client.force_login(user)
    files = {f["name"]: f["url"] for f in job.result["files"]}
    raw = b"".join(client.get(files["model.pt"]).streaming_content)
    checkpoint = torch.load(io.BytesIO(raw), weights_only=True)
    assert checkpoint["head"] == {"localise": "box", "landmarks": "points", "segment": "mask",
                                  "verify": "siamese"}[task]  # fmt: skip
    scripted = torch.jit.load(io.BytesIO(
        b"".join(client.get(files["model.torchscript.pt"]).streaming_content)))  # fmt: skip
    out = scripted(torch.rand(2, *SHAPES[RUNS[task][1]]))
    expected = {"localise": (2, 8), "landmarks": (2, 6), "segment": (2, 4, 32, 32),
                "verify": (2, 32)}[task]  # fmt: skip
    assert tuple(out.shape) == expected
    # trying a picture is for classifiers: said plainly, nothing else happens
    buf = io.BytesIO()
    from PIL import Image

    Image.new("L", (32, 32), 128).save(buf, format="PNG")
    buf.seek(0)
    buf.name = "grey.png"
    answer = client.post(reverse("playground:predict", args=[job.id]), {"picture": buf})
    assert answer.status_code == 400 and "classifiers" in answer.json()["error"]


def summary(client: Client, body: dict):
    return client.post(reverse("playground:summary"), json.dumps(body),
                       content_type="application/json")  # fmt: skip


def test_summary_endpoint_adds_each_tasks_head_and_refuses_naming_the_layer(client):
    unet = TASK_PRESETS["unet"][2]((1, 32, 32))
    answer = summary(client, {"spec": unet, "dataset": "overlaps", "task": "segment"}).json()
    assert answer["ok"], answer
    head = answer["summary"]["rows"][-1]
    assert head["type"] == "mask head" and head["output_shape"] == [4, 32, 32]
    transposed = next(r for r in answer["summary"]["rows"] if r["type"] == "convtranspose2d")
    assert transposed["arithmetic"] == "(8-1)*2-2*0+2 = 16"

    localiser = TASK_PRESETS["localiser"][2]((1, 32, 32))
    rows = summary(client, {"spec": localiser, "dataset": "boxes", "task": "localise"}).json()
    assert rows["summary"]["rows"][-1]["output_shape"] == [8]  # 4 classes + 4 box numbers

    bad = summary(client, {"spec": [{"type": "conv2d", "filters": 4, "padding": 1},
                                    {"type": "maxunpool", "pool": "p1"}],
                           "dataset": "overlaps", "task": "segment"})  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["index"] == 1 and "no layer's name" in bad.json()["error"]
    short = summary(client, {"spec": localiser, "dataset": "overlaps", "task": "segment"})
    assert short.status_code == 400 and "must end at the pictures' 32×32" in short.json()["error"]
    dance = summary(client, {"spec": unet, "dataset": "overlaps", "task": "dance"})
    assert dance.status_code == 400 and dance.json()["field"] == "task"


def form_post(client: Client, **over) -> tuple[int, str]:
    data = {
        "task": "segment", "preset": "unet",
        "spec": json.dumps(TASK_PRESETS["unet"][2]((1, 32, 32))),
        "dataset": "overlaps", "image_size": 32, "max_samples": 200, "val_fraction": 0.2,
        "optimizer": "adam", "lr": 0.003, "batch_size": 16, "epochs": 1, "weight_decay": 0,
        "init": "default", "seed": 0, "activation_sample": 0, "rotate": 0, "shift": 0,
        "color": 0, "verify_loss": "triplet", "margin": 0.2,
    }  # fmt: skip
    data.update(over)
    response = client.post(reverse("playground:new"), data)
    return response.status_code, response.content.decode()


def test_the_form_starts_a_task_run_and_refuses_what_does_not_fit(client, make_user):
    user = make_user()
    client.force_login(user)
    status, html = form_post(client, dataset="boxes")
    assert status == 400 and "The segment task trains on overlaps" in html
    status, html = form_post(client, shift=2)
    assert status == 400 and "would move the pictures but not their segment labels" in html
    status, html = form_post(client, task="classify", dataset="overlaps")
    assert status == 400 and "overlaps is a dataset for the segment task" in html
    status, html = form_post(client, task="verify", dataset="digits_heldout", batch_size=2,
                             spec=json.dumps(TASK_PRESETS["siamese"][2]((1, 8, 8))))  # fmt: skip
    assert status == 400 and "at least 4 pictures" in html
    assert not Job.objects.exists()  # nothing was queued by a refused form

    status, _ = form_post(client)
    assert status == 302
    job = Job.objects.get()
    assert job.params["task"] == "segment" and job.title.startswith("segment: unet")
    status, _ = form_post(client, task="verify", dataset="digits_heldout", verify_loss="pair",
                          spec=json.dumps(TASK_PRESETS["siamese"][2]((1, 8, 8))))  # fmt: skip
    assert status == 302
    verify = Job.objects.filter(params__task="verify").get()
    assert verify.params["verify_loss"] == "pair" and verify.params["margin"] == 0.2


def test_a_task_preset_comes_with_its_training_settings(client):
    answer = client.get(reverse("playground:preset", args=["unet"]), {"dataset": "overlaps"})
    body = answer.json()
    assert body["spec"][-1]["type"] == "relu" and any(
        layer["type"] == "concat" for layer in body["spec"]
    )
    assert body["training"]["lr"] == 0.003 and body["training"]["epochs"] == 10
    assert body["training"]["augment"]["rotate"] == 0.0  # a mask would not follow
