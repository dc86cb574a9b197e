"""Transfer learning on the web: the form refuses what it cannot run (and starts
nothing), and a one-click comparison runs through the real worker, Redis and database."""

from __future__ import annotations

import pytest
from django.urls import reverse

from playground.forms import TransferForm
from tests.conftest import require_model_file, wait_job_done
from webapp.models import Job, JobStatus


def form_data(**over) -> dict:
    return {"dataset": "digits", "mode": "compare", "cut": 2, "per_class": "10, 30",
            "epochs": 3, **over}  # fmt: skip


def test_form_turns_sizes_into_numbers_and_refuses_bad_ones():
    form = TransferForm(form_data(per_class="30 10,10"))
    assert form.is_valid(), form.errors
    assert form.job_params()["transfer"]["per_class"] == [10, 30]
    for bad in ("ten", "0", "1,2,3,4,5,6", "99999"):
        form = TransferForm(form_data(per_class=bad))
        assert not form.is_valid() and "per_class" in form.errors
    assert not TransferForm(form_data(cut=6)).is_valid()
    assert not TransferForm(form_data(mode="melt")).is_valid()


@pytest.mark.django_db
def test_bad_transfer_settings_are_shown_and_nothing_starts(client, make_user):
    client.force_login(make_user())
    resp = client.post(reverse("playground:transfer"), form_data(per_class="lots"))
    assert resp.status_code == 400
    assert "Write whole numbers" in resp.content.decode()
    assert Job.objects.count() == 0
    page = client.get(reverse("playground:transfer")).content.decode()
    assert "Start from VGG19" in page and 'name="per_class"' in page


@pytest.mark.django_db
def test_the_transfer_page_starts_a_transfer_job_with_an_estimate(client, make_user):
    from playground.train.services import train_initial_from
    from playground.transfer import services
    from webapp.jobkinds import Budget

    client.force_login(make_user())
    resp = client.post(reverse("playground:transfer"), form_data())
    job = Job.objects.get()
    assert resp.status_code == 302 and resp["Location"] == job.get_absolute_url()
    assert job.kind == services.KIND and job.params["transfer"]["per_class"] == [10, 30]
    cost = services.estimate(job.params, Budget(memory_mb=8192, runtime_s=3600))
    assert 0 < cost.runtime_s < 3600 and cost.memory_mb > 200
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'id="tl-epochs"' in page and "playground/transfer" in page and "ctl-pause" not in page
    # "run again with these settings" opens the transfer form with this run's settings;
    # the builder does not take a transfer run (its defaults, not a broken net)
    assert train_initial_from(None) == {}
    again = client.get(reverse("playground:transfer") + f"?from={job.id}")
    assert again.status_code == 200 and 'value="10, 30"' in again.content.decode()
    assert "starting from the defaults" in client.get(
        reverse("playground:new") + f"?from={job.id}").content.decode()


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_one_click_comparison_trains_three_modes_per_size_on_the_worker(stack, make_user):
    require_model_file("vgg19_caffe_q.bin")
    from webapp.jobs import job_create

    params = {"dataset": "digits", "val_fraction": 0.2, "transfer": {
        "mode": "compare", "cut": 1, "epochs": 2, "image_size": 16, "per_class": [2, 4],
        "seed": 0}}  # fmt: skip
    job = wait_job_done(job_create(user=make_user(), kind="transfer", params=params), timeout=240)
    assert job.status == JobStatus.SUCCEEDED, job.error
    rows = job.result["transfer_rows"]
    assert [(r["per_class"], r["mode"]) for r in rows] == [
        (2, "scratch"), (2, "frozen"), (2, "finetune"),
        (4, "scratch"), (4, "frozen"), (4, "finetune"),
    ]  # fmt: skip
    assert [r["train_pictures"] for r in rows] == [20] * 3 + [40] * 3
    assert all(len(r["history"]) == 2 and 0 <= r["val_accuracy"] <= 1 for r in rows)
    frozen = next(r for r in rows if r["mode"] == "frozen")
    assert [row["frozen"] for row in frozen["summary"]["rows"]] == [False, True, False]
    assert job.metrics["transfer_rows"] == rows  # a reloaded page draws the same charts
    assert {f["name"] for f in job.result["files"]} == {"model.pt", "model.torchscript.pt"}


# ---------------------------------------------------------------------------------------
# why this prediction: Grad-CAM and saliency of a trained run, on the worker


