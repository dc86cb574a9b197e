"""Neural style transfer: Gatys, Ecker & Bethge, "Image Style Transfer Using CNNs" (2016).

We look for an image whose VGG19 activations resemble the photo's (content loss) and whose
Gram matrices - the correlations between feature channels, which keep texture and colour
but forget where things are - resemble the paintings' (style loss). The pixels themselves
are the parameters; L-BFGS (or Adam) moves them downhill.

Every loss is relative (a squared distance divided by the target's squared size), so the
default weights mean the same thing at 128 px and at 1024 px, for every layer and style.
Pictures are solved coarse-to-fine: most steps run on a small version, which is then
upscaled and refined, so large outputs need only a few full-size steps.

Print sizes: a level larger than `tile_size` is refined in overlapping tiles. Every style
term is computed on the whole picture's Gram matrices (the other tiles' sums held fixed),
tile grids shift between passes, and tiles are written back feathered, so the tiles agree
and no border shows. Regions (Gatys et al. 2017, "Controlling perceptual factors"): with a
label map, each region's Gram is taken over its mask only and matched to its own style;
a region without a style keeps the photo.

Pure PyTorch/PIL: no Django here. `stylize` is the one entry point.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from styletransfer.config import (  # noqa: F401 (re-exported: the engine's public names)
    ALIGN,
    COLOR_MODES,
    DEVICES,
    INITS,
    MAX_REGIONS,
    MIN_SIDE,
    OPTIMIZERS,
    POOLINGS,
    PRECISIONS,
    PRESETS,
    STYLE_LAYERS,
    Box,
    LevelPlan,
    StyleConfig,
    Tile,
    fit,
    pass_shifts,
    plan,
    preset,
    tile_grid,
)
from styletransfer.vgg import VGGFeatures


@dataclass
class StyleProgress:
    """What `on_progress` receives after every step."""

    step: int  # steps done so far, 1..total_steps, across all pyramid levels
    total_steps: int
    level: int  # pyramid level, 0 = coarsest
    size: tuple[int, int]  # (width, height) being optimised now
    losses: dict[str, float]  # "content", "style", "tv", "total" (weighted)
    seconds: float  # since the start
    level_done: bool  # the last step of its level
    _render: Callable[[], Image.Image] = field(repr=False)

    def preview(self) -> Image.Image:
        """The picture as it is now (computed on demand: call it only when you show it)."""
        return self._render()


@dataclass
class StyleResult:
    image: Image.Image  # RGB, longest side = config.size
    device: str  # e.g. "cpu" or "cuda (NVIDIA H100)"
    steps: int  # steps actually done
    losses: list[dict[str, float]]  # one entry per step, as in StyleProgress.losses
    seconds: float
    stopped: bool  # True when should_stop() ended the run early


# ----------------------------------------------------------------------------- losses


def gram_sum(features: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Sum over positions of w(p) f(p) f(p)^T: (B, C, H, W), weight (1, 1, H, W) -> (B, C, C)."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w).float()
    with torch.autocast(features.device.type, enabled=False):  # float32 even inside autocast
        if weight is None:
            return flat @ flat.transpose(1, 2)
        return (flat * weight.reshape(1, 1, h * w).float()) @ flat.transpose(1, 2)


def gram_matrix(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Channel correlations averaged over positions: (B, C, H, W) -> (B, C, C).

    With a `mask` (1, 1, H, W) of weights in 0..1, the average is over the masked
    positions only: Gatys et al. 2017's spatial control."""
    h, w = features.shape[-2:]
    if mask is None:
        return gram_sum(features) / (h * w)
    return gram_sum(features, mask) / mask.sum().clamp_min(1e-8)


