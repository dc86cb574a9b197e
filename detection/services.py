"""The detection tool's web side: plain functions the views call. No torch here.

The engine (darknet.py, yolo.py, annotate.py) stays Django-free and runs in the worker
(worker.py); this module knows the model files, how a detection job is started and what
one costs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile

from detection.modelcard import (
    CANDIDATE_FLOOR,
    CANDIDATE_IOU,
    DEFAULT_MODEL,
    MODELS,
    ModelCard,
    model_card_for,
)
from detection.thresholds import format_class_conf
from webapp.jobkinds import Budget, JobCost
from webapp.jobs import job_create
from webapp.modelfiles import ModelFileError, model_path
from webapp.models import Job
from webapp.pictures import PictureInfo

if TYPE_CHECKING:  # PyAV is imported where clips are read, not by every process
    from detection.video import VideoInfo

KIND = "detect"
DEFAULT_CONF = 0.25
DEFAULT_IOU = 0.45


def model_card(card: ModelCard | None = None) -> dict[str, Any]:
    """A model as the pages describe it (default: the default model)."""
    card = card or MODELS[DEFAULT_MODEL]
    return {
        "key": card.key,
        "name": card.name,
        "input_size": list(card.input_size),
        "dataset": card.dataset,
        "classes": card.classes,
        "published_map50": card.published_map50,
        "source": card.source,
        "heads": card.heads,
        "parameters": card.parameters,
        "network_ms": card.network_ms,
        "floor": CANDIDATE_FLOOR,
        "candidate_iou": CANDIDATE_IOU,
    }


def model_installed(card: ModelCard) -> str:
    """"" when the model's files are on this machine, else the message saying how to fetch them."""
    try:
        for name in (card.cfg, card.weights, card.names):
            model_path(name)
    except ModelFileError as exc:
        return str(exc)
    return ""


def model_label(card: ModelCard) -> str:
    """One line for a model choice: its published mAP, input, size and measured time."""
    w, h = card.input_size
    return (
        f"{card.name}: {card.published_map50:g} mAP@0.5 on {card.dataset}, {w}×{h}, "
        f"{card.parameters / 1e6:.1f} M parameters, about {card.network_ms:.0f} ms a picture"
    )


@lru_cache(maxsize=4)
def _read_names(path: str, mtime: float) -> tuple[str, ...]:
    with open(path) as fh:
        return tuple(line.strip() for line in fh if line.strip())


def class_names() -> list[str]:
    """The models' class names (all of them share COCO's names file); raises
    ModelFileError when the files are missing."""
    path = model_path(MODELS[DEFAULT_MODEL].names)
    return list(_read_names(str(path), path.stat().st_mtime))


def class_names_or_empty() -> tuple[list[str], str]:
    """(class names, "") or ([], the message saying how to fetch the model files)."""
    try:
        return class_names(), ""
    except ModelFileError as exc:
        return [], str(exc)


def detect_initial_from(job: Job | None) -> dict[str, Any]:
    """The form's starting values: the defaults, or the knobs of an earlier detection job."""
    initial: dict[str, Any] = {
        "model": DEFAULT_MODEL, "conf": DEFAULT_CONF, "iou": DEFAULT_IOU, "classes": [],
        "class_conf": "", "compare": []
    }  # fmt: skip
    if job is not None and job.kind == KIND:
        for key in ("model", "conf", "iou", "classes", "compare"):
            if key in job.params:
                initial[key] = job.params[key]
        initial["class_conf"] = format_class_conf(job.params.get("class_conf") or {})
    return initial