def png_bytes(colour=(250, 250, 250), size=(20, 20)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_why_this_prediction_runs_on_the_worker_for_the_owner_only(stack, make_user, client):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from playground.presets import preset
    from webapp.jobs import job_create

    user = make_user()
    net = preset("lenet5", (1, 8, 8))
    params = {"spec": net, "preset": "lenet5", "dataset": "digits", "image_size": 32,
              "max_samples": 300, "val_fraction": 0.2, "optimizer": "adam", "lr": 0.003,
              "batch_size": 32, "epochs": 1, "weight_decay": 0.0, "init": "default",
              "seed": 0, "activation_sample": 0,
              "augment": {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0,
                          "color": 0.0}}  # fmt: skip
    run = wait_job_done(job_create(user=user, kind="train", params=params), timeout=120)
    assert run.status == JobStatus.SUCCEEDED, run.error
    url = reverse("playground:explain", args=[run.id])
    client.force_login(user)

    # bad input: no picture, a broken one, a class that is not a number – nothing starts
    assert client.post(url, {}).status_code == 400
    broken = SimpleUploadedFile("x.png", b"\x89PNG\r\n\x1a\nnot really", "image/png")
    resp = client.post(url, {"picture": broken})
    assert resp.status_code == 400 and "x.png" in resp.json()["error"]
    resp = client.post(url, {"picture": SimpleUploadedFile("a.png", png_bytes()), "target": "x"})
    assert resp.status_code == 400
    assert Job.objects.count() == 1
    # someone else cannot ask about this run
    other = Client()
    other.force_login(make_user("eve"))
    assert other.post(url, {"picture": SimpleUploadedFile("a.png", png_bytes())}).status_code == 404

    resp = client.post(url, {"picture": SimpleUploadedFile("seven.png", png_bytes()),
                             "target": "7"})  # fmt: skip
    assert resp.status_code == 200, resp.content
    job = Job.objects.exclude(pk=run.pk).get()
    assert resp.json()["url"] == job.get_absolute_url()
    job = wait_job_done(job, timeout=60)
    assert job.status == JobStatus.SUCCEEDED, job.error
    e = job.result["explain"]
    assert e["target"] == "7" and e["classes"] == [str(d) for d in range(10)]
    assert sum(t["probability"] for t in e["top"]) <= 1.0 + 1e-6
    assert {f["name"] for f in job.result["files"]} == {"input.png", "gradcam.png", "saliency.png"}
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'id="ex-gradcam"' in page and "playground/explain.js" in page

    # the confusion-matrix drill-down: a cell's validation pictures, most confident first
    assert client.post(url, {"true": "99", "predicted": "1"}).status_code == 400
    resp = client.post(url, {"true": "3", "predicted": "3"})
    assert resp.status_code == 200, resp.content
    cell_job = Job.objects.exclude(pk__in=[run.pk, job.pk]).get()
    cell_job = wait_job_done(cell_job, timeout=60)
    assert cell_job.status == JobStatus.SUCCEEDED, cell_job.error
    cell = cell_job.result["cell"]
    assert cell["true"] == cell["predicted"] == "3" and cell["items"]
    confidences = [item["confidence"] for item in cell["items"]]
    assert confidences == sorted(confidences, reverse=True) and len(confidences) <= 12
    page = client.get(cell_job.get_absolute_url()).content.decode()
    assert 'id="ex-cell"' in page

    # what a unit responds to: top validation patches and an optimised picture
    assert client.post(url, {"layer": "99", "channel": "0"}).status_code == 400
    resp = client.post(url, {"layer": "3", "channel": "5"})  # LeNet-5's second conv
    assert resp.status_code == 200, resp.content
    unit_job = Job.objects.exclude(pk__in=[run.pk, job.pk, cell_job.pk]).get()
    unit_job = wait_job_done(unit_job, timeout=120)
    assert unit_job.status == JobStatus.SUCCEEDED, unit_job.error
    unit = unit_job.result["unit"]
    assert unit["layer"] == "layer 3: conv2d" and len(unit["patches"]) == 9  # the form's naming
    values = [p["activation"] for p in unit["patches"]]
    assert values == sorted(values, reverse=True)
    assert unit["activation"][1] > unit["activation"][0]
    # a channel the layer does not have is refused at the form, saying which exist
    resp = client.post(url, {"layer": "3", "channel": "999"})
    assert resp.status_code == 400 and "channels 0..15" in resp.json()["error"]
    assert Job.objects.count() == 4  # nothing more queued
    page = client.get(run.get_absolute_url()).content.decode()
    assert 'id="unit-form"' in page and "layer 3: conv2d (16 filters)" in page


@pytest.mark.stack
@pytest.mark.django_db(transaction=True)
def test_the_vgg19_gallery_optimises_units_of_each_layer_on_the_worker(stack, make_user, client):
    require_model_file("vgg19_caffe_q.bin")
    from webapp.jobs import job_create

    user = make_user()
    client.force_login(user)
    resp = client.post(reverse("playground:gallery"))
    started = Job.objects.get()
    assert resp.status_code == 302 and started.params["gallery"]["units"] == 4
    started.delete()
    params = {"tool": "gallery",
              "gallery": {"layers": ["relu1_1", "relu3_1"], "units": 2, "size": 24, "steps": 6}}
    job = wait_job_done(job_create(user=user, kind="explain", params=params), timeout=120)
    assert job.status == JobStatus.SUCCEEDED, job.error
    rows = job.result["gallery"]
    assert [r["layer"] for r in rows] == ["relu1_1", "relu3_1"]
    assert all(len(r["units"]) == 2 for r in rows)
    assert all(u["activation"][1] > u["activation"][0] for r in rows for u in r["units"])
    page = client.get(job.get_absolute_url()).content.decode()
    assert 'id="gallery"' in page
    bad = job_create(user=user, kind="explain",
                     params={"tool": "gallery", "gallery": {"layers": ["fc7"]}})
    bad = wait_job_done(bad, timeout=60)
    assert bad.status == JobStatus.FAILED and "relu1_1" in bad.error
