""" "Teach it your own objects", in the worker: a `train` job whose params hold `teach`.

1. Train: the pictures the person captured or dropped, one class per list, decoded one
   at a time through webapp/pictures.py and made 32 px RGB, train a new head on frozen
   VGG19 features (cut after block 2; playground/transfer.py). The model files are
   saved and a `teach_ready` event says so.
2. Serve: the job then classifies the frames the page posts (the web process puts them
   in a short Redis list, never decoding them) and answers each with a `prediction`
   event, until no frame came for `TEACH_IDLE_S` seconds or the person stops it.
"""

from __future__ import annotations

import base64
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import redis
import torch
from django.conf import settings
from PIL import Image

from playground.datasets import Dataset, split_per_class
from playground.services import teach_frames_key
from playground.transfer import (
    FeatureCache,
    TransferConfig,
    TransferError,
    transfer_build,
    transfer_save,
    transfer_train,
)
from webapp.modelfiles import ModelFileError
from webapp.pictures import UploadError, read_picture
from webapp.runner import JobContext, JobError
from webapp.tools import upload_limits

SIDE = 32
TEACH_IDLE_S = 120.0  # serving ends after this long without a frame


def _tensor(image: Image.Image) -> torch.Tensor:
    small = image.convert("RGB").resize((SIDE, SIDE), Image.BILINEAR)
    return torch.from_numpy(np.asarray(small, dtype=np.uint8).copy()).permute(2, 0, 1).float() / 255


def run_teach(ctx: JobContext) -> dict[str, Any]:
    t = ctx.params["teach"]
    classes: list[str] = t["classes"]
    limits = upload_limits()
    xs, ys = [], []
    for label, names in enumerate(t["files"]):
        for name in names:
            try:
                picture = read_picture(ctx.read_input(name), name.split("-", 2)[-1], limits)
            except UploadError as exc:
                raise JobError(str(exc)) from None
            xs.append(_tensor(picture.image))
            ys.append(label)
    x, y = torch.stack(xs), torch.tensor(ys)
    fewest = int(y.bincount(minlength=len(classes)).min())
    if fewest >= 5:  # hold out a fifth of each class to say how well it does
        data = split_per_class("teach", classes, x, y, 0.2, 0)
    else:  # too few to hold any out: the number shown is on the training pictures
        data = Dataset("teach", classes, x, y, x, y)
    config = TransferConfig(mode="frozen", cut=2, image_size=SIDE, epochs=int(t.get("epochs", 12)),
                            batch_size=16, lr=2e-3, device=ctx.device)  # fmt: skip
    started = time.perf_counter()
    try:
        net = transfer_build(config, len(classes), input_channels=3)
        result = transfer_train(
            net, data, FeatureCache(),
            on_epoch=lambda row: ctx.report(0.9 * row["epoch"] / config.epochs),
            should_stop=ctx.should_stop,
        )  # fmt: skip
    except (TransferError, ModelFileError) as exc:
        raise JobError(str(exc)) from None
    train_s = time.perf_counter() - started
    files = []
    with tempfile.TemporaryDirectory() as tmp:
        transfer_save(net, classes, Path(tmp))
        for name, label in (("model.torchscript.pt", "Model (TorchScript, with class names)"),
                            ("model.pt", "Model (checkpoint)")):  # fmt: skip
            files.append({"name": name, "label": label,
                          "url": ctx.save_file(name, (Path(tmp) / name).read_bytes())})  # fmt: skip
    ready = {"classes": classes, "val_accuracy": result.val_accuracy, "held_out": fewest >= 5,
             "train_seconds": round(train_s, 2), "files": files}  # fmt: skip
    ctx.report(1.0, event="teach_ready", data=ready, metrics={"teach": ready}, force=True)
    served = _serve(ctx, net.to(ctx.device).eval(), classes, limits)
    return {"teach": {**ready, "served": served}, "files": files}


def _serve(ctx: JobContext, net, classes: list[str], limits) -> int:
    """Answer the page's frames until it goes quiet or the job is stopped."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    key, last, served = teach_frames_key(ctx.job.id), time.monotonic(), 0
    while not ctx.should_stop() and time.monotonic() - last < TEACH_IDLE_S:
        try:
            item = client.blpop([key], timeout=1)
        except redis.RedisError:
            time.sleep(1)
            continue
        if item is None:
            continue
        last = time.monotonic()
        frame = json.loads(item[1])
        try:
            picture = read_picture(base64.b64decode(frame["data"]), "the frame", limits)
        except (UploadError, ValueError) as exc:
            ctx.report(event="prediction", data={"id": frame.get("id"), "error": str(exc)},
                       force=True)  # fmt: skip
            continue
        with torch.inference_mode():
            probs = net(_tensor(picture.image)[None].to(ctx.device)).softmax(1)[0].cpu()
        ctx.report(event="prediction", force=True, data={
            "id": frame.get("id"), "probabilities": [round(float(p), 4) for p in probs],
            "label": classes[int(probs.argmax())],
        })  # fmt: skip
        served += 1
    client.delete(key)
    return served
