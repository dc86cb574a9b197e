"""The `train` job's explain mode, in the worker: why did a trained run (or transfer
model) predict what it did for one picture – Grad-CAM and gradient saliency for the
predicted class or a chosen one. Called by playground/worker.py when the params hold
"explain"; the web process never runs the model.
"""

from __future__ import annotations

import io
from typing import Any

from django.core.files.storage import default_storage

from playground.explain import (
    ExplainError,
    grad_cam,
    model_any_load,
    overlay_png,
    picture_tensor,
    png_bytes,
    to_rgb,
)
from webapp.models import Job
from webapp.pictures import UploadError, read_picture
from webapp.runner import JobContext, JobError
from webapp.tools import upload_limits


def run_explain(ctx: JobContext) -> dict[str, Any]:
    e = ctx.params["explain"]
    run = Job.objects.filter(pk=e["run"], user_id=ctx.job.user_id).first()
    path = f"{run.storage_prefix}/model.pt" if run else ""
    if not run or not default_storage.exists(path):
        raise JobError("That run has no trained model (any more).")
    with default_storage.open(path, "rb") as fh:
        model, classes, shape = model_any_load(io.BytesIO(fh.read()))
    if e.get("cell"):
        return _cell(ctx, run, model.to(ctx.device), classes, *e["cell"])
    limits = upload_limits()
    try:
        picture = read_picture(ctx.read_input("picture"), e.get("name") or "the picture", limits)
    except UploadError as exc:
        raise JobError(str(exc)) from None
    x = picture_tensor(picture.image, shape)
    ctx.report(0.3)
    try:
        explanation = grad_cam(model.to(ctx.device), x, e.get("target"))
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
            "run": e["run"], "classes": classes, "layer": explanation.layer,
            "predicted": classes[explanation.predicted], "target": classes[explanation.target],
            "top": [{"label": classes[i], "probability": explanation.probabilities[i]}
                    for i in top],
            "images": urls,
        },
        "files": [{"name": f"{k}.png", "url": u, "label": f"{k} (PNG)"} for k, u in urls.items()],
    }  # fmt: skip


def _run_validation(run: Job):
    """The run's validation pictures and labels, split as its training split them."""
    from playground.classfolders import UPLOAD
    from playground.datasets import DatasetError, dataset_from_zip, dataset_load
    from playground.limits import LIMITS

    p = run.params
    if (p.get("task") or "classify") != "classify":
        raise JobError("The confusion drill-down is for classifiers.")
    try:
        if p["dataset"] == UPLOAD:
            with default_storage.open(p["inputs"]["dataset.zip"], "rb") as fh:
                data = dataset_from_zip(
                    fh.read(), image_size=p["image_size"], val_fraction=p["val_fraction"],
                    seed=p["seed"], limits=upload_limits(**LIMITS.zip_counts()),
                )  # fmt: skip
        else:
            data = dataset_load(p["dataset"], val_fraction=p["val_fraction"], seed=p["seed"],
                                max_samples=p.get("max_samples"))  # fmt: skip
    except (DatasetError, KeyError, OSError) as exc:
        raise JobError(f"The run's pictures cannot be loaded again: {exc}") from None
    return data.val_x, data.val_y


def _cell(ctx: JobContext, run: Job, model, classes, true: int, predicted: int) -> dict:
    from playground.explain import confusion_cell

    if not (0 <= true < len(classes) and 0 <= predicted < len(classes)):
        raise JobError("That cell is not in this run's confusion matrix.")
    val_x, val_y = _run_validation(run)
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
    layer = items[0].explanation.layer if items else None
    return {"cell": {"run": str(run.id), "true": classes[true], "predicted": classes[predicted],
                     "layer": layer, "items": shown}}  # fmt: skip
