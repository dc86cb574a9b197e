"""The playground's four kinds – train, transfer, explain, teach – each with its own page,
its own "run again", and the explain tools the task registry allows: what the web side
refuses before anything is queued, the data migration that gave old jobs their kind, and
(with the real worker) predictions on the worker and a teach job that ends when its page
stops sending frames."""

from __future__ import annotations

import importlib
import io
import json

import pytest
from django.apps import apps as django_apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from playground.presets import preset
from playground.taskcatalogue import TASK_PRESETS, explain_tools
from tests.conftest import require_model_file, wait_for, wait_job_done
from webapp.models import Job, JobStatus

LENET = preset("lenet5", (1, 8, 8))
DIGITS = [str(d) for d in range(10)]
MODEL_FILES = [{"name": "model.pt", "url": "/x", "label": "model"}]


def png(size=(20, 20), colour=(250, 250, 250), name="a.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), "image/png")


def train_params(**over) -> dict:
    return {"spec": LENET, "preset": "lenet5", "dataset": "digits", "image_size": 32,
            "max_samples": 300, "val_fraction": 0.2, "optimizer": "adam", "lr": 0.003,
            "batch_size": 32, "epochs": 1, "weight_decay": 0.0, "init": "default", "seed": 0,
            "activation_sample": 0, "schedule": "constant",
            "augment": {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0,
                        "color": 0.0}, **over}  # fmt: skip


def trained(user, **over) -> Job:
    """A finished classifier run, as the worker leaves it (no worker needed)."""
    return Job.objects.create(
        user=user, kind="train", status=JobStatus.SUCCEEDED, params=train_params(**over),
        metrics={"classes": DIGITS, "input_shape": [1, 8, 8]}, result={"files": MODEL_FILES},
    )


# ---------------------------------------------------------------------------------------
# each kind's page shows what that kind produced; "run again" goes back to its own form


@pytest.mark.django_db
def test_each_kind_has_its_own_page(client, make_user):
    user = make_user()
    client.force_login(user)
    run = trained(user)
    transfer = Job.objects.create(user=user, kind="transfer", status="succeeded", params={
        "dataset": "digits", "val_fraction": 0.2, "transfer": {"mode": "frozen", "cut": 2,
                                                               "epochs": 3, "per_class": [10]}})
    explain = Job.objects.create(user=user, kind="explain", status="succeeded", params={
        "tool": "predict", "run": str(run.id), "predict": {"name": "a.png"}},
        result={"predictions": [{"label": "7", "probability": 0.9}], "run": str(run.id)})
    gallery = Job.objects.create(user=user, kind="explain", status="running",
                                 params={"tool": "gallery", "gallery": {"units": 2}})
    teach = Job.objects.create(user=user, kind="teach", status="succeeded", params={
        "teach": {"classes": ["cup", "pen"], "files": [["c0"], ["c1"]], "epochs": 12}},
        result={"teach": {"classes": ["cup", "pen"], "val_accuracy": 1.0, "served": 3}})

    def page(job):
        return client.get(job.get_absolute_url()).content.decode()

    run_page = page(run)
    assert "ctl-pause" in run_page and "playground/run.js" in run_page
    assert "tl-epochs" not in run_page and "teachjob.js" not in run_page
    transfer_page = page(transfer)
    assert 'id="tl-epochs"' in transfer_page and "playground/transfer.js" in transfer_page
    assert "ctl-pause" not in transfer_page and 'id="st-epoch"' not in transfer_page
    explain_page = page(explain)
    assert 'id="ex-predictions"' in explain_page and "playground/explain.js" in explain_page
    assert 'id="ex-gradcam"' not in explain_page and "ctl-pause" not in explain_page
    assert 'id="gallery"' in page(gallery)
    teach_page = page(teach)  # not an empty training run ("0 / ? epoch", empty charts)
    assert 'id="teach-summary"' in teach_page and "playground/teachjob.js" in teach_page
    assert "<li>cup</li>" in teach_page and "<li>pen</li>" in teach_page
    assert 'id="st-epoch"' not in teach_page and "plot-loss" not in teach_page


@pytest.mark.django_db
def test_run_again_works_from_every_kind_that_offers_it(client, make_user):
    user = make_user()
    client.force_login(user)
    run = trained(user, epochs=7)
    body = client.get(run.get_absolute_url()).content.decode()
    assert f"/playground/?from={run.id}" in body
    assert 'value="7"' in client.get(reverse("playground:new"), {"from": run.id}).content.decode()

    transfer = Job.objects.create(user=user, kind="transfer", params={
        "dataset": "digits", "val_fraction": 0.2, "transfer": {"mode": "finetune", "cut": 3,
                                                               "epochs": 4, "per_class": [5, 9]}})
    assert f"/playground/transfer/?from={transfer.id}" in client.get(
        transfer.get_absolute_url()).content.decode()
    form = client.get(reverse("playground:transfer"), {"from": transfer.id}).content.decode()
    assert 'value="5, 9"' in form and 'value="finetune" selected' in form
    assert 'name="cut" min="1" max="5" value="3"' in form

    teach = Job.objects.create(user=user, kind="teach", params={
        "teach": {"classes": ["mug", "keys"], "files": [[], []], "epochs": 12}})
    assert f"/playground/teach/?from={teach.id}" in client.get(
        teach.get_absolute_url()).content.decode()
    again = client.get(reverse("playground:teach"), {"from": teach.id}).content.decode()
    assert json.dumps(["mug", "keys"]) in again  # the page starts with these classes

    # an explanation is asked from its run's page: no "run again" that opens a stray form
    explain = Job.objects.create(user=user, kind="explain", params={
        "tool": "cell", "run": str(run.id), "cell": {"cell": [1, 2]}})
    assert 'id="job-again"' not in client.get(explain.get_absolute_url()).content.decode()
    # the builder does not take another kind's job: its defaults, said so
    body = client.get(reverse("playground:new"), {"from": teach.id}).content.decode()
    assert "starting from the defaults" in body


# ---------------------------------------------------------------------------------------
# the task registry decides which explain tools are offered and accepted


def test_the_registry_offers_explain_tools_only_to_classifiers():
    from playground.objectives import TASK_TYPES
    from playground.taskcatalogue import TASK_EXPLAIN, TASKS

    assert set(TASK_TYPES) == set(TASK_EXPLAIN) == set(TASKS)  # one entry per task in each
    assert set(explain_tools("classify")) == {"predict", "gradcam", "cell", "unit"}
    for task in ("localise", "landmarks", "segment", "verify"):
        assert explain_tools(task) == ()


@pytest.mark.django_db
@pytest.mark.parametrize("task, net", [("segment", "unet"), ("verify", "siamese")])
def test_why_this_prediction_is_not_offered_nor_accepted_on_a_unet_or_siamese_run(
    client, make_user, task, net
):
    user = make_user()
    client.force_login(user)
    run = trained(user, task=task, spec=TASK_PRESETS[net][2]((1, 32, 32)), dataset="overlaps")
    page = client.get(run.get_absolute_url()).content.decode()
    for form in ("explain-form", "unit-form", "predict-form"):
        assert f'id="{form}"' not in page
    url = reverse("playground:explain", args=[run.id])
    for body in ({"picture": png()}, {"true": "1", "predicted": "2"},
                 {"layer": "0", "channel": "0"}):  # fmt: skip
        resp = client.post(url, body)
        assert resp.status_code == 400 and f"not offered for a {task} net" in resp.json()["error"]
    resp = client.post(reverse("playground:predict", args=[run.id]), {"picture": png()})
    assert resp.status_code == 400 and "classifiers" in resp.json()["error"]
    assert Job.objects.count() == 1  # nothing queued


@pytest.mark.django_db
def test_values_past_the_net_are_refused_at_the_form_with_the_allowed_range(client, make_user):
    user = make_user()
    client.force_login(user)
    run = trained(user)
    url = reverse("playground:explain", args=[run.id])
    cases = [
        ({"layer": "3", "channel": "16"}, "Layer 3 has channels 0..15"),  # LeNet's 2nd conv
        ({"layer": "0", "channel": "6"}, "Layer 0 has channels 0..5"),
        ({"layer": "40", "channel": "0"}, f"0 to {len(LENET) - 1}"),
        ({"layer": "3", "channel": "-1"}, "whole number"),
        ({"true": "10", "predicted": "1"}, "The net has 10 classes: choose 0 to 9"),
        ({"picture": png(), "target": "571"}, "The net has 10 classes: choose 0 to 9"),
        ({"picture": png(), "target": "x"}, "whole number"),
    ]
    for body, message in cases:
        resp = client.post(url, body)
        assert resp.status_code == 400 and message in resp.json()["error"], (body, resp.content)
    assert Job.objects.count() == 1  # nothing queued
    resp = client.post(url, {"layer": "3", "channel": "15"})  # the last unit: no model file
    assert resp.status_code == 400 and "no trained model" in resp.json()["error"]
    default_storage.save(f"{run.storage_prefix}/model.pt", ContentFile(b"the trained model"))
    resp = client.post(url, {"layer": "3", "channel": "15"})
    assert resp.status_code == 200
    made = Job.objects.get(pk=resp.json()["id"])
    assert made.kind == "explain" and made.params["unit"] == {"layer": "layers.3", "channel": 15}
    # the job has its own copy of the model and the run's split: the worker reads nothing
    # of the run's past its JobContext
    with default_storage.open(made.params["inputs"]["model.pt"]) as fh:
        assert fh.read() == b"the trained model"
    assert made.params["source"]["dataset"] == "digits" and made.params["source"]["seed"] == 0


# ---------------------------------------------------------------------------------------
# the data migration that gave old jobs their kind


@pytest.mark.django_db
def test_the_migration_gives_old_mode_jobs_their_kind_and_back(make_user):
    migration = importlib.import_module("webapp.migrations.0005_playground_kinds")
    user = make_user()
    run = Job.objects.create(user=user, kind="train", params=train_params())
    old = {
        "transfer": {"dataset": "digits", "transfer": {"mode": "compare", "cut": 2}},
        "teach": {"teach": {"classes": ["a", "b"], "files": [[], []]}},
        "gradcam": {"explain": {"run": str(run.id), "target": 3, "name": "p.png"}},
        "cell": {"explain": {"run": str(run.id), "cell": [1, 2]}},
        "unit": {"explain": {"run": str(run.id), "unit": {"layer": "layers.3", "channel": 5}}},
        "gallery": {"gallery": {"units": 4, "size": 96, "steps": 96}},
    }
    jobs = {name: Job.objects.create(user=user, kind="train", params=p) for name, p in old.items()}
    migration.forwards(django_apps, None)
    kinds = {name: Job.objects.get(pk=j.pk) for name, j in jobs.items()}
    assert Job.objects.get(pk=run.pk).kind == "train"
    assert kinds["transfer"].kind == "transfer" and kinds["teach"].kind == "teach"
    assert kinds["transfer"].params == old["transfer"]
    assert kinds["gradcam"].params == {"tool": "gradcam", "run": str(run.id),
                                       "gradcam": {"target": 3, "name": "p.png"}}
    assert kinds["cell"].params == {"tool": "cell", "run": str(run.id), "cell": {"cell": [1, 2]}}
    assert kinds["unit"].params["unit"] == {"layer": "layers.3", "channel": 5}
    assert kinds["gallery"].params == {"tool": "gallery", "gallery": old["gallery"]["gallery"]}
    assert all(kinds[n].kind == "explain" for n in ("gradcam", "cell", "unit", "gallery"))
    migration.backwards(django_apps, None)
    for name, job in jobs.items():
        back = Job.objects.get(pk=job.pk)
        assert back.kind == "train" and back.params == old[name], name


# ---------------------------------------------------------------------------------------
# with the real worker


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_a_teach_job_ends_a_few_seconds_after_its_page_stops_sending_frames(stack, make_user,
                                                                            client):
    require_model_file("vgg19_caffe_q.bin")
    user = make_user()
    client.force_login(user)
    data = {"classes": json.dumps(["red", "blue"]),
            "pictures-0": [png(colour=(220, 10, 10), name=f"r{i}.png") for i in range(3)],
            "pictures-1": [png(colour=(10, 10, 220), name=f"b{i}.png") for i in range(3)]}
    answer = client.post(reverse("playground:teach"), data).json()
    job = Job.objects.get(pk=answer["id"])
    assert job.kind == "teach"
    wait_for(lambda: (Job.objects.get(pk=job.pk).metrics or {}).get("teach"), timeout=120,
             what="the model to be trained")  # fmt: skip
    resp = client.post(answer["frame_url"], {"frame": png(colour=(200, 0, 0)), "id": "f1"})
    assert resp.status_code == 202
    wait_for(lambda: Job.objects.get(pk=job.pk).status != JobStatus.RUNNING, timeout=45,
             what="the teach job to end once no more frames came")  # the old rule: 120 s
    job = Job.objects.get(pk=job.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["teach"]["served"] == 1 and job.result["teach"]["classes"] == ["red", "blue"]


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_the_stop_button_ends_a_serving_teach_job(stack, make_user, client):
    require_model_file("vgg19_caffe_q.bin")
    user = make_user()
    client.force_login(user)
    data = {"classes": json.dumps(["red", "blue"]),
            "pictures-0": [png(colour=(220, 10, 10), name="r.png")],
            "pictures-1": [png(colour=(10, 10, 220), name="b.png")]}
    answer = client.post(reverse("playground:teach"), data).json()
    wait_for(lambda: (Job.objects.get(pk=answer["id"]).metrics or {}).get("teach"), timeout=120,
             what="the model to be trained")  # fmt: skip
    resp = client.post(reverse("job_cancel", args=[answer["id"]]), "{}",  # as Stop posts it
                       content_type="application/json", HTTP_ACCEPT="application/json")
    assert resp.status_code == 200
    job = wait_job_done(Job.objects.get(pk=answer["id"]), timeout=20)
    assert job.status == JobStatus.CANCELLED