def detect_create(
    *,
    user,
    uploads: Sequence[UploadedFile],
    pictures: Sequence[PictureInfo],
    model: str = DEFAULT_MODEL,
    conf: float,
    iou: float,
    classes: Sequence[str],
    class_conf: dict[str, float] | None = None,
    labels: Sequence[UploadedFile] = (),
    windows: int = 0,
    compare: Sequence[str] = (),
    proposals: bool = False,
) -> Job:
    """Store the uploads (checked from their headers: `pictures` is what they declare)
    and queue a detection job for them; raises JobRefused when over a limit or budget.
    `compare`: other models to run over the same labelled pictures (needs `labels`)."""
    files = {}
    names = []
    for index, upload in enumerate(uploads):
        upload.seek(0)
        files[f"upload-{index:03d}"] = upload
        names.append(upload.name)
    for index, upload in enumerate(labels):  # checked by the form; read again by the worker
        upload.seek(0)
        files[f"labels-{index:03d}"] = upload
    title = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
    if len(pictures) != len(names):
        title += f" ({len(pictures)} pictures)"
    if labels:
        title += ", with labels"
    chosen = model_card_for(model).key
    others = [model_card_for(k).key for k in compare if k != chosen]
    if others and not labels:
        raise ValueError("comparing models needs labels")
    params = {
        "model": chosen,
        "compare": others,  # models run over the same labelled pictures, for comparison
        "conf": conf,
        "iou": iou,
        "classes": list(classes),
        "class_conf": dict(class_conf or {}),
        "upload_names": names,
        "label_names": [u.name for u in labels],  # any: the job also measures mAP on them
        "windows": int(windows),  # window side of the sliding-window comparison; 0: none
        "proposals": bool(proposals),  # the two-stage (region proposals) comparison
        # what the cost estimate reads: how many pictures, their pixels, the largest one
        "picture_count": len(pictures),
        "pixels": sum(p.pixels for p in pictures),
        "largest_pixels": max((p.pixels for p in pictures), default=0),
    }
    return job_create(user=user, kind=KIND, params=params, files=files, title=title)


def video_create(
    *,
    user,
    upload: UploadedFile,
    info: VideoInfo,
    model: str = DEFAULT_MODEL,
    conf: float,
    iou: float,
    classes: Sequence[str],
    class_conf: dict[str, float] | None = None,
) -> Job:
    """Store a clip (checked from its headers: `info`) and queue its detection; the same
    kind as pictures, in the video mode. Raises JobRefused when over a limit or budget."""
    from detection.video import VideoLimits

    upload.seek(0)
    limits = VideoLimits()
    params = {
        "mode": "video",
        "model": model_card_for(model).key,
        "conf": conf,
        "iou": iou,
        "classes": list(classes),
        "class_conf": dict(class_conf or {}),
        "video_name": upload.name,
        "batch_size": VIDEO_BATCH,
        # what the cost estimate reads
        "frame_count": min(info.frames, limits.max_frames),
        "frame_pixels": info.pixels,
    }
    title = f"{upload.name} ({info.seconds:.1f} s video)"
    return job_create(user=user, kind=KIND, params=params, files={"video": upload}, title=title)


# The cost model, fitted to jobs run by a real worker on the project's 2-core machine
# (docs/detection.md, "What a job costs"; `bench/bench_detection_cost.py worker`).
# Memory: the worker with torch and the model loaded, a few copies of the largest picture
# (decoded, RGB, annotated, the encoders' buffers: pictures are decoded one at a time)
# and a little per pixel of all pictures (the uploads' bytes, the allocator's leftovers).
# Time: loading the model, a fixed cost per picture (the network always sees 416x416) and
# a cost per pixel (decoding, resizing, encoding the stored JPEG and annotated PNG).
# Measured on the CPU only; a GPU shortens just the fixed part, so there it is an upper bound.
# Fitted with YOLOv3-tiny; another model's per-picture and per-frame costs are scaled by
# its network time against YOLOv3-tiny's (`network_scale`), and its memory by its weights.
BASE_MB = 920.0
PEAK_BYTES_PER_PIXEL = 12.0  # of the largest picture
HELD_BYTES_PER_PIXEL = 1.5  # of all pictures together
LOAD_S = 1.0
PER_PICTURE_S = 0.1
PER_PIXEL_S = 0.6e-6


# The sliding-window comparison on one picture: 169 windows through the network, by window
# side (measured on the 2-core machine, `bench/bench_detection_windows.py`).
WINDOWS_S = {96: 8.0, 160: 18.0, 224: 28.0}
# The two-stage comparison: segmenting, grouping and up to 100 passes at 160 px (measured
# 7–10 s on the shared 2-core machine, `bench/bench_detection_proposals.py`).
PROPOSALS_S = 15.0

