"""The `explain` kind in the worker: what a trained run's net does – a picture's top
classes (`predict`), why it predicted them (`gradcam`: Grad-CAM and gradient saliency for
the predicted class or a chosen one), one confusion cell's validation pictures (`cell`),
what one unit responds to (`unit`) – and VGG19's unit gallery (`gallery`). The web process
checked the tool against the run's task and never runs the model.

Only the worker imports this module (JobKind names it as "playground.explain.worker:run").
"""

from __future__ import annotations

import io
from typing import Any

import torch

from playground.explain.engine import (
    ExplainError,
    grad_cam,
    layer_label,
    overlay_png,
    picture_tensor,
    png_bytes,
    to_rgb,
)
from playground.explain.services import GALLERY
from playground.export import model_file_load
from playground.taskcatalogue import TASKS, explain_tools
from webapp.pictures import UploadError, read_picture
from webapp.runner import JobContext, JobError
from webapp.tools import upload_limits


def run(ctx: JobContext) -> dict[str, Any]:
    """The tool the params name, on the run they name (the gallery needs no run)."""
    tool = ctx.params.get("tool")
    if tool == GALLERY:
        return _gallery(ctx)
    if tool not in TOOLS:
        raise JobError(f"There is no explanation called {str(tool)[:20]!r}.")
    model, classes, shape = _run_model(ctx)
    return TOOLS[tool](ctx, ctx.params["run"], model.to(ctx.device), classes, shape,
                       ctx.params[tool])  # fmt: skip


def _run_model(ctx: JobContext):
    """The explained run's trained model (eval mode), class names and input shape: a copy
    the web side gave this job as its input "model.pt"."""
    try:
        model, info = model_file_load(io.BytesIO(ctx.read_input("model.pt")))
    except (KeyError, OSError):
        raise JobError("That run has no trained model (any more).") from None
    return model, info.classes, info.input_shape


def _picture(ctx: JobContext, name: str):
    """The job's uploaded picture, decoded here (the web process checked its header)."""
    try:
        return read_picture(ctx.read_input("picture"), name or "the picture", upload_limits())
    except UploadError as exc:
        raise JobError(str(exc)) from None


def _predict(ctx: JobContext, run: str, model, classes, shape, e: dict) -> dict:
    """The run's class probabilities for one picture, most likely first."""
    from playground.export import predict

    picture = _picture(ctx, e.get("name"))
    with torch.inference_mode():
        return {"predictions": predict(model, picture.image, classes), "run": run}


