"""The `explain` kind's web side: what a trained run's explanations are, checked against
the run's task (playground.taskcatalogue.explain_tools) and its net before anything is
queued, and VGG19's unit gallery. The worker computes them (playground/explain/worker.py);
the web process never runs a model.

An explain job's params name its tool and the run: {"tool": T, "run": id, T: settings,
"source": the run's dataset and split}; its inputs hold a copy of the run's model.pt (and,
for a cell or a unit on an uploaded dataset, its zip), so the worker reads only its own
JobContext.
"""

from __future__ import annotations

from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile

from playground import cost
from playground.taskcatalogue import EXPLAIN_TOOLS, explain_tools
from playground.train.services import KIND as TRAIN_KIND
from playground.train.services import input_shape_for, task_head
from webapp.jobkinds import Budget, JobCost
from webapp.jobs import job_create
from webapp.models import Job, JobStatus
from webapp.tools import upload_limits, uploads_probe

KIND = "explain"
GALLERY = "gallery"  # VGG19's units: the one tool that needs no run
GALLERY_SETTINGS = {"units": 4, "size": 96, "steps": 96}


class ExplainRefused(ValueError):
    """An explanation that cannot run on this run (or with these values); the message
    says what can, for the person."""


def explainable_run(run: Job, tool: str) -> None:
    """Refuse a tool the run's task has no use for, or a run without a trained model."""
    task = run.params.get("task") or "classify"
    if tool not in explain_tools(task):
        label = EXPLAIN_TOOLS[tool]
        raise ExplainRefused(f"“{label}” is not offered for a {task} net; it works on "
                             "classifiers.")  # fmt: skip
    if run.kind != TRAIN_KIND or run.status != JobStatus.SUCCEEDED or not any(
        f.get("name") == "model.pt" for f in (run.result or {}).get("files") or []
    ):
        raise ExplainRefused("This run has no trained model yet.")


def run_classes(run: Job) -> list[str]:
    return list((run.metrics or {}).get("classes") or [])


def class_checked(run: Job, target: int | None) -> int | None:
    """A class index the run's net has (None: the predicted one), else ExplainRefused."""
    classes = run_classes(run)
    if target is not None and not 0 <= target < len(classes):
        raise ExplainRefused(f"The net has {len(classes)} classes: choose 0 to "
                             f"{len(classes) - 1}.")  # fmt: skip
    return target


def unit_channels(run: Job, layer: int) -> int:
    """How many channels spec layer `layer` of the run's net has (its summary row, the
    same table the builder showed); ExplainRefused for a layer without a feature map."""
    from playground.netspec import SpecError, summarize

    spec, p = run.params.get("spec") or [], run.params
    if not 0 <= layer < len(spec):
        raise ExplainRefused(f"Choose a layer of the net: 0 to {len(spec) - 1}.")
    shape = tuple((run.metrics or {}).get("input_shape") or input_shape_for(
        dataset=p["dataset"], image_size=p.get("image_size", 32)))  # fmt: skip
    head, outputs = task_head(task=p.get("task") or "classify", classes=max(2, len(
        run_classes(run))), verify_loss=p.get("verify_loss", "triplet"))  # fmt: skip
    try:
        row = summarize(spec, shape, outputs, head=head).to_dict()["rows"][layer]
    except (SpecError, IndexError):
        raise ExplainRefused("That layer cannot be looked at.") from None
    if len(row["output_shape"]) != 3:
        raise ExplainRefused(f"Layer {layer} has no feature map; choose a conv layer.")
    return int(row["output_shape"][0])


