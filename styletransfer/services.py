"""The style-transfer tool's web side: plain functions the views call. No torch here.

Parameters stored on a job (`Job.params`):
  preset  - name of the engine preset the settings started from
  config  - StyleConfig fields the user chose (size, steps, weights, optimizer, ...)
  styles  - one {"label", "gallery", "weight"} per style picture, in input order
  inputs  - stored pictures: "content", "style0", "style1", ... (PNG, upright 8-bit RGB,
            re-encoded in a child process: see styletransfer/reencode.py); "labels" (the
            painted regions: grey value = region number), "init" (an earlier result to
            refine)
  regions - with "labels": one {"style": index into styles or None, "strength"} per region
  init_from - the job whose result is the starting picture (refine), when there is one
  content_sha256 - of the stored photo: earlier results of the same photo are compared

The engine (engine.py, vgg.py) runs in the worker (worker.py); config.py is torch-free,
so the settings are checked and costed here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile

from styletransfer import config as style_config
from styletransfer.config import MAX_REGIONS, StyleConfig, plan, preset
from styletransfer.gallery import STYLES, gallery_png
from styletransfer.reencode import reencode_pictures
from webapp.jobkinds import Budget, JobCost
from webapp.jobs import job_create
from webapp.models import Job, JobStatus
from webapp.tools import upload_limits, upload_read

KIND = "stylize"
DEFAULT_PRESET = "standard"  # what `manage.py stylize` uses without --preset
MAX_TOTAL_STEPS = 1000  # most optimiser steps over all levels of one job
MAX_BLEND = 100.0  # largest blend weight of one style (only ratios matter)
MAX_SIZE = 4096  # longest side of a result; the cost check decides what fits below it
MAX_STRENGTH = 10.0  # largest style strength of one region
KNOBS = (
    "size",
    "steps",
    "levels",
    "coarse_steps",
    "style_weight",
    "content_weight",
    "tv_weight",
    "optimizer",
    "learning_rate",
    "init",
    "pooling",
    "preserve_color",
    "seed",
)


def engine_limits() -> dict[str, Any]:
    """Presets, choices and size bounds from the engine's settings module."""
    return {
        "presets": style_config.PRESETS,
        "min_side": style_config.MIN_SIDE,
        "max_size": MAX_SIZE,
        "max_regions": MAX_REGIONS,
        "optimizers": style_config.OPTIMIZERS,
        "inits": style_config.INITS,
        "poolings": style_config.POOLINGS,
        "color_modes": style_config.COLOR_MODES,
    }


def total_steps(preset_name: str, **knobs: Any) -> int:
    """Optimiser steps over all pyramid levels of these settings (StyleConfig's rule)."""
    return preset(preset_name, **knobs).total_steps


def preset_table() -> dict[str, dict[str, Any]]:
    """The presets as the page needs them: their knobs, total steps and level sizes."""
    return {
        name: {k: getattr(p, k) for k in KNOBS}
        | {"total_steps": p.total_steps, "level_sizes": p.level_sizes()}
        for name, p in style_config.PRESETS.items()
    }


# ----------------------------------------------------------------------------- new jobs


@dataclass(frozen=True)
class StyleChoice:
    """One style of a new job: an upload, a gallery style or an earlier job's style."""

    label: str  # file name or gallery label, shown on the job page
    weight: float = 1.0
    upload: UploadedFile | None = None  # a picture the user sent now
    gallery: str = ""  # a gallery style's name
    earlier: int | None = None  # index of a style of the earlier job (`source`)


def stylize_initial_from(job: Job | None) -> dict[str, Any]:
    """The form's starting values: the CLI's defaults, or an earlier job's settings."""
    base = style_config.PRESETS[DEFAULT_PRESET]
    initial: dict[str, Any] = {"preset": DEFAULT_PRESET, **{k: getattr(base, k) for k in KNOBS}}
    if job is None or job.kind != KIND:
        return initial
    params = job.params
    initial.update(
        {
            "preset": params.get("preset", DEFAULT_PRESET),
            "from_job": job.id,
            "reuse_content": True,
            "reuse_style": list(range(len(params.get("styles", [])))),
            "reuse_regions": "labels" in params.get("inputs", {}),
            "regions": json.dumps(params.get("regions", [])),
            "refine": False,
        }
    )
    initial.update({k: v for k, v in params.get("config", {}).items() if k in KNOBS})
    return initial


def earlier_styles(job: Job | None) -> list[dict[str, Any]]:
    """An earlier job's styles: label, gallery name and weight, in input order."""
    return list(job.params.get("styles", [])) if job is not None else []


def _stored(job: Job, name: str) -> bytes:
    """A picture an earlier job stored (already re-encoded when that job was made)."""
    with default_storage.open(job.params["inputs"][name], "rb") as fh:
        return fh.read()


