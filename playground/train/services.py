"""The `train` kind's web side: plain functions the views and forms call.

The engine (netspec, datasets, trainer, export) stays Django-free and the worker's side
is playground/train/worker.py; this module checks what the builder sent, starts runs
(`train_create`) with a cost estimate (`estimate`), refills the builder from an earlier
run (`train_initial_from`), and compares, shares and queries runs.
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from playground import cost
from playground.classfolders import UPLOAD, ZipDataset, dataset_zip_probe
from playground.limits import LIMITS
from playground.models import RunShare
from playground.taskcatalogue import (
    SCENE_SHAPES,
    SCENES,
    TASK_PRESETS,
    TASK_TRAINING,
    TASKS,
    head_for,
    task_outputs,
    task_title,
)
from webapp.jobkinds import Budget, JobCost
from webapp.jobs import job_create
from webapp.models import Job
from webapp.pictures import UploadError, UploadLimits
from webapp.tools import upload_limits, upload_read

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
    title = task_title(params.get("task") or TASKS[0], title)  # runs from before tasks classify
    files = {"dataset.zip": dataset_zip} if dataset_zip is not None else None
    return job_create(user=user, kind=KIND, params=params, files=files, title=title)


def train_initial_from(job: Job | None) -> dict[str, Any]:
    """The builder's form filled in from an earlier run, or {} for the defaults (an
    uploaded zip is not kept: such a run starts again on a built-in dataset)."""
    if job is None:
        return {}
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


COMPARED_SETTINGS = {  # what the compare page's table shows; a run's name adds those that differ
    "dataset": "", "optimizer": "", "lr": "lr", "batch_size": "batch", "epochs": "epochs",
    "init": "init", "weight_decay": "weight decay", "seed": "seed",
}


def runs_compare(*, user, ids: list[str]) -> list[dict[str, Any]]:
    """Per-epoch curves, gradient norms and settings of the user's runs with these ids
    (others ignored), each named by its title plus what tells it from same-titled runs."""
    valid = []
    for raw in ids[:12]:
        try:
            valid.append(uuid.UUID(raw.strip()))
        except ValueError:
            continue
    jobs = Job.objects.filter(user=user, kind=KIND, pk__in=valid)
    order = {v: i for i, v in enumerate(valid)}
    jobs = sorted(jobs, key=lambda j: order[j.id])
    names = run_names(jobs)
    runs = []
    for job, name in zip(jobs, names, strict=True):
        epochs = (job.metrics or {}).get("epochs") or (job.result or {}).get("history") or []
        runs.append({
            "id": str(job.id), "title": job.title or str(job.id)[:8], "name": name,
            "status": job.status, "url": job.get_absolute_url(), "epochs": epochs,
            "settings": {k: job.params.get(k) for k in COMPARED_SETTINGS},
            "params": (job.metrics or {}).get("total_params"),
            "gradients": (job.metrics or {}).get("gradients") or {"names": [], "points": []},
        })
    return runs


def run_names(jobs: list[Job]) -> list[str]:
    """Each run's title; where titles repeat, plus the settings that differ among those runs
    ("lr 0.01, batch 32"), and where even those agree, its number and start time."""
    titles = [job.title or str(job.id)[:8] for job in jobs]
    names = []
    for job, title in zip(jobs, titles, strict=True):
        twins = [j for j, t in zip(jobs, titles, strict=True) if t == title]
        if len(twins) == 1:
            names.append(title)
            continue
        differ = [k for k in COMPARED_SETTINGS if len({repr(j.params.get(k)) for j in twins}) > 1]
        parts = [f"{COMPARED_SETTINGS[k]} {job.params.get(k)}".strip() for k in differ]
        names.append(f"{title} ({', '.join(parts)})" if parts else title)
    repeated = {name for name in names if names.count(name) > 1}
    for i, (job, name) in enumerate(zip(jobs, names, strict=True)):
        if name in repeated:  # nothing in the settings tells them apart
            names[i] = f"{name} · #{str(job.id)[:6]}, {timezone.localtime(job.created_at):%H:%M:%S}"
    return names


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
