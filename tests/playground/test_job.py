"""Training runs through the real worker, real Redis and the real database: the live view,
a pause that frees the worker and resumes exactly, a pause that lasts too long, a run that
diverges."""

from __future__ import annotations

import asyncio
import io
import json
import math
import time

import pytest
import torch
from django.test import Client
from django.urls import reverse

from playground.export import model_load
from playground.presets import preset
from tests.conftest import session_cookie, wait_for, wait_job_done, ws_collect
from webapp.jobs import job_control, job_create, jobs_end_long_pauses
from webapp.models import Job, JobStatus

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

NET = [{"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1}, {"type": "relu"},
       {"type": "maxpool", "kernel": 2},
       {"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1}, {"type": "relu"},
       {"type": "globalavgpool"}]


def params(**over) -> dict:
    p = {"spec": NET, "preset": "", "dataset": "stripes", "image_size": 32, "max_samples": 800,
         "val_fraction": 0.2, "optimizer": "adam", "lr": 0.01, "batch_size": 16, "epochs": 2,
         "weight_decay": 0.0, "init": "he", "seed": 1, "activation_sample": 3,
         "augment": {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0, "color": 0.0}}
    p.update(over)
    return p


def test_training_run_streams_the_live_view_and_learns(stack, make_user):
    user = make_user()
    job = job_create(user=user, kind="train", params=params())
    url = stack.base_url.replace("http", "ws") + f"/ws/jobs/{job.id}/"
    msgs = asyncio.run(ws_collect(
        url, cookie=session_cookie(user), origin=stack.base_url, timeout=60,
        until=lambda m: m["type"] == "result" or m.get("job", {}).get("status") == "failed",
    ))
    assert msgs[-1]["type"] == "result", msgs[-1]
    by_type: dict[str, list[dict]] = {}
    for m in msgs:
        by_type.setdefault(m["type"], []).append(m)
    for kind in ("metrics", "gradients", "filters", "activations", "epoch", "confusion",
                 "samples", "status"):
        assert kind in by_type, f"no {kind} event; got {sorted(by_type)}"
    assert {e["epoch"] for e in by_type["epoch"]} == {1, 2}
    act = by_type["activations"][-1]
    assert [layer["index"] for layer in act["layers"]] == [0, 3]
    assert act["input"].startswith("data:image/png;base64,")
    assert len(by_type["gradients"][-1]["norms"]) == len(NET) + 1
    matrix = by_type["confusion"][-1]["matrix"]
    assert len(matrix) == 4 and sum(map(sum, matrix)) == 160  # every validation picture
    versions = [m["version"] for m in msgs]
    assert versions == sorted(versions)

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["summary"]["val_accuracy"] > 0.5  # chance is 0.25
    # what a reloaded page draws from: the whole history, kept in the row
    assert [e["epoch"] for e in job.metrics["epochs"]] == [1, 2]
    assert job.metrics["curve"] and job.metrics["activations"]["layers"]
    # the gradient chart reaches each epoch's end (640 pictures / 16 = 40 steps an epoch),
    # however the throttled reports fell
    steps = [point[0] for point in job.metrics["gradients"]["points"]]
    assert {39, 79} <= set(steps), steps[-5:]
    assert all(n is not None for n in job.metrics["gradients"]["points"][-1][1][:1])
    assert job.metrics["confusion"][-1]["epoch"] == 2 and job.metrics["samples"]["items"]
    assert len(json.dumps(job.metrics)) < 400_000

    client = Client()
    client.force_login(user)
    files = {f["name"]: f["url"] for f in job.result["files"]}
    assert set(files) == {"model.pt", "model.torchscript.pt", "spec.json"}
    checkpoint = torch.load(io.BytesIO(b"".join(client.get(files["model.pt"]).streaming_content)),
                            weights_only=True)
    assert checkpoint["classes"] == ["0°", "45°", "90°", "135°"]
    scripted = torch.jit.load(io.BytesIO(
        b"".join(client.get(files["model.torchscript.pt"]).streaming_content)))
    assert scripted(torch.rand(2, 1, 16, 16)).shape == (2, 4)
    spec = json.loads(b"".join(client.get(files["spec.json"]).streaming_content))
    assert spec["spec"][0]["filters"] == 8

    # try the trained model on an uploaded picture: an explain job, run on the worker
    from PIL import Image
    buf = io.BytesIO()
    Image.new("L", (40, 40), 128).save(buf, format="PNG")
    buf.seek(0)
    buf.name = "grey.png"
    asked = client.post(reverse("playground:predict", args=[job.id]), {"picture": buf}).json()
    predicted = wait_job_done(Job.objects.get(pk=asked["id"]), timeout=60)
    assert predicted.kind == "explain" and predicted.worker  # ran on a worker
    assert predicted.status == "succeeded", predicted.error
    top = predicted.result
    assert len(top["predictions"]) == 4
    assert abs(sum(p["probability"] for p in top["predictions"]) - 1) < 1e-4
    page = client.get(predicted.get_absolute_url()).content.decode()
    assert 'id="ex-predictions"' in page and "Run again" not in page


def test_change_lr_and_stop_keeps_the_model(stack, make_user):
    user = make_user()
    job = job_create(user=user, kind="train",
                     params=params(epochs=50, max_samples=2000, batch_size=8))
    wait_for(lambda: Job.objects.get(pk=job.pk).metrics.get("last"), timeout=40,
             what="the first metrics")
    job_control(job=job, changes={"lr": 0.0005})
    wait_for(lambda: Job.objects.get(pk=job.pk).metrics.get("last", {}).get("lr") == 0.0005,
             timeout=20, what="the new learning rate to be used")
    assert Job.objects.get(pk=job.pk).metrics["state"] == "running"

    job_control(job=job, changes={"stop": True})
    wait_job_done(job, timeout=30)
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["summary"]["stopped"] is True
    assert job.result["summary"]["epochs"] < 50
    assert {f["name"] for f in job.result["files"]} >= {"model.pt", "model.torchscript.pt"}
    assert job.metrics["state"] == "stopped"


# dropout and augmentation: a resumed run must also draw the same random numbers
DROPOUT_NET = NET[:-1] + [{"type": "dropout", "p": 0.3}, {"type": "globalavgpool"}]


def download(client: Client, job: Job, name: str) -> bytes:
    url = next(f["url"] for f in job.result["files"] if f["name"] == name)
    return b"".join(client.get(url).streaming_content)


def assert_same_run(client: Client, job: Job, twin: Job) -> None:
    """`job` (paused or yielded, then resumed) ended exactly as `twin`, run in one go: the
    same history, the same weights to the bit, the same curve where both have points."""
    assert timeless(job.result["history"]) == timeless(twin.result["history"])
    resumed = torch.load(io.BytesIO(download(client, job, "model.pt")), weights_only=True)
    plain = torch.load(io.BytesIO(download(client, twin, "model.pt")), weights_only=True)
    for name, weights in plain["state_dict"].items():
        assert torch.equal(resumed["state_dict"][name], weights), name
    curve = {point[0]: point for point in twin.metrics["curve"]}
    shared = [point for point in job.metrics["curve"] if point[0] in curve]
    assert shared and all(curve[point[0]] == point for point in shared)


def timeless(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in epoch.items() if k != "seconds"} for epoch in history]


def test_a_paused_run_frees_the_worker_and_resumes_to_the_same_curve(stack, make_user):
    user, other = make_user("ada"), make_user("bob")
    run = params(spec=DROPOUT_NET, epochs=3, max_samples=1200, batch_size=4, seed=7,
                 augment={"hflip": True, "vflip": False, "rotate": 0.0, "shift": 1, "color": 0})
    job = job_create(user=user, kind="train", params=run)
    wait_for(lambda: Job.objects.get(pk=job.pk).metrics.get("last", {}).get("step", 0) >= 20,
             timeout=40, what="twenty steps")
    job_control(job=job, changes={"paused": True})
    wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.PAUSED, timeout=20,
             what="the run to pause")
    job.refresh_from_db()
    assert job.worker == "" and job.metrics["state"] == "paused"
    paused_at = job.result["step"]
    assert 20 <= paused_at < 3 * 240

    # the only worker is free: another user's job runs to the end meanwhile
    theirs = job_create(user=other, kind="countdown", params={"steps": 3, "delay": 0.05})
    assert wait_job_done(theirs, timeout=30).status == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED and job.metrics["last"]["step"] <= paused_at

    client = Client()
    client.force_login(user)
    checkpoint = torch.load(io.BytesIO(download(client, job, "checkpoint.pt")),
                            weights_only=True)
    assert checkpoint["position"]["step"] == paused_at and checkpoint["optimizer"]["state"]

    job_control(job=job, changes={"paused": False})  # queued again, goes on from there
    wait_job_done(job, timeout=120)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.metrics["state"] == "finished" and job.result["summary"]["epochs"] == 3

    twin = job_create(user=user, kind="train", params=run)  # never paused
    wait_job_done(twin, timeout=120)
    assert_same_run(client, job, twin)


