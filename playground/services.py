"""The playground's web side: plain functions the views and forms call.

The engine (netspec, datasets, trainer, export) stays Django-free and the worker's side
is playground/worker.py; this module checks what a form sent, starts runs (`train_create`)
with a cost estimate, refills the builder from an earlier run (`train_initial_from`),
and compares, shares and queries runs.
"""

from __future__ import annotations

import io
import json
import secrets
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from playground import cost
from playground.classfolders import UPLOAD, ZipDataset, dataset_zip_probe
from playground.limits import LIMITS
from playground.models import RunShare
from playground.taskcatalogue import (
    SCENE_SHAPES,
    SCENES,
    TASK_PRESETS,
    TASK_TRAINING,
    head_for,
    task_outputs,
)
from webapp.jobkinds import Budget, JobCost
from webapp.jobs import job_create
from webapp.models import Job
from webapp.pictures import UploadError, UploadLimits, read_bytes, read_picture
from webapp.tools import upload_limits, upload_read, uploads_probe

KIND = "train"

# Picture shape (C, H, W) and class count of each built-in dataset, so the summary
# table can be drawn on every keystroke without loading the data. A test checks them
# against the loaded datasets.
BUILTIN_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "stripes": ((1, 16, 16), 4),
    "shapes": ((1, 16, 16), 4),
    "digits": ((1, 8, 8), 10),
    "mnist5k": ((1, 28, 28), 10),
    "mnist": ((1, 28, 28), 10),
    "fashion_mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
}


# ---------------------------------------------------------------------------------------
# builder


def dataset_options() -> list[dict[str, Any]]:
    """Every dataset the builder offers, with its picture shape and whether it is here."""
    from playground.datasets import datasets_available

    rows = []
    for row in datasets_available():
        shape, classes = BUILTIN_SHAPES[row["name"]]
        rows.append({**row, "shape": list(shape), "classes": classes})
    rows.append({"name": UPLOAD, "available": True, "shape": None, "classes": None,
                 "description": "Your own pictures: a zip with one folder per class"})
    rows = [{**row, "task": "classify"} for row in rows]
    for name, (task, description) in SCENES.items():
        shape, classes = SCENE_SHAPES[name]
        available = name != "mnist5k_heldout" or next(
            (r["available"] for r in rows if r["name"] == "mnist5k"), False)
        rows.append({"name": name, "available": available, "shape": list(shape),
                     "classes": classes, "description": description, "task": task})
    for task, description in LABELLED_ZIP_HELP.items():  # after each task's built-in sets
        rows.append({"name": UPLOAD, "available": True, "shape": None, "classes": None,
                     "description": f"Your own: {description}", "task": task})
    return rows


def input_shape_for(
    *, dataset: str, image_size: int = 32, channels: int = 3
) -> tuple[int, int, int]:
    """The (C, H, W) a net is built for on this dataset (uploads: the chosen size)."""
    if dataset == UPLOAD:
        return (channels, image_size, image_size)
    if dataset in SCENE_SHAPES:
        return SCENE_SHAPES[dataset][0]
    return BUILTIN_SHAPES[dataset][0]


def task_head(*, task: str, classes: int, verify_loss: str = "triplet") -> tuple[str, int]:
    """The head a task adds and its width (see netspec.HEADS)."""
    return head_for(task, verify_loss), task_outputs(task, classes)


def spec_summary(
    *, spec: Any, input_shape: tuple[int, ...], num_classes: int, head: str = "classifier"
) -> dict[str, Any]:
    """The summary table of a spec (with the head of its task), or where and why it breaks.

    Returns {"ok": True, "summary": {...}} or {"ok": False, "error": str, "index": int|None}.
    """
    from playground.netspec import SpecError, summarize

    try:
        summary = summarize(spec, tuple(input_shape), num_classes, head=head)
    except SpecError as exc:
        return {"ok": False, "error": str(exc), "reason": exc.reason, "index": exc.index}
    return {"ok": True, "summary": summary.to_dict(), "limits": {
        "max_params": LIMITS.max_params, "max_layers": LIMITS.max_layers,
        "max_activation_floats": LIMITS.max_activation_floats,
    }}


def preset_spec(*, name: str, input_shape: tuple[int, int, int]) -> list[dict]:
    """A named preset's spec for this picture shape (KeyError for an unknown name)."""
    from playground.presets import preset

    if name in TASK_PRESETS:
        return TASK_PRESETS[name][2](input_shape)
    return preset(name, input_shape)


def preset_training(*, name: str, input_shape: tuple[int, int, int] | None = None) -> dict:
    """A preset's training settings (optimizer, lr, batch_size, epochs, schedule,
    augment, scaled to pictures of input_shape when given), or {} for a task preset that
    has none of its own."""
    from playground.presets import TRAINING, training

    if name in TASK_TRAINING:
        return {**TASK_TRAINING[name], "augment": dict(TASK_TRAINING[name]["augment"])}
    return training(name, input_shape) if name in TRAINING else {}


