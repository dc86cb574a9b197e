"""The playground's business logic for the web layer: plain functions the views call.

The engine (netspec, datasets, trainer, export) stays Django-free; this module turns
its answers into what the pages need and starts, compares, shares and queries runs.
"""

from __future__ import annotations

import io
import math
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from playground.limits import LIMITS
from playground.models import RunShare
from webapp.jobs import job_create
from webapp.models import Job

KIND = "train"

# Picture shape (C, H, W) and class count of each built-in dataset, so the summary
# table can be drawn on every keystroke without loading the data. A test checks them
# against the loaded datasets.
BUILTIN_SHAPES: dict[str, tuple[tuple[int, int, int], int]] = {
    "stripes": ((1, 16, 16), 4),
    "shapes": ((1, 16, 16), 4),
    "digits": ((1, 8, 8), 10),
    "mnist": ((1, 28, 28), 10),
    "fashion_mnist": ((1, 28, 28), 10),
    "cifar10": ((3, 32, 32), 10),
}
UPLOAD = "upload"

# Bounded histories kept in Job.metrics (what a reloaded page redraws from).
MAX_CURVE_POINTS = 240
MAX_GRADIENT_POINTS = 120
MAX_CONFUSION_CELLS = 40_000  # all kept per-epoch matrices together


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
    return rows


def input_shape_for(
    *, dataset: str, image_size: int = 32, channels: int = 3
) -> tuple[int, int, int]:
    """The (C, H, W) a net is built for on this dataset (uploads: the chosen size)."""
    if dataset == UPLOAD:
        return (channels, image_size, image_size)
    return BUILTIN_SHAPES[dataset][0]


def spec_summary(*, spec: Any, input_shape: tuple[int, ...], num_classes: int) -> dict[str, Any]:
    """The summary table of a spec, or where and why it breaks.

    Returns {"ok": True, "summary": {...}} or {"ok": False, "error": str, "index": int|None}.
    """
    from playground.netspec import SpecError, summarize

    try:
        summary = summarize(spec, tuple(input_shape), num_classes)
    except SpecError as exc:
        return {"ok": False, "error": str(exc), "reason": exc.reason, "index": exc.index}
    return {"ok": True, "summary": summary.to_dict(), "limits": {
        "max_params": LIMITS.max_params, "max_layers": LIMITS.max_layers,
        "max_activation_floats": LIMITS.max_activation_floats,
    }}


def preset_spec(*, name: str, input_shape: tuple[int, int, int]) -> list[dict]:
    """A named preset's spec for this picture shape (KeyError for an unknown name)."""
    from playground.presets import preset

    return preset(name, input_shape)


def training_start(*, user, params: dict[str, Any], dataset_zip=None) -> Job:
    """Queue a training run whose params the form already validated."""
    title = f"{params.get('preset') or 'custom net'} on {params['dataset']}"
    files = {"dataset.zip": dataset_zip} if dataset_zip is not None else None
    return job_create(user=user, kind=KIND, params=params, files=files, title=title)


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


def run_predict(*, job: Job, picture: bytes) -> list[dict[str, Any]]:
    """Class probabilities of the run's trained model for one uploaded picture."""
    from PIL import Image

    from playground.export import model_load, predict

    path = f"{job.storage_prefix}/model.pt"
    if job.kind != KIND or not default_storage.exists(path):
        raise PredictError("This run has no trained model yet.")
    if len(picture) > settings.UPLOAD_MAX_BYTES:
        raise PredictError(f"The picture is larger than {settings.UPLOAD_MAX_BYTES // 2**20} MB.")
    try:
        image = Image.open(io.BytesIO(picture))
        if image.width * image.height > settings.UPLOAD_MAX_PIXELS:
            raise PredictError(f"The picture is {image.width}×{image.height}; too many pixels.")
        image.load()
    except PredictError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PredictError("That file is not a picture that can be read.") from None
    with default_storage.open(path, "rb") as fh:
        model, classes = model_load(io.BytesIO(fh.read()))
    return predict(model, image, classes)


# ---------------------------------------------------------------------------------------
# worker side: what a run keeps for its page


def _thin(points: list, limit: int) -> list:
    """Halve a history by dropping every other point once it is over `limit` (keeps the last)."""
    if len(points) <= limit:
        return points
    return points[::2] if len(points) % 2 else points[::2] + [points[-1]]


class RunRecord:
    """The bounded history of one run, kept in Job.metrics so a reload redraws it all."""

    def __init__(self, *, epochs: int, steps_per_epoch: int) -> None:
        self.total_steps = max(1, epochs * steps_per_epoch)
        self.state: dict[str, Any] = {
            "state": "starting", "curve": [], "epochs": [],
            "gradients": {"names": [], "points": []},
            "filters": None, "activations": None, "confusion": [], "samples": None, "last": {},
        }

    def progress(self, step: int) -> float:
        return min(1.0, step / self.total_steps)

    def add(self, event: dict[str, Any]) -> list[str]:
        """Fold an engine event into the history; returns the keys of metrics that changed."""
        kind, s = event["type"], self.state
        if kind == "metrics":
            s["curve"] = _thin(s["curve"] + [[event["step"], round(event["train_loss"], 5),
                                              round(event["train_accuracy"], 4)]], MAX_CURVE_POINTS)
            s["last"] = {k: event[k] for k in ("epoch", "step", "train_loss", "train_accuracy",
                                                "lr", "samples_per_s")}
            return ["curve", "last"]
        if kind == "gradients":
            s["gradients"]["names"] = event["names"]
            s["gradients"]["points"] = _thin(
                s["gradients"]["points"] + [[event["step"], event["norms"]]], MAX_GRADIENT_POINTS)
            return ["gradients"]
        if kind == "epoch":
            s["epochs"] = s["epochs"] + [{k: v for k, v in event.items() if k != "type"}]
            return ["epochs"]
        if kind == "confusion":
            entry = {k: event[k] for k in ("epoch", "classes", "matrix")}
            kept = s["confusion"] + [entry]
            cells = len(event["classes"]) ** 2
            while len(kept) > 1 and len(kept) * cells > MAX_CONFUSION_CELLS:
                kept.pop(0)
            s["confusion"] = kept
            return ["confusion"]
        if kind in ("filters", "activations", "samples"):
            s[kind] = {k: v for k, v in event.items() if k != "type"}
            return [kind]
        if kind == "status":
            s["state"] = event["state"]
            return ["state"]
        return []

    def compact(self, keys: list[str]) -> dict[str, Any]:
        return {k: self.state[k] for k in keys}


def steps_per_epoch(*, samples: int, batch_size: int) -> int:
    return max(1, math.ceil(samples / batch_size))
