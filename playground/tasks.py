"""The "train" job kind: build the dataset and net from the job's params, train it live."""

from __future__ import annotations

import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from webapp.jobkinds import JobKind, register
from webapp.runner import JobContext, JobError

# Events that happen once per epoch or on a state change: never merged away by throttling.
ALWAYS_SENT = {"epoch", "confusion", "samples", "status"}
# The step curve and gradient history grow with the run: they go into the row (and so
# into the event's `metrics`) at most this often, and at each epoch's end; every event
# still carries its own new point for open pages.
HISTORY_EVERY_S = 3.0


class _ControlsBridge:
    """Turns the page's control dict ({"paused", "lr", "stop"}) and cancel into engine commands."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx, self.paused, self.lr = ctx, False, None

    def __call__(self) -> list[dict[str, Any]]:
        if self.ctx.should_stop():
            return [{"command": "stop"}]
        control = self.ctx.controls()
        commands = []
        if control.get("stop"):
            commands.append({"command": "stop"})
        paused = bool(control.get("paused", False))
        if paused != self.paused:
            self.paused = paused
            commands.append({"command": "pause" if paused else "resume"})
        lr = control.get("lr")
        if lr is not None and lr != self.lr:
            self.lr = lr
            try:
                commands.append({"command": "set_lr", "lr": float(lr)})
            except (TypeError, ValueError):
                pass
        return commands


def run(ctx: JobContext) -> dict[str, Any]:
    import torch

    from playground.datasets import Augment, DatasetError, dataset_from_zip, dataset_load
    from playground.export import model_save
    from playground.netspec import SpecError, build
    from playground.services import RunRecord, steps_per_epoch
    from playground.trainer import TrainConfig, train

    p = ctx.params
    try:
        if p["dataset"] == "upload":
            data = dataset_from_zip(
                io.BytesIO(ctx.read_input("dataset.zip")),
                image_size=p["image_size"],
                val_fraction=p["val_fraction"],
                seed=p["seed"],
            )
        else:
            data = dataset_load(
                p["dataset"],
                val_fraction=p["val_fraction"],
                seed=p["seed"],
                max_samples=p.get("max_samples"),
            )
        model = build(p["spec"], data.input_shape, len(data.classes))
    except (DatasetError, SpecError) as exc:
        raise JobError(str(exc)) from None

    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = TrainConfig(
        optimizer=p["optimizer"],
        lr=p["lr"],
        batch_size=p["batch_size"],
        epochs=p["epochs"],
        weight_decay=p["weight_decay"],
        init=p["init"],
        seed=p["seed"],
        device=device,
        augment=Augment(**p["augment"]),
        activation_sample=min(p["activation_sample"], len(data.val_y) - 1),
    )
    try:
        config.check()
    except ValueError as exc:
        raise JobError(str(exc)) from None

    record = RunRecord(
        epochs=config.epochs,
        steps_per_epoch=steps_per_epoch(samples=len(data.train_y), batch_size=config.batch_size),
    )
    total_params = sum(t.numel() for t in model.parameters())
    ctx.report(
        0.0,
        event="status",
        force=True,
        metrics={
            "device": torch.cuda.get_device_name() if device == "cuda" else "CPU",
            "classes": data.classes,
            "total_params": total_params,
            "train_samples": len(data.train_y),
            "val_samples": len(data.val_y),
            "input_shape": list(data.input_shape),
        },
    )
    step, history_saved = 0, time.monotonic()

    def on_event(event: dict[str, Any]) -> None:
        nonlocal step, history_saved
        step = event.get("step", step)
        changed = record.add(event)
        now = time.monotonic()
        if event["type"] in ALWAYS_SENT or now - history_saved >= HISTORY_EVERY_S:
            changed = list({*changed, "curve", "gradients"})
            history_saved = now
        else:
            changed = [k for k in changed if k not in ("curve", "gradients")]
        ctx.report(
            record.progress(step),
            event=event["type"],
            data=event,
            metrics=record.compact(changed),
            force=event["type"] in ALWAYS_SENT,
        )

    result = train(model, data, config, on_event=on_event, controls=_ControlsBridge(ctx))
    ctx.flush()

    with tempfile.TemporaryDirectory() as tmp:
        paths = model_save(model, data.classes, Path(tmp))
        files = [
            {
                "name": "model.pt",
                "url": ctx.save_file("model.pt", paths["checkpoint"].read_bytes()),
                "label": "Trained model (state dict, model.pt)",
            },
            {
                "name": "model.torchscript.pt",
                "url": ctx.save_file("model.torchscript.pt", paths["torchscript"].read_bytes()),
                "label": "TorchScript model (model.torchscript.pt)",
            },
        ]
    spec_doc = {"spec": model.spec, "input_shape": list(data.input_shape), "classes": data.classes}
    files.append(
        {
            "name": "spec.json",
            "url": ctx.save_file("spec.json", json.dumps(spec_doc, indent=2).encode()),
            "label": "Net spec (spec.json)",
        }
    )
    summary = {k: v for k, v in result.to_dict().items() if k != "history"}
    return {"files": files, "summary": summary, "history": result.history}


register(
    JobKind(
        name="train",
        label="CNN playground",
        run="playground.tasks:run",
        template="playground/job.html",
        new_url_name="playground:new",
        blurb="Build a small conv net layer by layer, train it and watch it learn: curves, "
        "filters, activation maps, gradients and a confusion matrix, live.",
    )
)