def dataset_zip_limits() -> UploadLimits:
    """The site's upload limits (pixels from settings) with a dataset zip's larger counts."""
    return upload_limits(**LIMITS.zip_counts())


def dataset_zip_check(upload: UploadedFile) -> ZipDataset:
    """What an uploaded dataset zip holds, from its names and picture headers only (no
    pixel is decoded in the web process; the worker decodes). ValidationError says why
    it cannot be used."""
    limits = dataset_zip_limits()
    data = upload_read(upload, limits)
    upload.seek(0)
    try:
        return dataset_zip_probe(data, upload.name or "the zip", limits)
    except UploadError as exc:
        raise ValidationError(f"This zip cannot be used: {exc}.") from exc


LABELLED_ZIP_HELP = {
    "localise": "a zip of pictures and labels.csv (file,class,x0,y0,x1,y1) or labels.json",
    "landmarks": "a zip of pictures and labels.csv (file,eye_x,eye_y,...) or labels.json",
    "segment": "a zip of pictures, masks/<name>.png (grey: the class of each pixel) "
               "and classes.txt",
}


def labelled_zip_check(upload: UploadedFile, task: str) -> ZipDataset:
    """What an uploaded zip of pictures with boxes, points or masks holds, from its labels
    and picture headers only. ValidationError says what is wrong and where."""
    from playground.labelzips import labelled_zip_probe

    limits = dataset_zip_limits()
    data = upload_read(upload, limits)
    upload.seek(0)
    try:
        found = labelled_zip_probe(data, upload.name or "the zip", task, limits)
    except UploadError as exc:
        raise ValidationError(f"This zip cannot be used: {exc}.") from exc
    return ZipDataset(classes=found.names, pictures=found.pictures, pixels=found.pixels)


def train_create(*, user, params: dict[str, Any], dataset_zip: UploadedFile | None = None) -> Job:
    """Queue a training run whose params the form already checked. Raises JobRefused
    when the user is at their limit or the run's estimated cost is over the budget."""
    title = f"{params.get('preset') or 'custom net'} on {params['dataset']}"
    if params.get("task", "classify") != "classify":
        title = f"{params['task']}: {title}"
    files = {"dataset.zip": dataset_zip} if dataset_zip is not None else None
    return job_create(user=user, kind=KIND, params=params, files=files, title=title)


def transfer_create(*, user, params: dict[str, Any]) -> Job:
    """Queue a transfer-learning run (params["transfer"]: mode, cut, epochs, per_class)
    that TransferForm checked. Raises JobRefused like train_create."""
    t = params["transfer"]
    what = "scratch vs frozen vs fine-tune" if t["mode"] == "compare" else t["mode"]
    title = f"VGG19 to block {t['cut']}, {what}, on {params['dataset']}"
    return job_create(user=user, kind=KIND, params=params, title=title)


def explain_create(*, user, run: Job, upload: UploadedFile, target: int | None) -> Job:
    """Queue "why this prediction" for a picture on one of the user's trained runs (the
    worker computes Grad-CAM and saliency). ValidationError when the picture cannot be
    used (headers only: no pixel is decoded here); JobRefused like train_create."""
    limits = upload_limits()
    uploads_probe([upload], limits)
    upload.seek(0)
    params = {"explain": {"run": str(run.id), "target": target, "name": upload.name or ""}}
    title = f"why: {upload.name or 'a picture'} on {run.title or str(run.id)[:8]}"
    return job_create(user=user, kind=KIND, params=params, files={"picture": upload}, title=title)


def explain_cell_create(*, user, run: Job, cell: tuple[int, int]) -> Job:
    """Queue the drill-down of one confusion-matrix cell (true, predicted) of a trained
    classifier: its validation pictures, most confident first, each with its Grad-CAM."""
    classes = (run.metrics or {}).get("classes") or []
    params = {"explain": {"run": str(run.id), "cell": list(cell)}}
    run_name = run.title or str(run.id)[:8]
    title = f"why {classes[cell[0]]} looked like {classes[cell[1]]} in {run_name}"
    return job_create(user=user, kind=KIND, params=params, title=title)


def explain_unit_create(*, user, run: Job, layer: int, channel: int) -> Job:
    """Queue "what does this unit respond to" for channel `channel` of spec layer `layer`
    of a trained run: its top validation patches and an optimised picture."""
    params = {"explain": {"run": str(run.id), "unit": {"layer": f"layers.{layer}",
                                                        "channel": channel}}}  # fmt: skip
    title = f"layer {layer}, unit {channel} of {run.title or str(run.id)[:8]}"
    return job_create(user=user, kind=KIND, params=params, title=title)


