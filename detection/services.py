"""The detection tool's business logic for the web layer: plain functions views call.

The engine (darknet.py, yolo.py, uploads.py, annotate.py) stays Django-free; this module
knows the site's limits, the model files and how a detection job is started.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from detection.modelcard import CANDIDATE_FLOOR, CANDIDATE_IOU, MODEL_CARD
from detection.uploads import UploadLimits
from webapp.jobs import job_create
from webapp.modelfiles import ModelFileError, model_path
from webapp.models import Job

KIND = "detect"
DEFAULT_CONF = 0.25
DEFAULT_IOU = 0.45


def upload_limits() -> UploadLimits:
    """The engine's upload rules with the site's byte and pixel limits from settings."""
    return UploadLimits(max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS)


def model_card() -> dict[str, Any]:
    """The default model as the pages describe it (from the engine's MODEL_CARD)."""
    return {
        "name": MODEL_CARD.name,
        "input_size": list(MODEL_CARD.input_size),
        "dataset": MODEL_CARD.dataset,
        "classes": MODEL_CARD.classes,
        "published_map50": MODEL_CARD.published_map50,
        "source": MODEL_CARD.source,
        "floor": CANDIDATE_FLOOR,
        "candidate_iou": CANDIDATE_IOU,
    }


@lru_cache(maxsize=4)
def _read_names(path: str, mtime: float) -> tuple[str, ...]:
    with open(path) as fh:
        return tuple(line.strip() for line in fh if line.strip())


def class_names() -> list[str]:
    """The default model's class names; raises ModelFileError when the files are missing."""
    path = model_path(MODEL_CARD.names)
    return list(_read_names(str(path), path.stat().st_mtime))


def class_names_or_empty() -> tuple[list[str], str]:
    """(class names, "") or ([], the message saying how to fetch the model files)."""
    try:
        return class_names(), ""
    except ModelFileError as exc:
        return [], str(exc)


def detection_params_from(*, job: Job | None) -> dict[str, Any]:
    """The form's starting values: the defaults, or the knobs of an earlier detection job."""
    initial: dict[str, Any] = {"conf": DEFAULT_CONF, "iou": DEFAULT_IOU, "classes": []}
    if job is not None and job.kind == KIND:
        for key in initial:
            if key in job.params:
                initial[key] = job.params[key]
    return initial


def detection_create(
    *,
    user,
    uploads: Sequence[UploadedFile],
    conf: float,
    iou: float,
    classes: Sequence[str],
    picture_count: int,
) -> Job:
    """Store the (already validated) uploads and queue a detection job for them."""
    files = {}
    names = []
    for index, upload in enumerate(uploads):
        upload.seek(0)
        files[f"upload-{index:03d}"] = upload
        names.append(upload.name)
    title = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
    if picture_count != len(names):
        title += f" ({picture_count} pictures)"
    return job_create(
        user=user,
        kind=KIND,
        params={"conf": conf, "iou": iou, "classes": list(classes), "upload_names": names,
                "picture_count": picture_count},
        files=files,
        title=title,
    )
