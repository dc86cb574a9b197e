"""The style-transfer job in the worker: parse the settings, load the pictures and
VGG19, run the engine with live losses and previews, export the result.

Registered in apps.py as "styletransfer.worker:run"; the web process never imports this
module (nor torch).
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

from webapp.runner import JobContext, JobError, thin
from webapp.tools import upload_limits

if TYPE_CHECKING:
    from styletransfer.engine import StyleConfig, StyleProgress, StyleResult
    from styletransfer.vgg import VGGFeatures

PREVIEW_EVERY_S = 1.0  # a new preview picture at most this often (plus one per level)
HISTORY_POINTS = 240  # loss points kept in Job.metrics for the plot after a reload
WEIGHTS_FILE = "vgg19_caffe_q.bin"


def run(ctx: JobContext) -> dict[str, Any]:
    """Paint the content picture in the blended styles, with live losses and previews."""
    config = parse(ctx.params)
    content, styles = load_pictures(ctx)
    net = load_vgg(ctx, config.last_layer)
    result = paint(ctx, config, content, styles, net)
    return export(ctx, result)


def parse(params: dict[str, Any]) -> StyleConfig:
    """The engine's settings from what the form stored."""
    from styletransfer.engine import preset

    try:
        blend = tuple(s["weight"] for s in params["styles"])
        return preset(params["preset"], **params["config"], style_blend=blend)
    except (KeyError, TypeError, ValueError) as exc:
        raise JobError(f"These settings cannot be used: {exc}") from exc


def load_pictures(ctx: JobContext) -> tuple[Image.Image, list[Image.Image]]:
    """The photo and the styles, decoded one at a time by the one picture reader."""
    from webapp.pictures import UploadError, read_picture

    limits = upload_limits()
    names = ["content"] + [f"style{i}" for i in range(len(ctx.params["styles"]))]
    try:
        pictures = [read_picture(ctx.read_input(name), name, limits).image for name in names]
    except UploadError as exc:
        raise JobError(f"A stored picture cannot be read: {exc}") from exc
    return pictures[0], pictures[1:]


def load_vgg(ctx: JobContext, last_layer: str) -> VGGFeatures:
    """VGG19 up to `last_layer`, loaded once per worker process (ctx.models)."""
    from styletransfer.vgg import load_vgg19
    from webapp.modelfiles import ModelFileError, model_path

    try:
        path = model_path(WEIGHTS_FILE)
    except ModelFileError as exc:
        raise JobError(
            "The VGG19 weights are not installed on this worker; an operator needs to run "
            "`manage.py fetch_models`."
        ) from exc
    return ctx.models.get(f"vgg19:{last_layer}", [path], lambda: load_vgg19(path, last_layer))


@dataclass
class _Reporter:
    """Turns the engine's per-step progress into throttled events and previews."""

    ctx: JobContext
    level_ends: set[int]
    history: list[list[float]] = field(default_factory=list)  # [step, total, content, style, tv]
    last_preview: float = 0.0

    def __call__(self, event: StyleProgress) -> None:
        losses = _rounded(event.losses)
        self.history.append(
            [event.step, losses["total"], losses["content"], losses["style"], losses["tv"]]
        )
        fraction = event.step / event.total_steps
        self.ctx.report(
            fraction,
            metrics={
                "step": event.step,
                "level": event.level,
                "size": list(event.size),
                "losses": losses,
                "seconds": round(event.seconds, 2),
                "history": thin(self.history, HISTORY_POINTS),
            },
        )
        now = time.monotonic()
        if (
            event.step == 1
            or event.step in self.level_ends
            or now - self.last_preview >= PREVIEW_EVERY_S
        ):
            self.last_preview = now
            url = self.ctx.save_file("preview.png", png_bytes(event.preview()))
            versioned = f"{url}?v={event.step}"
            self.ctx.report(
                fraction,
                event="preview",
                force=True,
                data={"url": versioned, "step": event.step, "size": list(event.size)},
                metrics={"preview_url": versioned, "preview_step": event.step},
            )


def paint(
    ctx: JobContext,
    config: StyleConfig,
    content: Image.Image,
    styles: list[Image.Image],
    net: VGGFeatures,
) -> StyleResult:
    """Run the engine on ctx.device; Cancel stops it at the next step."""
    import torch

    from styletransfer.engine import describe, pick_device, stylize

    config.device = ctx.device
    ctx.report(
        0.0,
        metrics={
            "device": describe(pick_device(config.device)),
            "total_steps": config.total_steps,
            "step": 0,
            "history": [],
            "preview_url": "",
        },
        force=True,
    )
    reporter = _Reporter(ctx, level_ends(config))
    try:
        return stylize(
            content, styles, config, net=net, on_progress=reporter, should_stop=ctx.should_stop
        )
    except torch.OutOfMemoryError as exc:
        torch.cuda.empty_cache()
        raise JobError(
            f"The GPU ran out of memory at {config.size} px. Try a smaller size or the "
            "quick preset."
        ) from exc


def export(ctx: JobContext, result: StyleResult) -> dict[str, Any]:
    """Save the picture; Job.result as the job page reads it."""
    url = ctx.save_file("result.png", png_bytes(result.image))
    return {
        "files": [{"name": "result.png", "url": url, "label": "Result (PNG)"}],
        "image_url": url,
        "width": result.image.width,
        "height": result.image.height,
        "device": result.device,
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "losses": _rounded(result.losses[-1]) if result.losses else {},
        "stopped": result.stopped,
    }


def level_ends(config: StyleConfig) -> set[int]:
    """Step numbers at which a pyramid level finishes (each gets a preview)."""
    levels = len(config.level_sizes())
    ends, step = set(), 0
    for level in range(levels):
        step += config.steps if level == levels - 1 else config.coarse_steps
        ends.add(step)
    return ends


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _rounded(losses: dict[str, float]) -> dict[str, float]:
    return {k: float(f"{v:.4g}") for k, v in losses.items()}
