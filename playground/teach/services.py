"""The `teach` kind's web side: start "teach it your own objects" from the pictures the
page captured, hand the page's frames to the job serving them, and "run again" with the
same class names. Frames go through the job's inbox (webapp/inbox.py). The worker's side
is playground/teach/worker.py.
"""

from __future__ import annotations

import base64
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from playground import cost
from webapp.inbox import InboxError, job_inbox_send
from webapp.jobkinds import Budget, JobCost
from webapp.jobs import job_create
from webapp.models import Job
from webapp.pictures import UploadError, probe_upload
from webapp.tools import upload_limits, uploads_probe

KIND = "teach"
TEACH_MAX_CLASSES = 10
TEACH_MAX_PICTURES = 600  # all classes together
TEACH_EPOCHS = 12
TEACH_FRAMES_WAITING = 2  # older frames are dropped: the answer is for the newest one
# A frame is a camera picture shrunk to 224 px on the worker: 4 Mpx (a 2560 × 1600 frame)
# is more than any camera sends, and a few KB of PNG cannot make the worker decode 40 Mpx.
TEACH_FRAME_MAX_PIXELS, TEACH_FRAME_MAX_SIDE = 4_000_000, 4096


class TeachError(ValueError):
    """Classes or pictures that cannot be trained on; the message is for the person."""


def teach_create(*, user, classes: list[str], pictures: list[list[UploadedFile]]) -> Job:
    """Queue "teach it your own objects": one list of uploaded pictures per class name.
    Checks the classes and each picture's headers (no pixel is decoded here); TeachError
    or ValidationError says what is wrong, JobRefused at the user's limit or the budget."""
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
    params = {"teach": {"classes": names, "files": lists, "epochs": TEACH_EPOCHS}}
    title = "teach: " + ", ".join(names)
    return job_create(user=user, kind=KIND, params=params, files=files, title=title[:120])


def teach_initial_from(job: Job | None) -> dict[str, Any]:
    """The teach page's starting classes from an earlier teach job ({} for two empty
    ones): the names come back; the pictures are captured again."""
    if job is None:
        return {}
    return {"classes": list((job.params.get("teach") or {}).get("classes") or [])}


def teach_frame(*, job: Job, frame: bytes, frame_id: str) -> None:
    """Hand one camera frame (or dropped picture) to the job serving it: headers checked
    here, decoded on the worker. Only the newest frames wait; TeachError when it cannot."""
    if job.kind != KIND or job.status != "running" or not (job.metrics or {}).get("teach"):
        raise TeachError("This model is not taking pictures now: train it again.")
    try:
        probe_upload(frame, "the frame", upload_limits(
            max_pixels=TEACH_FRAME_MAX_PIXELS, max_side=TEACH_FRAME_MAX_SIDE))  # fmt: skip
    except UploadError as exc:
        raise TeachError(str(exc)) from None
    message = {"id": frame_id[:40], "data": base64.b64encode(frame).decode()}
    try:
        job_inbox_send(job_id=job.id, message=message, keep=TEACH_FRAMES_WAITING)
    except InboxError as exc:
        raise TeachError(str(exc)) from None


def estimate(params: dict[str, Any], budget: Budget) -> JobCost:
    """Frozen VGG19 features of a few pictures and a head, then serving frames until the
    page goes quiet (settings.TEACH_IDLE_S)."""
    from django.conf import settings

    t = params.get("teach") or {}
    pictures = sum(len(names) for names in t.get("files") or [])
    train = cost.transfer_cost({"dataset": "digits", "transfer": {
        "mode": "frozen", "cut": 2, "epochs": t.get("epochs", TEACH_EPOCHS)}}, budget)
    seconds = train.runtime_s * pictures / 1797 + 60 + settings.TEACH_IDLE_S
    return JobCost(memory_mb=train.memory_mb, runtime_s=seconds)
