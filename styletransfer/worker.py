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
    from styletransfer.engine import RegionSpec, StyleConfig, StyleProgress, StyleResult
    from styletransfer.vgg import VGGFeatures

PREVIEW_EVERY_S = 1.0  # a new preview picture at most this often (plus one per level)
PREVIEW_SIDE = 1024  # previews of print sizes are shrunk to this longest side
HISTORY_POINTS = 240  # loss points kept in Job.metrics for the plot after a reload


def run(ctx: JobContext) -> dict[str, Any]:
    """Paint the content picture in the blended styles, with live losses and previews."""
    config = parse(ctx.params)
    content, styles = load_pictures(ctx)
    extras = load_extras(ctx, len(styles))
    net = load_vgg(ctx, config.last_layer)
    result = paint(ctx, config, content, styles, net, **extras)
    if result.stopped:  # cancelled: no picture is kept, and none is encoded (seconds at print size)
        return {"stopped": True, "steps": result.steps, "seconds": round(result.seconds, 2),
                "device": result.device}  # fmt: skip
    return export(ctx, result, config)


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


def load_extras(ctx: JobContext, styles: int) -> dict[str, Any]:
    """The painted regions (label map + what paints each) and the picture to refine from."""
    from styletransfer.engine import RegionSpec
    from webapp.pictures import UploadError, read_label_map, read_picture

    limits = upload_limits()
    inputs = ctx.params.get("inputs", {})
    extras: dict[str, Any] = {}
    try:
        if "labels" in inputs:
            specs = ctx.params.get("regions") or []
            extras["labels"] = read_label_map(
                ctx.read_input("labels"), "the regions", limits, len(specs)
            )
            extras["regions"] = [RegionSpec(s["style"], float(s["strength"])) for s in specs]
            if any(r.style is not None and not 0 <= r.style < styles for r in extras["regions"]):
                raise JobError("A region asks for a style picture this job does not have.")
        if "init" in inputs:
            extras["init"] = read_picture(
                ctx.read_input("init"), "the earlier result", limits
            ).image
    except UploadError as exc:
        raise JobError(f"A stored picture cannot be read: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise JobError(f"The regions cannot be used: {exc}") from exc
    return extras


def load_vgg(ctx: JobContext, last_layer: str) -> VGGFeatures:
    """VGG19 up to `last_layer`, loaded once per worker process (ctx.models)."""
    from styletransfer.vgg import vgg19_shared
    from webapp.modelfiles import ModelFileError

    try:
        return vgg19_shared(ctx.models, last_layer)
    except ModelFileError as exc:
        raise JobError(
            "The VGG19 weights are not installed on this worker; an operator needs to run "
            "`manage.py fetch_models`."
        ) from exc


@dataclass
class _Reporter:
    """Turns the engine's per-step progress into throttled events and previews."""

    ctx: JobContext
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
        if event.step == 1 or event.level_done or now - self.last_preview >= PREVIEW_EVERY_S:
            self.last_preview = now
            picture = event.preview()
            picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
            url = self.ctx.save_file("preview.png", png_bytes(picture))
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
    *,
    labels: Image.Image | None = None,
    regions: list[RegionSpec] | None = None,
    init: Image.Image | None = None,
) -> StyleResult:
    """Run the engine on ctx.device; Cancel stops it at the next step. Running out of
    memory fails the job with a message, and no result is written."""
    import torch

    from styletransfer.engine import describe, pick_device, plan, stylize

    config.device = ctx.device
    total = sum(level.total_steps for level in plan(content.size, config))
    ctx.report(
        0.0,
        metrics={
            "device": describe(pick_device(config.device)),
            "total_steps": total,
            "step": 0,
            "history": [],
            "preview_url": "",
        },
        force=True,
    )
    reporter = _Reporter(ctx)
    try:
        return stylize(
            content,
            styles,
            config,
            net=net,
            labels=labels,
            regions=regions,
            init=init,
            on_progress=reporter,
            should_stop=ctx.should_stop,
        )
    except torch.OutOfMemoryError as exc:
        torch.cuda.empty_cache()
        raise JobError(
            f"The GPU ran out of memory at {config.size} px. Try a smaller size or the "
            "quick preset."
        ) from exc
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and "can't allocate memory" not in str(exc):
            raise
        from django.conf import settings

        raise JobError(
            f"The picture needed more than the {settings.JOB_MAX_MEMORY_MB:,} MB of memory a "
            f"job may use at {config.size} px, and was stopped; no result was written. Try a "
            "smaller size, or smaller tiles."
        ) from exc


def recipe(ctx: JobContext, config: StyleConfig, result: StyleResult) -> dict[str, Any]:
    """Everything that made this picture: the same recipe on the same worker repeats it
    bit for bit on the CPU."""
    import dataclasses

    import torch

    return {
        "preset": ctx.params.get("preset"),
        "config": {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
        },
        "seed": config.seed,
        "styles": ctx.params.get("styles", []),
        "regions": ctx.params.get("regions"),
        "init_from": ctx.params.get("init_from"),
        "content_sha256": ctx.params.get("content_sha256"),
        "device": result.device,
        "torch": torch.__version__,
    }


def export(ctx: JobContext, result: StyleResult, config: StyleConfig) -> dict[str, Any]:
    """Save the picture and its recipe; Job.result as the job page reads it."""
    import json

    url = ctx.save_file("result.png", png_bytes(result.image))
    card = recipe(ctx, config, result)
    recipe_url = ctx.save_file("recipe.json", json.dumps(card, indent=2).encode())
    return {
        "files": [
            {"name": "result.png", "url": url, "label": "Result (PNG)"},
            {"name": "recipe.json", "url": recipe_url, "label": "Recipe (JSON)"},
        ],
        "recipe": card,
        "image_url": url,
        "width": result.image.width,
        "height": result.image.height,
        "device": result.device,
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "losses": _rounded(result.losses[-1]) if result.losses else {},
        "stopped": result.stopped,
    }


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _rounded(losses: dict[str, float]) -> dict[str, float]:
    return {k: float(f"{v:.4g}") for k, v in losses.items()}