def relative_sq_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||x - target||^2 / ||target||^2, so the value does not depend on size or layer."""
    return (x.float() - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels of a (B, 3, H, W) image."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


def layer_weights(weight: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Pixel weights (R, 1, H, W) averaged down to a layer's grid (R, 1, h, w)."""
    if weight.shape[-2:] == features.shape[-2:]:
        return weight
    return F.adaptive_avg_pool2d(weight, features.shape[-2:])


@dataclass
class Region:
    """A painted part of the photo and what paints it."""

    mask: torch.Tensor  # (1, 1, H, W) in 0..1 at the level's size
    style: int | None  # index of its style picture; None = keep the photo here
    strength: float = 1.0  # multiplies the style weight inside the region


@dataclass
class RegionSpec:
    """A region as a job describes it: a label of the label map and what paints it."""

    style: int | None
    strength: float = 1.0


def region_masks(labels: Image.Image, count: int, size: tuple[int, int]) -> torch.Tensor:
    """One soft mask per label 0..count-1 at (width, height): (count, 1, H, W), summing to 1.

    The label map is split into one 0/255 picture per label, each resized with area
    averaging, so the edges between regions are anti-aliased rather than stair-stepped."""
    array = np.asarray(labels.convert("L"))
    masks = []
    for label in range(count):
        one = Image.fromarray(((array == label) * 255).astype(np.uint8), "L")
        resample = Image.Resampling.BOX if one.width >= size[0] else Image.Resampling.BILINEAR
        masks.append(np.asarray(one.resize(size, resample), dtype=np.float32) / 255)
    stack = torch.from_numpy(np.stack(masks))[:, None]  # (count, 1, H, W)
    return stack / stack.sum(0, keepdim=True).clamp_min(1e-6)


@dataclass
class Totals:
    """The whole picture's statistics that a tile's loss needs besides its own pixels."""

    grams: list[dict[str, torch.Tensor]]  # per styled region, per layer: sum of w f f^T
    counts: list[dict[str, torch.Tensor]]  # per styled region, per layer: sum of w
    areas: list[float]  # per styled region: its share of the picture's pixels
    content_norms: dict[str, torch.Tensor]  # per content layer: the photo's sum of f^2
    pixels: int  # of the whole picture


