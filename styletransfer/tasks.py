"""The "stylize" job kind: create a style-transfer job, and run one in a worker.

Parameters stored on the job (`Job.params`):
  preset  - name of the engine preset the settings started from
  config  - StyleConfig fields the user chose (size, steps, weights, optimizer, ...)
  styles  - one {"label", "gallery", "weight"} per style picture, in input order
  inputs  - stored pictures: "content", "style0", "style1", ... (PNG, upright 8-bit RGB)

torch and the engine are imported inside `run`, so the web process does not need them.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from PIL import Image

from webapp.jobkinds import JobKind, register
from webapp.jobs import job_create
from webapp.runner import JobContext, JobError

if TYPE_CHECKING:
    from styletransfer.engine import StyleConfig, StyleProgress
    from styletransfer.vgg import VGGFeatures
    from webapp.models import Job

PREVIEW_EVERY_S = 1.0  # a new preview picture at most this often (plus one per level)
HISTORY_POINTS = 240  # loss points kept in Job.metrics for the plot after a reload
WEIGHTS_FILE = "vgg19_caffe_q.bin"


@dataclass
class StyleInput:
    """One style picture of a new job, with its blend weight."""

    picture: Image.Image
    label: str  # file name or gallery label, shown on the job page
    weight: float = 1.0
    gallery: str = ""  # gallery style name, when it came from the gallery


def png_bytes(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def shrink(picture: Image.Image, *, longest: int) -> Image.Image:
    """The picture with its longest side at most `longest` (the engine never needs more)."""
    if max(picture.size) <= longest:
        return picture
    scale = longest / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.LANCZOS)


def stylize_create(
    *,
    user,
    content: Image.Image,
    content_label: str,
    styles: list[StyleInput],
    preset: str,
    config: dict[str, Any],
    max_side: int,
) -> Job:
    """Store the (already validated) pictures as PNG and queue a stylize job.

    Pictures are kept at most `max_side` on their longest side: the largest output the
    form allows, so nothing the engine could use is thrown away.
    Raises webapp.jobs.JobRefused when the user has too many jobs running.
    """
    files = {"content": png_bytes(shrink(content, longest=max_side))}
    for i, style in enumerate(styles):
        files[f"style{i}"] = png_bytes(shrink(style.picture, longest=max_side))
    params = {
        "preset": preset,
        "config": dict(config),
        "styles": [
            {"label": s.label[:120], "gallery": s.gallery, "weight": s.weight} for s in styles
        ],
    }
    names = " + ".join(s.label for s in styles)
    title = f"{content_label} × {names}"
    return job_create(user=user, kind="stylize", params=params, files=files, title=title)


# ----------------------------------------------------------------------------- worker side

_NETS: dict[str, VGGFeatures] = {}  # one VGG19 per worker process, reused across jobs


def _vgg(last_layer: str) -> VGGFeatures:
    from styletransfer.vgg import load_vgg19
    from webapp.modelfiles import ModelFileError, model_path

    if last_layer not in _NETS:
        try:
            path = model_path(WEIGHTS_FILE)
        except ModelFileError as exc:
            raise JobError(
                "The VGG19 weights are not installed on this worker; an operator needs to run "
                "`manage.py fetch_models`."
            ) from exc
        _NETS.clear()
        _NETS[last_layer] = load_vgg19(path, last_layer)
    return _NETS[last_layer]


def _rounded(losses: dict[str, float]) -> dict[str, float]:
    return {k: float(f"{v:.4g}") for k, v in losses.items()}


def _thinned(points: list[list[float]], limit: int) -> list[list[float]]:
    """At most `limit` points, evenly spread, always keeping the first and the last."""
    if len(points) <= limit:
        return points
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def _level_ends(config: StyleConfig) -> set[int]:
    """Step numbers at which a pyramid level finishes (each gets a preview)."""
    levels = len(config.level_sizes())
    ends, step = set(), 0
    for level in range(levels):
        step += config.steps if level == levels - 1 else config.coarse_steps
        ends.add(step)
    return ends


def run(ctx: JobContext) -> dict[str, Any]:
    """Paint the content picture in the blended styles, with live losses and previews."""
    import torch

    from styletransfer.engine import describe, pick_device, preset, stylize
    from styletransfer.images import ImageError, open_rgb

    p = ctx.params
    try:
        config = preset(
            p["preset"], **p["config"], style_blend=tuple(s["weight"] for s in p["styles"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise JobError(f"These settings cannot be used: {exc}") from exc
    try:
        content = open_rgb(ctx.read_input("content"), max_pixels=settings.UPLOAD_MAX_PIXELS)
        styles = [
            open_rgb(ctx.read_input(f"style{i}"), max_pixels=settings.UPLOAD_MAX_PIXELS)
            for i in range(len(p["styles"]))
        ]
    except ImageError as exc:
        raise JobError(f"A stored picture cannot be read: {exc}") from exc

    net = _vgg(config.last_layer)
    device = describe(pick_device(config.device))
    ctx.report(
        0.0,
        metrics={
            "device": device,
            "total_steps": config.total_steps,
            "step": 0,
            "history": [],
            "preview_url": "",
        },
        force=True,
    )
    history: list[list[float]] = []  # [step, total, content, style, tv]
    level_ends = _level_ends(config)
    last_preview = 0.0

    def on_progress(event: StyleProgress) -> None:
        nonlocal last_preview
        losses = _rounded(event.losses)
        history.append(
            [event.step, losses["total"], losses["content"], losses["style"], losses["tv"]]
        )
        fraction = event.step / event.total_steps
        ctx.report(
            fraction,
            metrics={
                "step": event.step,
                "level": event.level,
                "size": list(event.size),
                "losses": losses,
                "seconds": round(event.seconds, 2),
                "history": _thinned(history, HISTORY_POINTS),
            },
        )
        now = time.monotonic()
        if event.step == 1 or event.step in level_ends or now - last_preview >= PREVIEW_EVERY_S:
            last_preview = now
            url = ctx.save_file("preview.png", png_bytes(event.preview()))
            versioned = f"{url}?v={event.step}"
            ctx.report(
                fraction,
                event="preview",
                force=True,
                data={"url": versioned, "step": event.step, "size": list(event.size)},
                metrics={"preview_url": versioned, "preview_step": event.step},
            )

    try:
        result = stylize(
            content, styles, config, net=net, on_progress=on_progress, should_stop=ctx.should_stop
        )
    except torch.OutOfMemoryError as exc:
        torch.cuda.empty_cache()
        raise JobError(
            f"The GPU ran out of memory at {config.size} px. Try a smaller size or the "
            "quick preset."
        ) from exc

    url = ctx.save_file("result.png", png_bytes(result.image))
    final = _rounded(result.losses[-1]) if result.losses else {}
    return {
        "files": [{"name": "result.png", "url": url, "label": "Result (PNG)"}],
        "image_url": url,
        "width": result.image.width,
        "height": result.image.height,
        "device": result.device,
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "losses": final,
        "stopped": result.stopped,
    }


register(
    JobKind(
        name="stylize",
        label="Style transfer",
        run="styletransfer.tasks:run",
        template="styletransfer/job.html",
        new_url_name="styletransfer:new",
        blurb="Paint your photo in the style of one or more pictures and watch it form.",
    )
)
