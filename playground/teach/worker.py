"""The `teach` kind in the worker: "teach it your own objects".

1. Train: the pictures the person captured or dropped, one class per list, decoded one
   at a time through webapp/pictures.py and made 32 px RGB, train a new head on frozen
   VGG19 features (cut after block 2; playground/transfer.py). The model files are
   saved and a `teach_ready` event says so.
2. Serve: the job then classifies the frames the page posts (the web process puts them
   in the job's inbox, webapp/inbox.py, never decoding them) and answers each with a
   `prediction` event, until no frame came for settings.TEACH_IDLE_S seconds (the page
   was left), the person stops it (the job's cancel) or fair share asks for the worker
   (the kind can yield: the session ends, the model is saved, a `teach_ended` event
   tells the page).

Only the worker imports this module (JobKind names it as "playground.teach.worker:run").
"""

from __future__ import annotations

import base64
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from django.conf import settings
from PIL import Image

from playground.controls import ControlsBridge
from playground.datasets import Dataset, split_per_class
from playground.transfer.engine import (
    FeatureCache,
    TransferConfig,
    TransferError,
    transfer_build,
    transfer_save,
    transfer_train,
)
from playground.transfer.worker import vgg_trunk
from webapp.pictures import UploadError, read_picture
from webapp.runner import JobContext, JobError
from webapp.tools import upload_limits

SIDE = 32
CUT = 2  # VGG19's blocks 1..2: fast, and general enough for a few objects


def _tensor(image: Image.Image) -> torch.Tensor:
    small = image.convert("RGB").resize((SIDE, SIDE), Image.BILINEAR)
    return torch.from_numpy(np.asarray(small, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255


def run(ctx: JobContext) -> dict[str, Any]:
    """Train on the pictures, say so (`teach_ready`), then serve the page's frames."""
    t = ctx.params["teach"]
    classes: list[str] = t["classes"]
    limits = upload_limits()
    data, held_out = _load(ctx, classes, t["files"], limits)
    net, ready = _loop(ctx, data, int(t.get("epochs", 12)), held_out)
    ready["files"] = files = _export(ctx, net, classes)
    ctx.report(1.0, event="teach_ready", data=ready, metrics={"teach": ready}, force=True)
    served, ended = _serve(ctx, net.to(ctx.device).eval(), classes, limits)
    if ended == "yielded":
        ctx.report(event="teach_ended", data={"reason": ended}, force=True)
    return {"teach": {**ready, "served": served, "ended": ended}, "files": files}


def _load(ctx: JobContext, classes: list[str], lists: list[list[str]], limits):
    """The captured pictures, decoded one at a time, as a dataset (and whether a fifth of
    each class was held out to say how well it does)."""
    xs, ys = [], []
    for label, names in enumerate(lists):
        for name in names:
            try:
                picture = read_picture(ctx.read_input(name), name.split("-", 2)[-1], limits)
            except UploadError as exc:
                raise JobError(str(exc)) from None
            xs.append(_tensor(picture.image))
            ys.append(label)
    x, y = torch.stack(xs), torch.tensor(ys)
    fewest = int(y.bincount(minlength=len(classes)).min())
    if fewest >= 5:
        return split_per_class("teach", classes, x, y, 0.2, 0), True
    return Dataset("teach", classes, x, y, x, y), False  # too few: scored on its own pictures


def _loop(ctx: JobContext, data: Dataset, epochs: int, held_out: bool):
    """A new head on frozen VGG19 features (the worker's shared trunk)."""
    config = TransferConfig(mode="frozen", cut=CUT, image_size=SIDE, epochs=epochs,
                            batch_size=16, lr=2e-3, device=ctx.device)  # fmt: skip
    started = time.perf_counter()
    try:
        net = transfer_build(config, len(data.classes), input_channels=3,
                             source=vgg_trunk(ctx, CUT))  # fmt: skip
        result = transfer_train(
            net, data, FeatureCache(),
            on_event=lambda row: ctx.report(0.9 * row["epoch"] / config.epochs),
            controls=ControlsBridge(ctx),
        )  # fmt: skip
    except TransferError as exc:
        raise JobError(str(exc)) from None
    return net, {"classes": data.classes, "val_accuracy": result.val_accuracy,
                 "held_out": held_out, "train_seconds": round(time.perf_counter() - started, 2)}


def _export(ctx: JobContext, net, classes: list[str]) -> list[dict[str, str]]:
    files = []
    with tempfile.TemporaryDirectory() as tmp:
        transfer_save(net, classes, Path(tmp))
        for name, label in (("model.torchscript.pt", "Model (TorchScript, with class names)"),
                            ("model.pt", "Model (checkpoint)")):  # fmt: skip
            files.append({"name": name, "label": label,
                          "url": ctx.save_file(name, (Path(tmp) / name).read_bytes())})  # fmt: skip
    return files


def _serve(ctx: JobContext, net, classes: list[str], limits) -> tuple[int, str]:
    """Answer the page's frames until it goes quiet, the job is stopped or fair share
    wants the worker for another user's job: (frames answered, why it ended – "idle",
    "stopped" or "yielded"). Yielding ends the session: the model is saved, and the page
    can start serving it again."""
    last, served = time.monotonic(), 0
    while time.monotonic() - last < settings.TEACH_IDLE_S:
        if ctx.should_stop():
            return served, "stopped"
        if ctx.controls().get("paused"):  # fair share asks for the worker
            return served, "yielded"
        frame = ctx.inbox(timeout=1)
        if frame is None:
            continue
        last = time.monotonic()
        try:
            data = base64.b64decode(str(frame.get("data", "")), validate=True)
            picture = read_picture(data, "the frame", limits)
        except (UploadError, ValueError) as exc:
            ctx.report(event="prediction", data={"id": frame.get("id"), "error": str(exc)},
                       force=True)  # fmt: skip
            continue
        with torch.inference_mode():
            probs = net(_tensor(picture.image)[None].to(ctx.device)).softmax(1)[0].cpu()
        ctx.report(event="prediction", force=True, data={
            "id": str(frame.get("id", ""))[:40],
            "probabilities": [round(float(p), 4) for p in probs],
            "label": classes[int(probs.argmax())],
        })  # fmt: skip
        served += 1
    return served, "idle"