class GatysLoss(nn.Module):
    """Weighted content + style + total-variation loss of one window of the picture.

    The window is the whole picture, or one tile of it. Every style term is computed on
    the whole picture's (masked) Gram matrix: the window's own positions live, the other
    tiles' sums (`totals` minus `own`) fixed. So a tile is pushed towards what the whole
    picture lacks, not towards the complete style on its own, and neighbouring tiles agree.
    Only positions in the window's core count (weight `core`), so features distorted by
    a tile's border are never matched.
    """

    def __init__(
        self,
        net: VGGFeatures,
        config: StyleConfig,
        autocast: Callable[[], object],
        targets: list[dict[str, torch.Tensor]],  # per styled region: layer -> target Gram
        strengths: list[float],  # per styled region
        photo: torch.Tensor,  # (1, 3, h, w): the window of the photo
        weights: torch.Tensor | None,  # (R, 1, h, w): region masks x core, None = all ones
        core: torch.Tensor | None,  # (1, 1, h, w): 1 where positions count; None = all
        totals: Totals | None = None,  # None: the window is the whole picture
        own: list[dict[str, torch.Tensor]] | None = None,  # the window's part of totals
    ) -> None:
        super().__init__()
        self.net, self.config, self.autocast = net, config, autocast
        self.targets, self.strengths = targets, strengths
        self.weights, self.core = weights, core
        with torch.no_grad(), autocast():
            feats = net(photo, config.content_layers, config.pooling)
            self.content_targets = {k: v.float() for k, v in feats.items()}
        layer_weights_ = config.style_layer_weights or (1.0,) * len(config.style_layers)
        total = sum(layer_weights_)
        self.layer_weights = [w / total for w in layer_weights_]
        if totals is None:  # the whole picture: nothing outside this window
            h, w = photo.shape[-2:]
            norms = {k: v.pow(2).sum() for k, v in self.content_targets.items()}
            areas = [1.0] if weights is None else [float(m.mean()) for m in weights]
            totals = Totals(grams=[], counts=[], areas=areas, content_norms=norms, pixels=h * w)
        self.totals, self.own = totals, own
        self.last_sums: list[dict[str, torch.Tensor]] = []  # the latest forward's gram sums

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg, totals = self.config, self.totals
        with self.autocast():
            feats = self.net(image, cfg.content_layers + cfg.style_layers, cfg.pooling)
        content = 0.0
        for name, target in self.content_targets.items():
            diff = (feats[name].float() - target).pow(2)
            if self.core is not None:
                diff = diff * layer_weights(self.core, diff)
            content = content + diff.sum() / totals.content_norms[name].clamp_min(1e-12)
        content = content / len(self.content_targets)
        style = image.new_zeros(())
        self.last_sums = []
        for r, (target, strength) in enumerate(zip(self.targets, self.strengths, strict=True)):
            sums: dict[str, torch.Tensor] = {}
            for w, name in zip(self.layer_weights, cfg.style_layers, strict=True):
                feature = feats[name]
                weight = (
                    None
                    if self.weights is None
                    else layer_weights(self.weights[r : r + 1], feature)
                )
                own = gram_sum(feature, weight)
                sums[name] = own.detach()
                if self.totals.grams:  # a tile: the rest of the picture, fixed
                    whole = totals.grams[r][name] - self.own[r][name] + own
                    count = totals.counts[r][name]
                else:
                    whole = own
                    positions = float(feature.shape[-2] * feature.shape[-1])
                    count = positions if weight is None else weight.sum()
                gram = whole / torch.as_tensor(count).clamp_min(1e-8)
                area = totals.areas[r]
                style = style + strength * area * w * relative_sq_error(gram, target[name])
            self.last_sums.append(sums)
        h, w = image.shape[-2:]
        tv = total_variation(image) * (h * w / totals.pixels)
        total = cfg.content_weight * content + cfg.style_weight * style + cfg.tv_weight * tv
        return {"content": content, "style": style, "tv": tv, "total": total}


def window_sums(
    net: VGGFeatures,
    image: torch.Tensor,
    weights: torch.Tensor | None,
    regions: int,
    config: StyleConfig,
    autocast: Callable[[], object],
) -> tuple[list[dict[str, torch.Tensor]], list[dict[str, torch.Tensor]]]:
    """(gram sums, counts) per styled region and layer of one window, without gradients."""
    with torch.no_grad(), autocast():
        feats = net(image, config.style_layers, config.pooling)
    grams, counts = [], []
    for r in range(regions):
        g, c = {}, {}
        for name in config.style_layers:
            weight = None if weights is None else layer_weights(weights[r : r + 1], feats[name])
            g[name] = gram_sum(feats[name], weight)
            c[name] = (
                torch.tensor(float(feats[name].shape[-2] * feats[name].shape[-1]))
                if weight is None
                else weight.sum()
            )
        grams.append(g)
        counts.append(c)
    return grams, counts


def style_targets(
    net: VGGFeatures,
    paintings: list[torch.Tensor],
    blend: list[float],
    indices: list[int] | None,
    config: StyleConfig,
    autocast: Callable[[], object],
) -> list[dict[str, torch.Tensor]]:
    """Target Gram per layer for each styled region: its own painting's (`indices`), or
    with no regions (None) one target, the blend of all paintings."""
    grams = []
    for painting in paintings:
        # a painting larger than a tile is read tile by tile (cores only), like the picture
        height, width = painting.shape[-2:]
        sums: dict[str, torch.Tensor] = {}
        counts: dict[str, torch.Tensor] = {}
        for tile in tile_grid(height, width, config):
            core = core_mask(tile, painting.device)
            (g,), (c,) = window_sums(net, _crop(painting, tile.window), core, 1, config, autocast)
            for name in config.style_layers:
                sums[name] = sums.get(name, 0) + g[name]
                counts[name] = counts.get(name, 0) + c[name]
        grams.append({name: sums[name] / counts[name] for name in config.style_layers})
    if indices is None:
        # sum_s w_s ||G - G_s||^2 = ||G - sum_s w_s G_s||^2 + const when the w_s sum to 1,
        # so several styles blend into one target Gram per layer.
        return [
            {name: sum(w * g[name] for w, g in zip(blend, grams, strict=True)) for name in grams[0]}
        ]
    return [grams[index] for index in indices]


