"""The `train` kind in the worker: parse the job's params, load the data and the net (and
the checkpoint a pause left), train with the live view, export the trained model.

Only the worker imports this module (JobKind names it as "playground.train.worker:run").
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from playground.controls import ControlsBridge
from playground.datasets import Augment, Dataset, DatasetError
from playground.export import model_save
from playground.limits import LIMITS
from playground.liveview import gradient_norms, layer_names
from playground.netspec import Net, SpecError, build
from playground.objectives import Task, task_make
from playground.scenes import task_dataset
from playground.taskcatalogue import head_for
from playground.trainer import (
    TrainConfig,
    TrainingDiverged,
    TrainingPaused,
    TrainResult,
    batches,
    train,
)
from webapp.runner import JobContext, JobError, JobPaused, thin
from webapp.tools import upload_limits

CHECKPOINT = "checkpoint.pt"
# Events that happen once per epoch or on a state change: never merged away by throttling.
ALWAYS_SENT = {"epoch", "confusion", "samples", "status", "task"}
# The step curve and gradient history grow with the run: they go into the row (and so
# into the event's `metrics`) at most this often, and at each epoch's end; every event
# still carries its own new point for open pages.
HISTORY_EVERY_S = 3.0
# Bounded histories kept in Job.metrics (what a reloaded page redraws from).
MAX_CURVE_POINTS = 240
MAX_GRADIENT_POINTS = 120
MAX_CONFUSION_CELLS = 40_000  # all kept per-epoch matrices together


def run(ctx: JobContext) -> dict[str, Any]:
    """Train the job's net on its dataset; a pause leaves as JobPaused, a divergence as
    a JobError that says what happened."""
    config = _parse(ctx.params, ctx.device)
    data, model, task = _load(ctx)
    resume = _checkpoint_read(ctx)
    result = _loop(ctx, model, data, config, resume, task)
    return _export(ctx, model, data, result)


# ---------------------------------------------------------------------------------------
# parse, load


def _parse(p: dict[str, Any], device: str) -> TrainConfig:
    config = TrainConfig.from_knobs(
        p,
        device=device,
        augment=Augment(**p["augment"]),
        activation_sample=p["activation_sample"],
        schedule=p.get("schedule", "constant"),  # runs from before schedules: constant
    )
    try:
        config.check()
    except ValueError as exc:
        raise JobError(str(exc)) from None
    return config


def _load(ctx: JobContext) -> tuple[Dataset, Net, Task]:
    p = ctx.params
    name = p.get("task", "classify")  # runs from before tasks classify
    try:
        data = task_dataset(
            name, p["dataset"], read_zip=lambda: ctx.read_input("dataset.zip"),
            zip_limits=upload_limits(**LIMITS.zip_counts()), image_size=p["image_size"],
            val_fraction=p["val_fraction"], seed=p["seed"], max_samples=p.get("max_samples"),
        )  # fmt: skip
        loss = p.get("verify_loss", "triplet")
        task = task_make(name, side=data.input_shape[-1], loss=loss, margin=p.get("margin", 0.2),
                         mining=p.get("mining", "all"))  # fmt: skip
        model = build(p["spec"], data.input_shape, task.outputs(data.classes),
                      head=head_for(name, loss))  # fmt: skip
    except (DatasetError, SpecError, ValueError) as exc:
        raise JobError(str(exc)) from None
    return data, model, task


def _checkpoint_read(ctx: JobContext) -> dict[str, Any] | None:
    """The checkpoint of a paused run that is resuming now, or None for a fresh run."""
    if not ctx.job.result.get("paused"):
        return None
    saved = ctx.read_file(CHECKPOINT)
    if saved is None:
        raise JobError("The checkpoint of this paused run is missing; retry the run instead.")
    return torch.load(io.BytesIO(saved), map_location="cpu", weights_only=True)


# ---------------------------------------------------------------------------------------
# loop


def _loop(
    ctx: JobContext,
    model: Net,
    data: Dataset,
    config: TrainConfig,
    resume: dict[str, Any] | None,
    task: Task,
) -> TrainResult:
    record = RunRecord(
        epochs=config.epochs,
        steps_per_epoch=len(batches(len(data.train_y), config.batch_size)),
        state=resume["record"] if resume else None,
    )
    step = resume["position"]["step"] if resume else 0
    ctx.report(
        record.progress(step),
        event="status",
        force=True,
        metrics={
            "device": torch.cuda.get_device_name() if config.device == "cuda" else "CPU",
            "classes": data.classes,
            "total_params": sum(t.numel() for t in model.parameters()),
            "train_samples": len(data.train_y),
            "val_samples": len(data.val_y),
            "input_shape": list(data.input_shape),
            "task_name": task.name,
            "metric": task.metric,
        },
    )
    history_saved = time.monotonic()

    def on_event(event: dict[str, Any]) -> None:
        nonlocal step, history_saved
        if event["type"] == "epoch":
            at = step
            last_gradients(at)
            step = at  # the epoch's view keeps the epoch's own step
        step = event.get("step", step)
        changed = record.add(event)
        if event["type"] == "epoch":  # the epoch's pictures, for the page's step scrubber
            changed.append(_view_save(ctx, record, event["epoch"], step))
        now = time.monotonic()
        forced = event["type"] in ALWAYS_SENT or event.get("epoch_end", False)
        if forced or now - history_saved >= HISTORY_EVERY_S:
            changed = list({*changed, "curve", "gradients"})
            history_saved = now
        else:
            changed = [k for k in changed if k not in ("curve", "gradients")]
        ctx.report(
            record.progress(step),
            event=event["type"],
            data=event,
            metrics=record.compact(changed),
            force=forced,
        )

    def last_gradients(step: int) -> None:
        """The epoch's last batch's gradient norms (still in .grad at the epoch event), so
        the gradient chart reaches each epoch's end: the engine's own reports are throttled."""
        points = record.state["gradients"]["points"]
        if step < 1 or (points and points[-1][0] >= step - 1):
            return
        norms = gradient_norms(model)
        if any(n is not None for n in norms):
            names = record.state["gradients"]["names"] or layer_names(model)
            on_event({"type": "gradients", "step": step - 1, "names": names, "norms": norms,
                      "epoch_end": True})  # fmt: skip

    try:
        return train(
            model, data, config, on_event=on_event, controls=ControlsBridge(ctx), resume=resume,
            task=task,
        )  # fmt: skip
    except TrainingPaused as paused:
        raise _pause(ctx, paused.checkpoint, record) from None
    except TrainingDiverged as diverged:
        on_event(diverged.event())  # the page says so; the curves stay as they were
        ctx.flush()
        raise JobError(str(diverged)) from None
    except SpecError as exc:  # a batch of one that a batch norm cannot take
        raise JobError(str(exc)) from None


def _view_save(ctx: JobContext, record: RunRecord, epoch: int, step: int) -> str:
    """Store the filters and activation maps at the end of `epoch` as a file (the row keeps
    only its URL, so events stay small) and list it in metrics["views"]."""
    s = record.state
    view = {"epoch": epoch, "step": step, "filters": s.get("filters"),
            "activations": s.get("activations")}  # fmt: skip
    url = ctx.save_file(f"view-{epoch}.json", json.dumps(view).encode())
    kept = [v for v in s.get("views") or [] if v["epoch"] != epoch]
    s["views"] = kept + [{"epoch": epoch, "step": step, "url": url}]
    return "views"


def _pause(ctx: JobContext, checkpoint: dict[str, Any], record: RunRecord) -> JobPaused:
    """Store the checkpoint (with the page's history) and free the worker."""
    checkpoint["record"] = record.state
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    url = ctx.save_file(CHECKPOINT, buffer.getvalue())
    ctx.flush()
    position = checkpoint["position"]
    return JobPaused(
        {
            "paused": True,
            "epoch": position["epoch"],
            "step": position["step"],
            "files": [
                {
                    "name": CHECKPOINT,
                    "url": url,
                    "label": "Checkpoint: the model and its training state (checkpoint.pt)",
                }
            ],
        }
    )


class RunRecord:
    """The bounded history of one run, kept in Job.metrics so a reload redraws it all;
    it travels in the checkpoint of a paused run."""

    def __init__(
        self, *, epochs: int, steps_per_epoch: int, state: dict[str, Any] | None = None
    ) -> None:
        self.total_steps = max(1, epochs * steps_per_epoch)
        self.state: dict[str, Any] = state or {
            "state": "starting", "curve": [], "epochs": [],
            "gradients": {"names": [], "points": []},
            "filters": None, "activations": None, "confusion": [], "samples": None, "last": {},
            "task": None,
            "diverged": None,
        }  # fmt: skip

    def progress(self, step: int) -> float:
        return min(1.0, step / self.total_steps)

    def add(self, event: dict[str, Any]) -> list[str]:
        """Fold an engine event into the history; returns the keys of metrics that changed."""
        kind, s = event["type"], self.state
        if kind == "metrics":
            loss, accuracy = round(event["train_loss"], 5), round(event["train_accuracy"], 4)
            s["curve"] = _bounded(s["curve"] + [[event["step"], loss, accuracy]], MAX_CURVE_POINTS)
            s["last"] = {k: event[k] for k in ("epoch", "step", "train_loss", "train_accuracy",
                                                "lr", "samples_per_s")}  # fmt: skip
            return ["curve", "last"]
        if kind == "gradients":
            s["gradients"]["names"] = event["names"]
            s["gradients"]["points"] = _bounded(
                s["gradients"]["points"] + [[event["step"], event["norms"]]], MAX_GRADIENT_POINTS
            )
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
        if kind in ("filters", "activations", "samples", "task"):
            s[kind] = {k: v for k, v in event.items() if k != "type"}
            return [kind]
        if kind == "status":
            s["state"] = event["state"]
            if event["state"] == "diverged":
                s["diverged"] = {k: v for k, v in event.items() if k not in ("type", "state")}
                return ["state", "diverged"]
            return ["state"]
        return []

    def compact(self, keys: list[str]) -> dict[str, Any]:
        return {k: self.state[k] for k in keys}


def _bounded(points: list, limit: int) -> list:
    """A growing history halved (every other point, first and last kept) once over limit."""
    return thin(points, limit // 2 + 1) if len(points) > limit else points


# ---------------------------------------------------------------------------------------
# export


def _export(ctx: JobContext, model: Net, data: Dataset, result: TrainResult) -> dict[str, Any]:
    """model.pt, the TorchScript model and spec.json as the job's files."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = model_save(model, data.classes, Path(tmp), task=ctx.params.get("task", "classify"))
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