TEACH_MAX_CLASSES = 10
TEACH_MAX_PICTURES = 600  # all classes together


TEACH_FRAMES_WAITING = 2  # older frames are dropped: the answer is for the newest one


def teach_frames_key(job_id) -> str:
    """The Redis list of frames waiting for a teach job (the worker's teachjob pops it)."""
    return f"teach:{job_id}:frames"


class TeachError(ValueError):
    """Classes or pictures that cannot be trained on; the message is for the person."""


def teach_create(*, user, classes: list[str], pictures: list[list[UploadedFile]]) -> Job:
    """Queue "teach it your own objects": one list of uploaded pictures per class name.
    Checks the classes and each picture's headers (no pixel is decoded here); TeachError
    or ValidationError says what is wrong, JobRefused like train_create."""
    names = [str(c).strip()[:40] for c in classes]
    if len(names) < 2:
        raise TeachError("Make at least two classes: a classifier chooses between things.")
    if len(names) > TEACH_MAX_CLASSES or len(set(names)) != len(names) or not all(names):
        raise TeachError(f"Give 2 to {TEACH_MAX_CLASSES} classes, each its own name.")
    empty = [n for n, pics in zip(names, pictures, strict=True) if not pics]
    if empty:
        raise TeachError(f"Class {empty[0]!r} has no pictures yet.")
    total = sum(len(p) for p in pictures)
    if total > TEACH_MAX_PICTURES:
        raise TeachError(f"{total} pictures: at most {TEACH_MAX_PICTURES} in all.")
    uploads_probe([u for pics in pictures for u in pics], upload_limits())
    files, lists = {}, []
    for i, pics in enumerate(pictures):
        lists.append([])
        for j, upload in enumerate(pics):
            upload.seek(0)
            name = f"c{i}-{j}-{(upload.name or 'picture')[-40:]}"
            files[name] = upload
            lists[-1].append(name)
    params = {"teach": {"classes": names, "files": lists, "epochs": 12}}
    title = "teach: " + ", ".join(names)
    return job_create(user=user, kind=KIND, params=params, files=files, title=title[:120])


def teach_frame(*, job: Job, frame: bytes, frame_id: str) -> None:
    """Hand one camera frame (or dropped picture) to the job serving it: headers checked
    here, decoded on the worker. Only the newest frames wait; TeachError when it cannot."""
    import base64

    import redis
    from django.conf import settings

    from webapp.pictures import probe_upload

    if job.status != "running" or not (job.metrics or {}).get("teach"):
        raise TeachError("This model is not taking pictures now: train it again.")
    try:
        probe_upload(frame, "the frame", upload_limits())
    except UploadError as exc:
        raise TeachError(str(exc)) from None
    item = json.dumps({"id": frame_id[:40], "data": base64.b64encode(frame).decode()})
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
    key = teach_frames_key(job.id)
    with client.pipeline() as pipe:
        pipe.rpush(key, item).ltrim(key, -TEACH_FRAMES_WAITING, -1).expire(key, 300).execute()


def gallery_create(*, user) -> Job:
    """Queue the VGG19 unit gallery: 4 units of each of relu1_1 ... relu5_1, each a 96 px
    picture optimised to excite it (96 steps)."""
    params = {"gallery": {"units": 4, "size": 96, "steps": 96}}
    return job_create(user=user, kind=KIND, params=params, title="VGG19 units, conv1 to conv5")


def train_initial_from(job: Job | None) -> dict[str, Any]:
    """The builder's form filled in from an earlier run, or {} for the defaults (an
    uploaded zip is not kept: such a run starts again on a built-in dataset)."""
    if job is None or any(k in job.params for k in ("transfer", "explain", "gallery")):
        return {}  # not a net built in the builder: start from its defaults
    p = job.params
    initial = {k: v for k, v in p.items() if k not in ("spec", "augment", "inputs")}
    initial.update(p.get("augment", {}), spec=json.dumps(p.get("spec", [])))
    if initial.get("dataset") == UPLOAD:
        initial["dataset"] = "stripes"
    return initial