def explain_create(
    *, user, run: Job, tool: str, settings: dict[str, Any], picture: UploadedFile | None = None
) -> Job:
    """Queue one explanation of a trained run: "gradcam" (a picture: Grad-CAM and
    saliency; settings {"target"}), "predict" (a picture's top classes), "cell" (a
    confusion cell [true, predicted]: its validation pictures) or "unit" ({"layer",
    "channel"}: top patches and an optimised picture). ExplainRefused or ValidationError
    says what cannot be used (headers only: no pixel is decoded here); nothing is queued
    then. JobRefused at the user's limit or over the budget."""
    explainable_run(run, tool)
    name = run.title or str(run.id)[:8]
    files = None
    if tool in ("gradcam", "predict"):
        if picture is None:
            raise ExplainRefused("Choose a picture first.")
        uploads_probe([picture], upload_limits())
        picture.seek(0)
        files = {"picture": picture}
        settings = {**settings, "name": picture.name or ""}
        class_checked(run, settings.get("target"))
        verb = "why" if tool == "gradcam" else "prediction"
        title = f"{verb}: {picture.name or 'a picture'} on {name}"
    elif tool == "cell":
        true, predicted = settings["cell"]
        for index in (true, predicted):
            class_checked(run, index)
        classes = run_classes(run)
        title = f"why {classes[true]} looked like {classes[predicted]} in {name}"
    elif tool == "unit":
        layer, channel = settings["layer"], settings["channel"]
        channels = unit_channels(run, layer)
        if not 0 <= channel < channels:
            raise ExplainRefused(f"Layer {layer} has channels 0..{channels - 1}: choose a unit "
                                 "in that range.")  # fmt: skip
        settings = {"layer": f"layers.{layer}", "channel": channel}
        title = f"layer {layer}, unit {channel} of {name}"
    else:
        raise ExplainRefused(f"Unknown explanation {tool[:20]!r}.")
    params = {"tool": tool, "run": str(run.id), tool: settings,
              "source": {k: run.params.get(k) for k in SOURCE_KEYS}}  # fmt: skip
    files = {**(files or {}), **_run_inputs(run, tool)}
    try:
        return job_create(user=user, kind=KIND, params=params, files=files, title=title)
    finally:
        for f in files.values():
            if isinstance(f, File) and not isinstance(f, UploadedFile):
                f.close()


# What the worker needs of the run to load its validation pictures again (its split).
SOURCE_KEYS = ("task", "dataset", "val_fraction", "seed", "max_samples", "image_size")


def _run_inputs(run: Job, tool: str) -> dict[str, File]:
    """The run's files the explain job takes as its own inputs, so the worker reads them
    through its JobContext: the trained model, and for a cell or a unit the uploaded
    dataset zip its validation pictures come from."""
    wanted = {"model.pt": f"{run.storage_prefix}/model.pt"}
    zip_path = (run.params.get("inputs") or {}).get("dataset.zip")
    if tool in ("cell", "unit") and zip_path:
        wanted["dataset.zip"] = zip_path
    if not default_storage.exists(wanted["model.pt"]):
        raise ExplainRefused("This run has no trained model (any more).")
    return {name: default_storage.open(path, "rb") for name, path in wanted.items()}


def gallery_create(*, user) -> Job:
    """Queue the VGG19 unit gallery: 4 units of each of relu1_1 ... relu5_1, each a 96 px
    picture optimised to excite it (96 steps)."""
    params = {"tool": GALLERY, GALLERY: dict(GALLERY_SETTINGS)}
    return job_create(user=user, kind=KIND, params=params, title="VGG19 units, conv1 to conv5")


def estimate(params: dict[str, Any], budget: Budget) -> JobCost:
    """An explanation's peak memory and time: one picture or one cell is seconds; the
    gallery is activation maximisation, ~0.6 s a step at 128 px on a CPU."""
    if params.get("tool") == GALLERY:
        g = params.get(GALLERY) or {}
        steps = len(g.get("layers") or "12345") * int(g.get("units", 4)) * int(g.get("steps", 96))
        share = (int(g.get("size", 96)) / 128) ** 2
        speed = cost.GPU_SPEEDUP if budget.device == "cuda" else 1
        return JobCost(memory_mb=cost.BASE_MB + 400, runtime_s=steps * 0.6 * share / speed)
    return JobCost(memory_mb=cost.BASE_MB + 200, runtime_s=cost.BASE_S + 5)