def config_with_tiles(knobs: dict[str, Any]) -> dict[str, Any]:
    """The form's knobs and the site's tiles (STYLE_TILE_SIZE, STYLE_TILE_OVERLAP): what a
    job is made and costed with."""
    return {**knobs, "tile_size": settings.STYLE_TILE_SIZE,
            "tile_overlap": settings.STYLE_TILE_OVERLAP}  # fmt: skip


def stylize_create(
    *,
    user,
    content: UploadedFile | None,
    styles: list[StyleChoice],
    preset_name: str,
    config: dict[str, Any],
    source: Job | None = None,
    labels: UploadedFile | None = None,
    regions: list[dict[str, Any]] | None = None,
    reuse_regions: bool = False,
    refine: bool = False,
) -> Job:
    """Store the pictures as clean PNGs and queue a stylize job.

    `content` None means the earlier job's photo. Uploads were checked from their headers
    by the form; here they are decoded in a child process (styletransfer/reencode.py), so
    the web process never holds their pixels. Pictures are kept at most the largest output
    size on their longest side: nothing the engine could use is thrown away.
    `labels` (or the earlier job's, `reuse_regions`) with `regions` paints each region
    in its own style; `refine` starts from the earlier job's result.
    Raises webapp.pictures.UploadError (a picture's pixels are broken) and
    webapp.jobs.JobRefused (over the user's limit or the cost budget).
    """
    limits = upload_limits()
    uploads = ([content] if content is not None else []) + [s.upload for s in styles if s.upload]
    uploads += [labels] if labels is not None else []
    fresh = iter(
        reencode_pictures(
            [(u.name or "upload", upload_read(u, limits)) for u in uploads],
            limits=limits,
            longest=MAX_SIZE,
            label_maps={len(uploads) - 1: len(regions or [])} if labels is not None else None,
        )
    )
    if content is not None:
        files = {"content": next(fresh)}
        content_label = content.name or "photo"
    else:
        assert source is not None, "no photo: the form asks for one"
        files = {"content": _stored(source, "content")}
        content_label = source.params.get("content_label") or "earlier photo"
    for i, style in enumerate(styles):
        if style.upload is not None:
            files[f"style{i}"] = next(fresh)
        elif style.earlier is not None:
            assert source is not None, "an earlier job's style comes with that job"
            files[f"style{i}"] = _stored(source, f"style{style.earlier}")
        else:
            files[f"style{i}"] = gallery_png(style.gallery)
    params: dict[str, Any] = {
        "preset": preset_name,
        "config": config_with_tiles(config),
        "styles": [
            {"label": s.label[:120], "gallery": s.gallery, "weight": s.weight} for s in styles
        ],
        "content_sha256": hashlib.sha256(files["content"]).hexdigest(),
        "content_label": content_label[:120],  # kept when the photo is used again
    }
    if labels is not None:
        files["labels"] = next(fresh)
    elif reuse_regions and source is not None and "labels" in source.params.get("inputs", {}):
        files["labels"] = _stored(source, "labels")
    if "labels" in files:
        params["regions"] = [
            {"style": r.get("style"), "strength": float(r.get("strength", 1.0))}
            for r in regions or []
        ]
    if refine and source is not None and source.status == JobStatus.SUCCEEDED:
        files["init"] = _stored_result(source)
        params["init_from"] = str(source.id)
    title = f"{content_label} × {' + '.join(s.label for s in styles)}"
    return job_create(user=user, kind=KIND, params=params, files=files, title=title)


def _stored_result(job: Job) -> bytes:
    """An earlier job's result picture (written by its worker)."""
    with default_storage.open(f"{job.storage_prefix}/result.png", "rb") as fh:
        return fh.read()


def same_photo_results(job: Job) -> list[Job]:
    """The owner's other finished results of the same photo, newest first (for before/after)."""
    digest = job.params.get("content_sha256")
    if not digest:
        return []
    return list(
        Job.objects.filter(
            user_id=job.user_id,
            kind=KIND,
            status=JobStatus.SUCCEEDED,
            params__content_sha256=digest,
        )
        .exclude(pk=job.pk)
        .order_by("-created_at")[:12]
    )


def gallery_choices() -> list[tuple[str, str]]:
    return [(s.name, s.label) for s in STYLES.values()]


# ---------------------------------------------------------------------------- cost budget

# Fitted to bench/bench_stylize_cost.py on the 2-core CPU (see docs/styletransfer.md,
# "Cost"). Pixels are those of a square picture of the level's size: the most a picture
# of that longest side can have, so the estimate errs on the safe side.
CPU_STEP_S_PER_MPX = 20.0  # one optimiser step (forward + backward through VGG19)
CPU_TARGET_S_PER_MPX = 20.0  # one picture's targets (content or a style's Grams) per level
CPU_START_S = 5.0  # loading VGG19, first-step overheads
CUDA_SPEEDUP = 40.0  # not measured here (no GPU was lent): an assumption, see the docs
BASE_MB = {"cpu": 1200.0, "cuda": 600.0}  # torch + VGG19 (+ the CUDA context), small size
ACTIVATION_MB_PER_MPX = 2400.0  # VGG19's activations and their gradients, float32
HISTORY_MB_PER_MPX = {"lbfgs": 1200.0, "adam": 24.0}  # 50 L-BFGS pairs / Adam's 2 moments
STYLE_MB_PER_MPX = 60.0  # each style's picture and its tensors at the largest level
# Tiled levels hold the whole picture a few times over (the canvas, the photo, a preview
# copy, the result's conversions) besides one tile's optimisation; measured at 2048 px
# with bench/bench_print.py (see docs/styletransfer.md, "Print sizes").
PICTURE_MB_PER_MPX = 100.0
PAINTING_MB_PER_MPX = 12.0  # a style picture held as float32 RGB (its Grams are read by tile)