# A clip: per frame the network on a batch, the drawing and VP9 encoding (per pixel);
# memory holds one batch of frames, drawn copies and the encoded clip. Rough, not fitted
# like the pictures' model: from the worker-pipeline rate of `bench/bench_detection_video.py`
# (9 frames/s at 640x360 with bfloat16 on the shared 2-core machine), with room for float32.
VIDEO_BATCH = 8
VIDEO_PER_FRAME_S = 0.1
VIDEO_PER_PIXEL_S = 0.05e-6
VIDEO_BYTES_PER_PIXEL = 40.0  # of one frame (a batch of decoded, letterboxed, drawn copies)


def network_scale(params: dict[str, Any]) -> tuple[float, float]:
    """(time factor, extra MB) of the job's model against YOLOv3-tiny, which the costs were
    fitted with: its network time per picture, and its weights (float32) beyond YOLOv3-tiny's."""
    card, fitted = model_card_for(params.get("model")), MODELS[DEFAULT_MODEL]
    extra_mb = max(0.0, (card.parameters - fitted.parameters) * 4 / 2**20)
    return card.network_ms / fitted.network_ms, extra_mb


def estimate_video(params: dict[str, Any], budget: Budget) -> JobCost:
    frames = max(int(params.get("frame_count", 1)), 1)
    pixels = float(params.get("frame_pixels", 0))
    factor, extra_mb = network_scale(params)
    memory_mb = BASE_MB + extra_mb + VIDEO_BYTES_PER_PIXEL * pixels * VIDEO_BATCH / 8 / 2**20 + 50
    per_frame = VIDEO_PER_FRAME_S * factor + VIDEO_PER_PIXEL_S * pixels
    runtime_s = LOAD_S + frames * per_frame
    fewer = max(0, math.floor((budget.runtime_s - LOAD_S) / per_frame / 30))
    return JobCost(
        memory_mb=memory_mb,
        runtime_s=runtime_s,
        lower={"memory": "send a clip of a smaller size", "runtime": f"send a shorter clip "
               f"(at most {fewer:,} s at 30 frames a second)"},
    )  # fmt: skip


def compare_runtime_s(params: dict[str, Any], count: int) -> float:
    """The model comparison: the chosen model once more and each other model (loaded)
    over every picture, the network's share of the per-picture cost each time."""
    compared = params.get("compare") or []
    if not compared:
        return 0.0
    keys = [params.get("model"), *compared]
    return sum(LOAD_S + PER_PICTURE_S * network_scale({"model": k})[0] * count for k in keys)


def estimate(params: dict[str, Any], budget: Budget) -> JobCost:
    """Peak memory and run time of a detection job from its pictures' declared sizes
    (or its clip's: `estimate_video`)."""
    if params.get("mode") == "video":
        return estimate_video(params, budget)
    count = max(int(params.get("picture_count", 1)), 1)
    pixels = float(params.get("pixels", 0))
    largest = float(params.get("largest_pixels", 0))
    factor, extra_mb = network_scale(params)
    held_mb = HELD_BYTES_PER_PIXEL * pixels / 2**20 + extra_mb
    memory_mb = BASE_MB + held_mb + PEAK_BYTES_PER_PIXEL * largest / 2**20
    runtime_s = LOAD_S + PER_PICTURE_S * factor * count + PER_PIXEL_S * pixels
    room_mb = budget.memory_mb - BASE_MB - held_mb
    if room_mb > 0:
        fits = room_mb * 2**20 / PEAK_BYTES_PER_PIXEL / 1e6
        smaller = f"send smaller pictures (at most {fits:,.1f} million pixels each)"
    else:
        smaller = "send fewer and smaller pictures"
    runtime_s += WINDOWS_S.get(int(params.get("windows") or 0), 0.0) * factor
    runtime_s += compare_runtime_s(params, count)
    runtime_s += PROPOSALS_S * factor if params.get("proposals") else 0.0
    per_picture_s = PER_PICTURE_S * factor + PER_PIXEL_S * pixels / count
    fewer = max(0, math.floor((budget.runtime_s - LOAD_S) / per_picture_s))
    return JobCost(
        memory_mb=memory_mb,
        runtime_s=runtime_s,
        lower={"memory": smaller, "runtime": f"send fewer pictures (at most {fewer:,})"},
    )
