"""Neural style transfer: Gatys, Ecker & Bethge, "Image Style Transfer Using CNNs" (2016).

We look for an image whose VGG19 activations resemble the photo's (content loss) and whose
Gram matrices - the correlations between feature channels, which keep texture and colour
but forget where things are - resemble the paintings' (style loss). The pixels themselves
are the parameters; L-BFGS (or Adam) moves them downhill.

Every loss is relative (a squared distance divided by the target's squared size), so the
default weights mean the same thing at 128 px and at 1024 px, for every layer and style.
Pictures are solved coarse-to-fine: most steps run on a small version, which is then
upscaled and refined, so large outputs need only a few full-size steps.

Pure PyTorch/PIL: no Django here. `stylize` is the one entry point.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from styletransfer.config import (  # noqa: F401 (re-exported: the engine's public names)
    COLOR_MODES,
    DEVICES,
    INITS,
    MIN_SIDE,
    OPTIMIZERS,
    POOLINGS,
    PRECISIONS,
    PRESETS,
    STYLE_LAYERS,
    StyleConfig,
    preset,
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


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Channel correlations averaged over positions: (B, C, H, W) -> (B, C, C)."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w).float()  # in float32 even under autocast
    return flat @ flat.transpose(1, 2) / (h * w)


def relative_sq_error(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||x - target||^2 / ||target||^2, so the value does not depend on size or layer."""
    return (x.float() - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels of a (B, 3, H, W) image."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return dx.pow(2).mean() + dy.pow(2).mean()


class GatysLoss(nn.Module):
    """Weighted content + style + total-variation loss against fixed targets."""

    def __init__(
        self,
        net: VGGFeatures,
        content: torch.Tensor,  # (1, 3, H, W)
        styles: list[torch.Tensor],  # each (1, 3, h_i, w_i)
        blend: list[float],  # one per style, sums to 1
        config: StyleConfig,
        autocast: Callable[[], object],
    ) -> None:
        super().__init__()
        self.net, self.config, self.autocast = net, config, autocast
        with torch.no_grad(), autocast():
            feats = net(content, config.content_layers, config.pooling)
            self.content_targets = {k: v.float() for k, v in feats.items()}
            # sum_s w_s ||G - G_s||^2 = ||G - sum_s w_s G_s||^2 + const when the w_s sum to 1,
            # so several styles blend into one target Gram per layer.
            self.gram_targets: dict[str, torch.Tensor] = {}
            for style, w in zip(styles, blend, strict=True):
                feats = net(style, config.style_layers, config.pooling)
                for name in config.style_layers:
                    gram = w * gram_matrix(feats[name])
                    prior = self.gram_targets.get(name)
                    self.gram_targets[name] = gram if prior is None else prior + gram
        layer_weights = config.style_layer_weights or (1.0,) * len(config.style_layers)
        total = sum(layer_weights)
        self.layer_weights = [w / total for w in layer_weights]

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        cfg = self.config
        with self.autocast():
            feats = self.net(image, cfg.content_layers + cfg.style_layers, cfg.pooling)
        content = sum(relative_sq_error(feats[k], t) for k, t in self.content_targets.items())
        content = content / len(self.content_targets)
        style = sum(
            w * relative_sq_error(gram_matrix(feats[name]), self.gram_targets[name])
            for w, name in zip(self.layer_weights, cfg.style_layers, strict=True)
        )
        tv = total_variation(image)
        total = cfg.content_weight * content + cfg.style_weight * style + cfg.tv_weight * tv
        return {"content": content, "style": style, "tv": tv, "total": total}


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
        cov = centred @ centred.T / pixels.shape[1] + 1e-5 * torch.eye(3, dtype=torch.double)
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


def fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """(width, height) scaled so the longest side is `longest`, neither side below MIN_SIDE."""
    w, h = size
    scale = longest / max(w, h)
    return max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale))


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


def _initial_image(config: StyleConfig, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
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


def stylize(
    content: Image.Image,
    styles: list[Image.Image],
    config: StyleConfig,
    *,
    net: VGGFeatures,
    on_progress: Callable[[StyleProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> StyleResult:
    """Paint `content` in the style of `styles` (RGB PIL images) with the VGG trunk `net`.

    `should_stop` is asked before every step; when it says True the picture so far is
    returned with `stopped=True`. `on_progress` is called after every step.
    """
    if not styles:
        raise ValueError("at least one style picture is needed")
    blend = list(config.style_blend or [1.0] * len(styles))
    if len(blend) != len(styles) or min(blend) < 0 or sum(blend) <= 0:
        raise ValueError("style_blend needs one non-negative weight per style picture")
    blend = [w / sum(blend) for w in blend]
    started = time.perf_counter()
    device = pick_device(config.device)
    memory_format = torch.contiguous_format
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed sizes per level: let cuDNN pick kernels
        memory_format = torch.channels_last  # what tensor cores want for convolutions
    net = net.to(device, memory_format=memory_format).eval()
    autocast = _autocast_for(device, config.precision)

    sizes = config.level_sizes()
    out_size = fit(content.size, config.size)
    history: list[dict[str, float]] = []
    image: torch.Tensor | None = None
    stopped = False
    step = 0
    for level, longest in enumerate(sizes):
        size = fit(content.size, longest)
        photo = to_tensor(content, size, device)
        paintings = [
            to_tensor(s, fit(s.size, round(longest * config.style_scale)), device) for s in styles
        ]
        if config.preserve_color == "match":
            paintings = [match_color(p, photo) for p in paintings]
        elif config.preserve_color == "luminance":
            paintings = [luminance(p, like=photo) for p in paintings]
            photo = luminance(photo)
        loss_fn = GatysLoss(net, photo, paintings, blend, config, autocast)
        if image is None:
            image = _initial_image(config, photo, paintings[0])
        else:  # upscale the coarser solution and refine it
            image = F.interpolate(image, size=photo.shape[-2:], mode="bicubic", align_corners=False)
        image = image.detach().contiguous(memory_format=memory_format).requires_grad_(True)
        optimizer = _make_optimizer(config, image)
        for _ in range(config.steps if level == len(sizes) - 1 else config.coarse_steps):
            if should_stop is not None and should_stop():
                stopped = True
                break
            history.append(_step(optimizer, loss_fn, image))
            step += 1
            if on_progress is not None:
                snapshot = image.detach().clone()
                on_progress(
                    StyleProgress(
                        step=step,
                        total_steps=config.total_steps,
                        level=level,
                        size=size,
                        losses=history[-1],
                        seconds=time.perf_counter() - started,
                        _render=lambda snap=snapshot: to_pil(_finish(snap, content, config)),
                    )
                )
        if stopped:
            break

    assert image is not None
    result = to_pil(_finish(image.detach(), content, config)).resize(
        out_size, Image.Resampling.LANCZOS
    )
    return StyleResult(
        image=result,
        device=describe(device),
        steps=step,
        losses=history,
        seconds=time.perf_counter() - started,
        stopped=stopped,
    )


def _finish(image: torch.Tensor, content: Image.Image, config: StyleConfig) -> torch.Tensor:
    """Clamp to 0..1; for luminance-only transfer, put the photo's colours back."""
    image = image.float().clamp(0, 1)
    if config.preserve_color != "luminance":
        return image
    width, height = image.shape[-1], image.shape[-2]
    photo = to_tensor(content, (width, height), image.device)
    yiq = rgb_to_yiq(photo)
    yiq[:, :1] = rgb_to_yiq(image)[:, :1]  # the painted light, the photo's colour
    return yiq_to_rgb(yiq).clamp(0, 1)