def _megapixels(side: float) -> float:
    return side * side / 1e6


def _window_mpx(tile) -> float:
    top, bottom, left, right = tile.window
    return (bottom - top) * (right - left) / 1e6


def _cost(config: StyleConfig, styles: int, device: str) -> tuple[float, float]:
    """(peak MB, seconds) of one stylisation with these settings on `device`."""
    seconds = CPU_START_S
    largest = 0.0  # megapixels optimised at once: a whole level, or one tile
    for level in plan((config.size, config.size), config):
        side = max(level.size)
        photo = _megapixels(side)
        style = _megapixels(min(side * config.style_scale, config.tile_size))
        seconds += CPU_TARGET_S_PER_MPX * styles * style
        if level.grids is None:
            seconds += (level.steps + 1) * CPU_STEP_S_PER_MPX * photo
            largest = max(largest, photo)
            continue
        seconds += CPU_TARGET_S_PER_MPX * photo  # the photo's content norm, tile by tile
        for grid in level.grids:
            for tile in grid:  # a sweep for the Gram sums, then the tile's own steps
                window = _window_mpx(tile)
                seconds += (CPU_TARGET_S_PER_MPX + level.tile_steps * CPU_STEP_S_PER_MPX) * window
                largest = max(largest, window)
    top = _megapixels(config.size)
    style = _megapixels(min(config.size * config.style_scale, config.tile_size))
    held = _megapixels(config.size * config.style_scale)  # each style picture, as a tensor
    history = HISTORY_MB_PER_MPX[config.optimizer] * min(config.steps, 50) / 50
    memory = BASE_MB[device] + (ACTIVATION_MB_PER_MPX + history) * largest
    memory += STYLE_MB_PER_MPX * styles * style + PAINTING_MB_PER_MPX * styles * held
    if top > largest:  # tiled: the whole picture is held besides one tile
        memory += PICTURE_MB_PER_MPX * top
    if device == "cuda":
        seconds /= CUDA_SPEEDUP
    return memory, seconds


def largest_size(params: dict[str, Any], budget: Budget) -> int:
    """The largest size (longest side) these settings fit the budget at; 0 if none."""
    config = preset(params.get("preset", DEFAULT_PRESET), **params.get("config", {}))
    styles = max(1, len(params.get("styles", [])))

    def fits(size: int) -> bool:
        memory, seconds = _cost(replace(config, size=size), styles, budget.device)
        return memory <= budget.memory_mb and seconds <= budget.runtime_s

    low = style_config.MIN_SIDE
    if not fits(low):
        return 0
    return MAX_SIZE if fits(MAX_SIZE) else _largest(fits, low, MAX_SIZE)


def estimate(params: dict[str, Any], budget: Budget) -> JobCost:
    """Peak memory and run time of a stylize job, with the setting to lower when over."""
    config = preset(params.get("preset", DEFAULT_PRESET), **params.get("config", {}))
    styles = max(1, len(params.get("styles", [])))
    memory, seconds = _cost(config, styles, budget.device)
    lower: dict[str, str] = {}
    if seconds > budget.runtime_s:
        lower["runtime"] = _advice(
            config, styles, budget.device, lambda m, s: s <= budget.runtime_s
        )
    if memory > budget.memory_mb:
        lower["memory"] = _advice(config, styles, budget.device, lambda m, s: m <= budget.memory_mb)
    return JobCost(memory_mb=round(memory), runtime_s=round(seconds), lower=lower)


def _advice(
    config: StyleConfig, styles: int, device: str, fits: Callable[[float, float], bool]
) -> str:
    """Which setting to lower, and to what: the full-size steps when that is enough,
    else the size; each the largest value that `fits` (memory MB, seconds)."""

    def fits_with(**change: int) -> bool:
        return fits(*_cost(replace(config, **change), styles, device))

    if config.steps > 0 and fits_with(steps=0):
        return f"lower the steps to {_largest(lambda n: fits_with(steps=n), 0, config.steps)}"
    if fits_with(size=style_config.MIN_SIDE):
        size = _largest(lambda n: fits_with(size=n), style_config.MIN_SIDE, config.size)
        return f"lower the size to {size}"
    return "use fewer style pictures"


def _largest(fits: Callable[[int], bool], low: int, high: int) -> int:
    """The largest n in [low, high) with fits(n), given fits(low) (bisection)."""
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return low