# ----------------------------------------------------------------------------- colour

# RGB -> YIQ: Y is luminance, I and Q carry the colour.
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB -> YIQ."""
    return torch.einsum("ij,bjhw->bihw", _YIQ.to(image), image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) YIQ -> RGB."""
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_YIQ).to(image), image)


def luminance(image: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    """Grey (B, 3, H, W) version of an RGB image; with `like`, its mean and spread match like's."""
    y = rgb_to_yiq(image)[:, :1]
    if like is not None:
        ref = rgb_to_yiq(like)[:, :1]
        y = (y - y.mean()) / y.std().clamp_min(1e-6) * ref.std() + ref.mean()
    return y.expand(-1, 3, -1, -1).clamp(0, 1)


def match_color(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Affinely recolour `image` so its colour mean and covariance equal `reference`'s."""

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pixels = x[0].reshape(3, -1).double()  # (3, N)
        mean = pixels.mean(1, keepdim=True)
        centred = pixels - mean
        ridge = 1e-5 * torch.eye(3, dtype=torch.double, device=x.device)
        cov = centred @ centred.T / pixels.shape[1] + ridge
        return mean, cov

    def sqrtm(cov: torch.Tensor, power: float) -> torch.Tensor:
        values, vectors = torch.linalg.eigh(cov)
        return vectors @ torch.diag(values.clamp_min(1e-8) ** power) @ vectors.T

    mean_x, cov_x = stats(image)
    mean_r, cov_r = stats(reference)
    transform = sqrtm(cov_r, 0.5) @ sqrtm(cov_x, -0.5)  # whiten, then colour like reference
    pixels = image[0].reshape(3, -1).double()
    out = transform @ (pixels - mean_x) + mean_r
    return out.reshape(image.shape).to(image.dtype).clamp(0, 1)


# ----------------------------------------------------------------------------- images


def to_tensor(picture: Image.Image, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """PIL image resized to (width, height) -> (1, 3, H, W) float in 0..1."""
    resized = picture.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    array = np.asarray(resized, dtype=np.float32) / 255  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).to(device)


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) float image -> 8-bit RGB PIL image."""
    array = image.detach()[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0)
    return Image.fromarray(array.cpu().numpy(), "RGB")


# ----------------------------------------------------------------------------- running


def pick_device(choice: str) -> torch.device:
    """The device to run on; asking for CUDA where there is none is an error, never a fallback."""
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA was requested but no CUDA device is available")
    if choice == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")


def describe(device: torch.device) -> str:
    """Human-readable device name for logs and result pages."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def _autocast_for(device: torch.device, precision: str) -> Callable[[], object]:
    """Autocast context factory; reduced precision only on CUDA, Gram and losses stay float32."""
    if precision == "auto":
        precision = "bfloat16" if device.type == "cuda" else "float32"
    if precision == "float32":
        return lambda: torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if precision == "bfloat16" else torch.float16
    return lambda: torch.autocast(device.type, dtype=dtype)


def _initial_image(
    config: StyleConfig, content: torch.Tensor, style: torch.Tensor, init: Image.Image | None
) -> torch.Tensor:
    if init is not None:  # refining an earlier result
        return to_tensor(init, (content.shape[-1], content.shape[-2]), content.device)
    if config.init == "content":
        return content.clone()
    if config.init == "style-colors":
        return match_color(content, style)
    generator = torch.Generator().manual_seed(config.seed)
    noise = torch.randn(content.shape, generator=generator).to(content)
    return (0.5 + 0.15 * noise).clamp(0, 1)


def _make_optimizer(config: StyleConfig, image: torch.Tensor) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam([image], lr=config.learning_rate)
    # one iteration per step() so we can report and cancel between iterations; the
    # curvature history survives across calls. Losses are relative, so gradients are
    # small: never stop on a small gradient or change, only on the step budget.
    return torch.optim.LBFGS(
        [image], lr=1.0, max_iter=1, history_size=50, tolerance_grad=0.0, tolerance_change=0.0
    )


def _step(
    optimizer: torch.optim.Optimizer, loss_fn: GatysLoss, image: torch.Tensor
) -> dict[str, float]:
    """One optimiser iteration; returns the losses at the point it started from."""
    losses: dict[str, torch.Tensor] = {}

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        losses.update(loss_fn(image))
        losses["total"].backward()
        return losses["total"]

    optimizer.step(closure)  # both optimisers evaluate the closure once per step here
    return {name: float(value.detach()) for name, value in losses.items()}


# ----------------------------------------------------------------------------- tiles


def _crop(tensor: torch.Tensor, box: Box) -> torch.Tensor:
    top, bottom, left, right = box
    return tensor[..., top:bottom, left:right]


def core_mask(tile: Tile, device: torch.device) -> torch.Tensor:
    """(1, 1, h, w) of the window: 1 on the core, 0 on the margins."""
    top, bottom, left, right = tile.window
    mask = torch.zeros(1, 1, bottom - top, right - left, device=device)
    c = tile.core
    mask[..., c[0] - top : c[1] - top, c[2] - left : c[3] - left] = 1
    return mask


def feather(tile: Tile, device: torch.device) -> torch.Tensor:
    """(1, 1, h, w) blending weight of a tile's new pixels: 1 on the core, falling linearly
    to 0 across each margin, so a tile's edge never shows."""

    def ramp(start: int, stop: int, core_start: int, core_stop: int) -> torch.Tensor:
        p = torch.arange(start, stop, dtype=torch.float32, device=device) + 0.5
        rise = (p - start) / max(core_start - start, 1)
        fall = (stop - p) / max(stop - core_stop, 1)
        up = rise if core_start > start else torch.ones_like(p)
        down = fall if stop > core_stop else torch.ones_like(p)
        return torch.minimum(up, down).clamp(0, 1)

    top, bottom, left, right = tile.window
    rows = ramp(top, bottom, tile.core[0], tile.core[1])
    cols = ramp(left, right, tile.core[2], tile.core[3])
    return (rows[:, None] * cols[None, :])[None, None]


# ----------------------------------------------------------------------------- levels


@dataclass
class _Level:
    """What every window of one level shares."""

    net: VGGFeatures
    config: StyleConfig
    autocast: Callable[[], object]
    photo: torch.Tensor  # (1, 3, H, W)
    targets: list[dict[str, torch.Tensor]]
    strengths: list[float]
    weights: torch.Tensor | None  # (R, 1, H, W) styled regions' masks; None = one, all ones


def _whole_level(level: _Level, canvas: torch.Tensor, steps: int) -> Iterator[dict[str, float]]:
    """Optimise the whole picture at once; `canvas` is the leaf being optimised."""
    loss_fn = GatysLoss(
        level.net,
        level.config,
        level.autocast,
        level.targets,
        level.strengths,
        level.photo,
        level.weights,
        None,
    )
    optimizer = _make_optimizer(level.config, canvas)
    for _ in range(steps):
        yield _step(optimizer, loss_fn, canvas)


def _tiled_level(
    level: _Level, canvas: torch.Tensor, grids: list[list[Tile]], tile_steps: int
) -> Iterator[dict[str, float]]:
    """Refine the picture tile by tile, pass by pass, writing each tile back feathered.

    At the start of each pass the whole picture's Gram sums are gathered tile by tile
    (cores only); a tile then optimises the whole picture's style loss with respect to its
    own pixels, the others' sums held fixed, and its new sums replace its old ones."""
    cfg, device = level.config, canvas.device
    regions = len(level.targets)
    height, width = canvas.shape[-2:]
    norms: dict[str, torch.Tensor] = {}
    for tile in grids[0]:  # the photo's content norm, over the whole picture
        core = core_mask(tile, device)
        with torch.no_grad(), level.autocast():
            feats = level.net(_crop(level.photo, tile.window), cfg.content_layers, cfg.pooling)
        for name, f in feats.items():
            part = (f.float().pow(2) * layer_weights(core, f)).sum()
            norms[name] = norms.get(name, 0) + part
    areas = [1.0] if level.weights is None else [float(m.mean()) for m in level.weights]

    def tile_weights(tile: Tile) -> torch.Tensor:  # (R, 1, h, w): masks x core
        core = core_mask(tile, device)
        return core if level.weights is None else _crop(level.weights, tile.window) * core

    for grid in grids:
        owns = [
            window_sums(
                level.net,
                _crop(canvas, tile.window),
                tile_weights(tile),
                regions,
                cfg,
                level.autocast,
            )
            for tile in grid
        ]
        totals = Totals(
            grams=[
                {k: sum(o[0][r][k] for o in owns) for k in cfg.style_layers} for r in range(regions)
            ],
            counts=[
                {k: sum(o[1][r][k] for o in owns) for k in cfg.style_layers} for r in range(regions)
            ],
            areas=areas,
            content_norms=norms,
            pixels=height * width,
        )
        for tile, (own, _) in zip(grid, owns, strict=True):
            w = tile_weights(tile)
            loss_fn = GatysLoss(
                level.net,
                cfg,
                level.autocast,
                level.targets,
                level.strengths,
                _crop(level.photo, tile.window),
                w,
                core_mask(tile, device),
                totals,
                own,
            )
            window = _crop(canvas, tile.window).clone().requires_grad_(True)
            optimizer = _make_optimizer(cfg, window)
            for _ in range(tile_steps):
                yield _step(optimizer, loss_fn, window)
            for r, sums in enumerate(loss_fn.last_sums):  # this tile's part, as it is now
                for name, value in sums.items():
                    totals.grams[r][name] = totals.grams[r][name] - own[r][name] + value
                    own[r][name] = value
            blend = feather(tile, device)
            with torch.no_grad():
                old = _crop(canvas, tile.window)
                old.add_(blend * (window.detach().clamp(0, 1) - old))


# ----------------------------------------------------------------------------- cancel


class _Stopped(Exception):
    """should_stop() said True in the middle of a step or a sweep over the tiles."""


@contextmanager
def _stop_between_layers(net: nn.Module, should_stop: Callable[[], bool]) -> Iterator[None]:
    """Ask `should_stop` before every convolution of `net`, forwards and backwards, and
    raise _Stopped when it says True. One step on a 1024 px tile is a minute on a CPU and a
    sweep of a print's tiles longer: a cancel then takes effect within one layer of one
    tile, wherever the run is. Backward hooks ask only on the calling thread (CUDA runs
    backward on a thread of its own, where a step is short anyway)."""
    caller = threading.get_ident()

    def check(*_: object) -> None:
        if should_stop():
            raise _Stopped

    def on_output(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
        if output.requires_grad:
            output.register_hook(lambda _grad: check() if threading.get_ident() == caller else None)

    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    handles = [m.register_forward_pre_hook(check) for m in convs]
    handles += [m.register_forward_hook(on_output) for m in convs]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


# ----------------------------------------------------------------------------- stylize


def stylize(
    content: Image.Image,
    styles: list[Image.Image],
    config: StyleConfig,
    *,
    net: VGGFeatures,
    labels: Image.Image | None = None,
    regions: list[RegionSpec] | None = None,
    init: Image.Image | None = None,
    on_progress: Callable[[StyleProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> StyleResult:
    """Paint `content` in the style of `styles` (RGB PIL images) with the VGG trunk `net`.

    With `labels` (a label map: pixel value = region number) and one `regions` entry per
    label, each region gets its own style picture and strength, or keeps the photo.
    `init` (an earlier result) is the starting picture instead of config.init.
    `should_stop` is asked before every step and every layer of VGG inside one (forwards
    and backwards), so it also ends a sweep over a print's tiles; when it says True the
    picture so far is returned with `stopped=True`. `on_progress` is called after every step.
    """
    if not styles:
        raise ValueError("at least one style picture is needed")
    blend = list(config.style_blend or [1.0] * len(styles))
    if len(blend) != len(styles) or min(blend) < 0 or sum(blend) <= 0:
        raise ValueError("style_blend needs one non-negative weight per style picture")
    blend = [w / sum(blend) for w in blend]
    _check_regions(labels, regions, len(styles))
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    memory_format = torch.contiguous_format
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed sizes per level: let cuDNN pick kernels
        memory_format = torch.channels_last  # what tensor cores want for convolutions
    net = net.to(device, memory_format=memory_format).eval()
    autocast = _autocast_for(device, config.precision)

    levels = plan(content.size, config)
    total_steps = sum(lp.total_steps for lp in levels)
    history: list[dict[str, float]] = []
    image: torch.Tensor | None = None
    keep: torch.Tensor | None = None
    stopped = False
    step = 0
    with _stop_between_layers(net, should_stop) if should_stop else nullcontext():
        for index, lp in enumerate(levels):
            photo = to_tensor(content, lp.size, device)
            side = round(max(lp.size) * config.style_scale)
            paintings = [to_tensor(s, fit(s.size, side), device) for s in styles]
            if config.preserve_color == "match":
                paintings = [match_color(p, photo) for p in paintings]
            elif config.preserve_color == "luminance":
                paintings = [luminance(p, like=photo) for p in paintings]
                photo = luminance(photo)
            if image is None:
                image = _initial_image(config, photo, paintings[0], init)
            else:  # upscale the coarser solution and refine it
                image = F.interpolate(
                    image, size=photo.shape[-2:], mode="bicubic", align_corners=False
                )
            image = image.detach().clamp(0, 1).contiguous(memory_format=memory_format)
            weights, indices, strengths = None, None, [1.0]
            if labels is not None and regions is not None:
                masks = region_masks(labels, len(regions), lp.size).to(device)
                styled = [i for i, r in enumerate(regions) if r.style is not None]
                weights = masks[styled]
                indices = [regions[i].style for i in styled]
                strengths = [regions[i].strength for i in styled]
                kept = [i for i, r in enumerate(regions) if r.style is None]
                keep = masks[kept].sum(0, keepdim=True) if kept else None
            try:
                targets = style_targets(net, paintings, blend, indices, config, autocast)
                level = _Level(net, config, autocast, photo, targets, strengths, weights)
                if lp.grids is None:
                    image.requires_grad_(True)
                    solver = _whole_level(level, image, lp.steps)
                else:
                    solver = _tiled_level(level, image, lp.grids, lp.tile_steps)
                for done in range(lp.total_steps):
                    if should_stop is not None and should_stop():
                        raise _Stopped
                    history.append(next(solver))
                    step += 1
                    if on_progress is not None:
                        snapshot = image.detach().clone()
                        on_progress(
                            StyleProgress(
                                step=step,
                                total_steps=total_steps,
                                level=index,
                                size=lp.size,
                                losses=history[-1],
                                seconds=time.perf_counter() - started,
                                level_done=done == lp.total_steps - 1,
                                _render=lambda snap=snapshot, k=keep: to_pil(
                                    _finish(snap, content, config, k)
                                ),
                            )
                        )
                solver.close()
            except _Stopped:
                stopped = True
                break

    assert image is not None
    out_size = fit(content.size, config.size)
    result = to_pil(_finish(image.detach(), content, config, keep))
    if result.size != out_size:
        result = result.resize(out_size, Image.Resampling.LANCZOS)
    return StyleResult(
        image=result,
        device=describe(device),
        steps=step,
        losses=history,
        seconds=time.perf_counter() - started,
        stopped=stopped,
    )


def _check_regions(
    labels: Image.Image | None, regions: list[RegionSpec] | None, styles: int
) -> None:
    if labels is None and regions is None:
        return
    if labels is None or not regions:
        raise ValueError("regions need both a label map and one entry per region")
    if len(regions) > MAX_REGIONS:
        raise ValueError(f"at most {MAX_REGIONS} regions, not {len(regions)}")
    for r in regions:
        if r.style is not None and not 0 <= r.style < styles:
            raise ValueError(f"a region asks for style {r.style + 1}, but there are {styles}")
        if not (math.isfinite(r.strength) and r.strength >= 0):
            raise ValueError("a region's strength must be a finite number >= 0")
    highest = int(np.asarray(labels.convert("L")).max())
    if highest >= len(regions):
        raise ValueError(
            f"the label map has region {highest + 1}; only {len(regions)} are described"
        )


def _finish(
    image: torch.Tensor, content: Image.Image, config: StyleConfig, keep: torch.Tensor | None
) -> torch.Tensor:
    """Clamp to 0..1; for luminance-only transfer, put the photo's colours back; where
    regions keep the photo (`keep`, soft mask), the photo itself."""
    image = image.float().clamp(0, 1)
    width, height = image.shape[-1], image.shape[-2]
    if config.preserve_color == "luminance":
        photo = to_tensor(content, (width, height), image.device)
        yiq = rgb_to_yiq(photo)
        yiq[:, :1] = rgb_to_yiq(image)[:, :1]  # the painted light, the photo's colour
        image = yiq_to_rgb(yiq).clamp(0, 1)
    if keep is not None:
        photo = to_tensor(content, (width, height), image.device)
        if keep.shape[-2:] != image.shape[-2:]:
            keep = F.interpolate(keep, size=image.shape[-2:], mode="bilinear", align_corners=False)
        image = image + keep * (photo - image)
    return image


def seam_ratio(picture: np.ndarray, config: StyleConfig) -> float:
    """Gradient energy across the tile borders of every pass / across the other lines of
    the 16 px grid, for an (H, W, 3) picture in 0..1. Lines in the same phase of VGG's
    pooling grid are compared: a result has more energy on every 16th line than between
    them, seam or not. Above 1: the borders show."""
    height, width = picture.shape[:2]
    grids = [tile_grid(height, width, config, s) for s in pass_shifts(config)]
    cols = {t.core[2] for grid in grids for t in grid} - {0}
    rows = {t.core[0] for grid in grids for t in grid} - {0}
    inner_cols = [x for x in range(ALIGN, width, ALIGN) if x not in cols]
    inner_rows = [y for y in range(ALIGN, height, ALIGN) if y not in rows]
    dx = ((picture[:, 1:] - picture[:, :-1]) ** 2).sum(-1)  # dx[:, x - 1]: between x - 1 and x
    dy = ((picture[1:] - picture[:-1]) ** 2).sum(-1)

    def energy(columns: list[int], lines: list[int]) -> float:
        across = [dx[:, [c - 1 for c in columns]].ravel(), dy[[r - 1 for r in lines]].ravel()]
        return float(np.concatenate(across).mean())

    return energy(sorted(cols), sorted(rows)) / energy(inner_cols, inner_rows)