def test_a_long_pause_ends_the_run_as_cancelled_and_keeps_the_checkpoint(
    stack, make_user, settings
):
    user = make_user()
    job = job_create(user=user, kind="train", params=params(epochs=50, max_samples=2000))
    job_control(job=job, changes={"paused": True})  # still queued: pauses after a step
    wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.PAUSED, timeout=40,
             what="the run to pause")
    settings.JOB_MAX_PAUSE_S = 1
    time.sleep(1.1)
    assert [j.id for j in jobs_end_long_pauses()] == [job.id]
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and "checkpoint is kept" in job.error
    client = Client()
    client.force_login(user)
    model, classes = model_load(io.BytesIO(download(client, job, "checkpoint.pt")))
    assert classes == ["0°", "45°", "90°", "135°"] and model.spec[0]["filters"] == 8


def test_a_diverging_run_fails_with_the_explanation_and_keeps_its_curves(stack, make_user):
    """SGD with lr=10 and He init: the loss turns NaN. The database's JSON check refuses
    NaN, so this also proves that nothing non-finite reached Job.metrics."""
    user = make_user()
    vgg = preset("vgg_small", (1, 16, 16))
    job = job_create(user=user, kind="train", params=params(
        spec=vgg, optimizer="sgd", lr=10.0, init="he", epochs=3, batch_size=32))
    url = stack.base_url.replace("http", "ws") + f"/ws/jobs/{job.id}/"
    msgs = asyncio.run(ws_collect(
        url, cookie=session_cookie(user), origin=stack.base_url, timeout=60,
        until=lambda m: m.get("job", {}).get("status") in ("failed", "succeeded"),
    ))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    diverged = job.metrics["diverged"]
    assert job.error == diverged["message"]
    assert f"the loss became NaN at step {diverged['step']}" in job.error
    assert f"the last finite loss was {diverged['last_finite_loss']:.4g}" in job.error
    assert "Lower the learning rate or add batch norm" in job.error
    assert "Internal error" not in job.error
    assert job.metrics["state"] == "diverged" and job.metrics["curve"]
    assert all(math.isfinite(v) for point in job.metrics["curve"] for v in point)
    json.dumps(job.metrics, allow_nan=False)
    said = [m for m in msgs if m["type"] == "status" and m.get("state") == "diverged"]
    assert said and said[0]["message"] == job.error


def test_a_spec_that_does_not_fit_fails_with_a_message_and_the_worker_lives(stack, make_user):
    user = make_user()  # the form refuses this; a hand-made job must fail cleanly all the same
    job = job_create(user=user, kind="train", params=params(
        dataset="digits", spec=[{"type": "conv2d", "filters": 4, "kernel": 11}]))
    wait_job_done(job)
    assert job.status == JobStatus.FAILED and "kernel 11 is larger than the 8×8 input" in job.error
    ok = job_create(user=user, kind="train", params=params(epochs=1, max_samples=100))
    wait_job_done(ok)
    assert ok.status == JobStatus.SUCCEEDED