def estimate(params: dict[str, Any], budget: Budget) -> JobCost:
    """Peak memory and run time of a training run on the budget's device (JobKind's
    `estimate`, checked before the run is queued); see playground/cost.py."""
    from playground.netspec import SpecError, summarize

    if params.get("teach"):  # frozen features of a few pictures, then serving frames
        pictures = sum(len(names) for names in params["teach"]["files"])
        train = cost.transfer_cost({"dataset": "digits", "transfer": {
            "mode": "frozen", "cut": 2, "epochs": params["teach"].get("epochs", 12)}}, budget)
        seconds = train.runtime_s * pictures / 1797 + 180  # + serving until 120 s idle
        return JobCost(memory_mb=train.memory_mb, runtime_s=seconds)
    if params.get("gallery"):  # activation maximisation: ~0.6 s a step at 128 px on a CPU
        g = params["gallery"]
        steps = len(g.get("layers") or "12345") * int(g.get("units", 4)) * int(g.get("steps", 96))
        share = (int(g.get("size", 96)) / 128) ** 2
        speed = cost.GPU_SPEEDUP if budget.device == "cuda" else 1
        return JobCost(memory_mb=cost.BASE_MB + 400, runtime_s=steps * 0.6 * share / speed)
    if params.get("explain"):
        return JobCost(memory_mb=cost.BASE_MB + 200, runtime_s=cost.BASE_S + 5)  # one picture
    if params.get("transfer"):
        try:
            return cost.transfer_cost(params, budget)
        except (LookupError, TypeError, ValueError):
            return JobCost(memory_mb=0, runtime_s=0)  # the worker says what is wrong
    dataset = params.get("dataset")
    try:
        if dataset == UPLOAD:
            classes = params.get("upload_classes") or LIMITS.max_classes
        else:
            classes = {**BUILTIN_SHAPES, **SCENE_SHAPES}[dataset][1]
        head, outputs = task_head(task=params.get("task", "classify"), classes=classes,
                                  verify_loss=params.get("verify_loss", "triplet"))
        shape = input_shape_for(dataset=dataset, image_size=params.get("image_size", 32))
        summary = summarize(params["spec"], shape, outputs, head=head)
        return cost.train_cost(
            summary=summary,
            samples=cost.dataset_sizes(params),
            batch_size=int(params["batch_size"]),
            epochs=int(params["epochs"]),
            optimizer=params["optimizer"],
            budget=budget,
        )
    except (SpecError, LookupError, TypeError, ValueError):
        # params the form would not send: the worker fails the run saying why, at once
        return JobCost(memory_mb=0, runtime_s=0)


# ---------------------------------------------------------------------------------------
# runs afterwards: list, compare, share, predict


def runs_of(*, user) -> list[Job]:
    return list(Job.objects.filter(user=user, kind=KIND).order_by("-created_at")[:200])


def runs_compare(*, user, ids: list[str]) -> list[dict[str, Any]]:
    """Per-epoch curves and settings of the user's runs with these ids (others ignored)."""
    valid = []
    for raw in ids[:12]:
        try:
            valid.append(uuid.UUID(raw.strip()))
        except ValueError:
            continue
    jobs = Job.objects.filter(user=user, kind=KIND, pk__in=valid)
    order = {v: i for i, v in enumerate(valid)}
    runs = []
    for job in sorted(jobs, key=lambda j: order[j.id]):
        epochs = (job.metrics or {}).get("epochs") or (job.result or {}).get("history") or []
        runs.append({
            "id": str(job.id), "title": job.title or str(job.id)[:8], "status": job.status,
            "url": job.get_absolute_url(), "epochs": epochs,
            "settings": {k: job.params.get(k) for k in (
                "dataset", "optimizer", "lr", "batch_size", "epochs", "init", "weight_decay")},
            "params": (job.metrics or {}).get("total_params"),
        })
    return runs


def run_share(*, job: Job) -> RunShare:
    """The run's read-only share link (made once, then reused)."""
    with transaction.atomic():
        share, _ = RunShare.objects.get_or_create(
            job=job, defaults={"token": secrets.token_urlsafe(24)}
        )
    return share


def run_unshare(*, job: Job) -> None:
    RunShare.objects.filter(job=job).delete()


def shared_run(*, token: str) -> Job | None:
    share = RunShare.objects.select_related("job").filter(token=token).first()
    return share.job if share else None


class PredictError(ValueError):
    """A picture or run that cannot be used for a prediction; the message is for the user."""


def run_predict(*, job: Job, upload: UploadedFile) -> list[dict[str, Any]]:
    """Class probabilities of the run's trained model for one uploaded picture."""
    from playground.export import model_load, predict

    path = f"{job.storage_prefix}/model.pt"
    if job.kind != KIND or not default_storage.exists(path):
        raise PredictError("This run has no trained model yet.")
    limits, name = upload_limits(), upload.name or "the picture"
    try:
        picture = read_picture(read_bytes(upload, name, limits), name, limits)
    except UploadError as exc:
        raise PredictError(str(exc)) from None
    with default_storage.open(path, "rb") as fh:
        model, classes = model_load(io.BytesIO(fh.read()))
    if model.head_kind != "classifier":
        raise PredictError("Trying a picture is for classifiers; this run's live view shows "
                           "what its net predicts.")
    return predict(model, picture.image, classes)
