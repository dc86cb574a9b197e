"""The `transfer` kind in the worker: VGG19 cut at a block, then a new head – one mode,
or all three on the same data at several training-set sizes (the one-click comparison).
Parse the settings, load the data and the shared VGG19 trunk (ctx.models), train each
(size, mode), export the model trained on the most pictures.

Only the worker imports this module (JobKind names it as "playground.transfer.worker:run").

Events (besides progress): `transfer` {"row": {...}} once per trained (mode, size),
with its per-epoch history and summary table; `transfer_epoch` {"mode", "per_class",
"epoch", "val_accuracy"} as each epoch ends. Job.metrics["transfer_rows"] keeps the
finished rows, so a reloaded page draws the same charts.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from playground.controls import ControlsBridge
from playground.datasets import Dataset, DatasetError, dataset_load
from playground.loop import stop_asked
from playground.transfer.engine import (
    MODES,
    FeatureCache,
    TransferConfig,
    TransferError,
    per_class_subset,
    transfer_build,
    transfer_save,
    transfer_train,
)
from playground.transfer.services import COMPARE
from styletransfer.vgg import VGGFeatures, vgg19_shared
from webapp.modelfiles import ModelFileError
from webapp.runner import JobContext, JobError


def transfer_params_check(t: dict[str, Any]) -> TransferConfig:
    """The job's transfer settings as a TransferConfig (JobError says what is wrong)."""
    try:
        config = TransferConfig(
            mode="frozen" if t["mode"] == COMPARE else t["mode"],
            cut=int(t["cut"]),
            image_size=int(t.get("image_size", 32)),
            epochs=int(t["epochs"]),
            lr=float(t.get("lr", TransferConfig.lr)),
            batch_size=int(t.get("batch_size", TransferConfig.batch_size)),
            seed=int(t.get("seed", 0)),
        )
        config.check()
    except (KeyError, TypeError, ValueError) as exc:
        raise JobError(f"transfer settings: {exc}") from None
    return config


def run(ctx: JobContext) -> dict[str, Any]:
    """Train each (training-set size, mode) the settings ask for; Job.result holds a row
    per pair and the best transfer model's files."""
    base = transfer_params_check(ctx.params["transfer"])
    base.device = ctx.device
    data = _load(ctx, base)
    return _loop(ctx, base, data)


def vgg_trunk(ctx: JobContext, cut: int) -> VGGFeatures:
    """The worker's shared VGG19 trunk reaching block `cut` (one copy for every kind)."""
    try:
        return vgg19_shared(ctx.models, "relu5_1" if cut <= 4 else "relu5_4")
    except ModelFileError as exc:
        raise JobError(str(exc)) from None


def _load(ctx: JobContext, base: TransferConfig) -> Dataset:
    p = ctx.params
    try:
        return dataset_load(p["dataset"], val_fraction=p.get("val_fraction", 0.2), seed=base.seed)
    except DatasetError as exc:
        raise JobError(str(exc)) from None


def _loop(ctx: JobContext, base: TransferConfig, data: Dataset) -> dict[str, Any]:
    t = ctx.params["transfer"]
    modes = MODES if t["mode"] == COMPARE else (t["mode"],)
    sizes = [int(n) for n in t.get("per_class") or []] or [0]  # 0: every training picture
    source = vgg_trunk(ctx, base.cut) if set(modes) - {"scratch"} else None
    cache, rows, controls = FeatureCache(), [], ControlsBridge(ctx)
    total, done = len(sizes) * len(modes), 0
    best = None
    for n in sizes:
        subset = per_class_subset(data, n, base.seed) if n else data
        for mode in modes:
            if stop_asked(controls):
                return _export(ctx, rows, best, data.classes, stopped=True)
            config = TransferConfig(**{**asdict(base), "mode": mode})
            try:
                net = transfer_build(config, len(data.classes), source=source,
                                     input_channels=data.input_shape[0])  # fmt: skip
            except TransferError as exc:
                raise JobError(str(exc)) from None

            def on_event(row, mode=mode, n=n, done=done):  # the loops' "epoch" event
                ctx.report(
                    (done + row["epoch"] / base.epochs) / total,
                    event="transfer_epoch",
                    data={"mode": mode, "per_class": n, "epoch": row["epoch"],
                          "val_accuracy": row["val_accuracy"]},
                )  # fmt: skip

            try:
                result = transfer_train(net, subset, cache, on_event=on_event,
                                        controls=controls)  # fmt: skip
            except TransferError as exc:
                raise JobError(str(exc)) from None
            done += 1
            row = {"per_class": n, **result.to_dict()}
            rows.append(row)
            if mode != "scratch" and (best is None or n >= best[0]):
                best = (n, net)
            ctx.report(done / total, event="transfer", data={"row": row},
                       metrics={"transfer_rows": rows}, force=True)  # fmt: skip
    return _export(ctx, rows, best, data.classes, stopped=False)


def _export(ctx: JobContext, rows, best, classes, *, stopped: bool) -> dict[str, Any]:
    files = []
    if best is not None:  # the transfer model trained on the most pictures
        with tempfile.TemporaryDirectory() as tmp:
            transfer_save(best[1], classes, Path(tmp))
            for name, label in (("model.pt", "Model (checkpoint)"),
                                ("model.torchscript.pt", "Model (TorchScript)")):  # fmt: skip
                url = ctx.save_file(name, (Path(tmp) / name).read_bytes())
                files.append({"name": name, "url": url, "label": label})
    return {"transfer_rows": rows, "stopped": stopped, "files": files}