def _gradcam(ctx: JobContext, run: str, model, classes, shape, e: dict) -> dict:
    x = picture_tensor(_picture(ctx, e.get("name")).image, shape)
    ctx.report(0.3)
    try:
        explanation = grad_cam(model, x, e.get("target"))
    except ExplainError as exc:
        raise JobError(str(exc)) from None
    scale = max(1, 224 // max(shape[1:]))
    urls = {
        "input": ctx.save_file("input.png", png_bytes(to_rgb(x), scale)),
        "gradcam": ctx.save_file("gradcam.png", overlay_png(x, explanation.cam, scale)),
        "saliency": ctx.save_file("saliency.png", overlay_png(x, explanation.saliency, scale)),
    }
    top = sorted(range(len(classes)), key=lambda i: -explanation.probabilities[i])[:5]
    return {
        "explain": {
            "run": run, "classes": classes, "layer": layer_label(model, explanation.layer),
            "predicted": classes[explanation.predicted], "target": classes[explanation.target],
            "top": [{"label": classes[i], "probability": explanation.probabilities[i]}
                    for i in top],
            "images": urls,
        },
        "files": [{"name": f"{k}.png", "url": u, "label": f"{k} (PNG)"} for k, u in urls.items()],
    }  # fmt: skip


def _run_validation(ctx: JobContext):
    """The run's validation pictures and labels, split as its training split them (its
    settings and, for an uploaded dataset, its zip came with this job)."""
    from playground.classfolders import UPLOAD
    from playground.datasets import DatasetError, dataset_from_zip, dataset_load
    from playground.limits import LIMITS

    p = ctx.params.get("source")
    if p is None:  # asked before explain jobs carried the run's split: ask again
        raise JobError("Ask for this again from the run's page.")
    if "cell" not in explain_tools(p.get("task") or TASKS[0]):
        raise JobError("The confusion drill-down is for classifiers.")
    try:
        if p["dataset"] == UPLOAD:
            data = dataset_from_zip(
                ctx.read_input("dataset.zip"), image_size=p["image_size"],
                val_fraction=p["val_fraction"], seed=p["seed"],
                limits=upload_limits(**LIMITS.zip_counts()),
            )  # fmt: skip
        else:
            data = dataset_load(p["dataset"], val_fraction=p["val_fraction"], seed=p["seed"],
                                max_samples=p.get("max_samples"))  # fmt: skip
    except (DatasetError, KeyError, OSError) as exc:
        raise JobError(f"The run's pictures cannot be loaded again: {exc}") from None
    return data.val_x, data.val_y


def _cell(ctx: JobContext, run: str, model, classes, shape, settings: dict) -> dict:
    from playground.explain.engine import confusion_cell

    true, predicted = (int(v) for v in settings["cell"])

    if not (0 <= true < len(classes) and 0 <= predicted < len(classes)):
        raise JobError("That cell is not in this run's confusion matrix.")
    val_x, val_y = _run_validation(ctx)
    ctx.report(0.3)
    items = confusion_cell(model, val_x.to(ctx.device), val_y.to(ctx.device), true, predicted)
    scale = max(1, 112 // max(val_x.shape[-2:]))
    shown = []
    for n, item in enumerate(items):
        x = val_x[item.index]
        shown.append({
            "index": item.index, "confidence": item.confidence,
            "input": ctx.save_file(f"cell-{n}-input.png", png_bytes(to_rgb(x), scale)),
            "gradcam": ctx.save_file(f"cell-{n}-gradcam.png",
                                     overlay_png(x, item.explanation.cam, scale)),
        })  # fmt: skip
        ctx.report(0.3 + 0.7 * (n + 1) / max(1, len(items)))
    layer = layer_label(model, items[0].explanation.layer) if items else None
    return {"cell": {"run": run, "true": classes[true], "predicted": classes[predicted],
                     "layer": layer, "items": shown}}  # fmt: skip


def _unit(ctx: JobContext, run: str, model, classes, shape, unit: dict) -> dict:
    """What one channel of a run's layer responds to: the validation pictures' patches
    that excite it most, and a picture optimised to excite it."""
    from playground.explain.engine import layer_forward, maximize_unit, top_patches

    layer, channel = str(unit.get("layer")), int(unit.get("channel", 0))
    val_x, _ = _run_validation(ctx)
    try:
        patches = top_patches(model, val_x.to(ctx.device), layer, channel, count=9)
        ctx.report(0.3)
        forward = layer_forward(model, layer, tuple(shape))
        picture, trace = maximize_unit(forward, channel, size=max(shape[1:]), channels=shape[0],
                                       steps=128, jitter=2, device=ctx.device)  # fmt: skip
    except ExplainError as exc:
        raise JobError(str(exc)) from None
    zoom = max(1, 96 // max(shape[1:]))
    shown = [{"index": p.index, "activation": p.activation, "box": list(p.box),
              "image": ctx.save_file(f"patch-{n}.png", png_bytes(p.picture, zoom * 2))}
             for n, p in enumerate(patches)]  # fmt: skip
    optimised = ctx.save_file("unit.png", png_bytes(picture, zoom))
    return {"unit": {"run": run, "layer": layer_label(model, layer), "channel": channel,
                     "patches": shown,
                     "optimised": optimised, "activation": [trace[0], trace[-1]]}}  # fmt: skip


# ---------------------------------------------------------------------------------------
# VGG19's units: a gallery of pictures optimised to excite them, conv1 -> conv5

GALLERY_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
TOOLS = {"predict": _predict, "gradcam": _gradcam, "cell": _cell, "unit": _unit}


def gallery_settings(g: dict[str, Any]) -> tuple[tuple[str, ...], int, int, int]:
    """(layers, units per layer, picture side, steps) of a gallery job, checked."""
    layers = tuple(g.get("layers") or GALLERY_LAYERS)
    units, size, steps = int(g.get("units", 4)), int(g.get("size", 96)), int(g.get("steps", 96))
    if not set(layers) <= set(GALLERY_LAYERS) or not 1 <= units <= 8:
        raise JobError("A gallery shows 1 to 8 units of relu1_1 ... relu5_1.")
    if not 16 <= size <= 224 or not 1 <= steps <= 512:
        raise JobError("A gallery's pictures are 16 to 224 px, optimised for 1 to 512 steps.")
    return layers, units, size, steps


def _gallery(ctx: JobContext) -> dict[str, Any]:
    """Activation maximisation of the first `units` channels of each layer of VGG19 (the
    worker's shared trunk: styletransfer.vgg.vgg19_shared)."""
    from playground.explain.engine import maximize_unit
    from styletransfer.vgg import vgg19_shared
    from webapp.modelfiles import ModelFileError

    layers, units, size, steps = gallery_settings(ctx.params[GALLERY])
    try:
        vgg = vgg19_shared(ctx.models).to(ctx.device)
    except ModelFileError as exc:
        raise JobError(str(exc)) from None
    rows, done, total = [], 0, len(layers) * units
    for layer in layers:
        row = {"layer": layer, "units": []}
        rows.append(row)
        for channel in range(units):
            if ctx.should_stop():
                return {"gallery": rows, "stopped": True}
            picture, trace = maximize_unit(
                lambda p, layer=layer: vgg(p, (layer,))[layer], channel, size=size,
                steps=steps, device=ctx.device, seed=channel,
            )  # fmt: skip
            url = ctx.save_file(f"{layer}-{channel}.png", png_bytes(picture))
            row["units"].append({"channel": channel, "image": url,
                                 "activation": [trace[0], trace[-1]]})  # fmt: skip
            done += 1
            ctx.report(done / total, event="gallery", data={"layer": layer, "channel": channel,
                       "image": url}, metrics={"gallery": rows}, force=True)  # fmt: skip
    return {"gallery": rows, "stopped": False}
