"""Looking inside a trained net: why this prediction, and what a unit responds to.

Works on any module that maps pictures in [0, 1] (B, C, H, W) to class logits – a
playground `Net`, a `TransferNet`, a TorchScript-free checkpoint – and, for the unit
tools, on VGG19's ImageNet trunk alone.

- `grad_cam`: Selvaraju et al. 2017. The gradient of the class score with respect to a
  conv layer's activations A (K, h, w), averaged over space, weighs each channel:
  cam = ReLU(sum_k alpha_k A_k), alpha_k = mean_ij d score / d A_kij; upsampled to the
  picture and scaled to [0, 1].
- `saliency`: Simonyan et al. 2014. |d score / d pixel|, the largest over channels.
- `top_patches`: Zeiler & Fergus 2014. The validation pictures where a channel fires
  most, each cropped to the input region that feeds its strongest position.
- `maximize_unit`: activation maximisation (Olah et al. 2017, "Feature Visualization"):
  a picture optimised to make one channel's mean activation large, parametrised in a
  decorrelated Fourier basis (each frequency scaled by 1/f), jittered and lightly
  blurred at every step so that the result is structure, not high-frequency noise.
- `confusion_cell`: the validation pictures of one (true, predicted) pair, most
  confident first.

Pure torch/numpy/PIL (no Django).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn


class ExplainError(ValueError):
    """A layer, class or channel that does not exist; the message is meant for the user."""


# ---------------------------------------------------------------------------------------
# layers


def conv_layers(model: nn.Module, input_shape: tuple[int, ...]) -> list[tuple[str, nn.Module]]:
    """(name, module) of every leaf module whose output is a feature map larger than
    1×1, in the order they run, found by one forward pass of a blank picture."""
    seen: list[tuple[str, nn.Module]] = []
    hooks = []
    for name, module in model.named_modules():
        if next(module.children(), None) is not None or name == "":
            continue
        if getattr(module, "explain_skip", False):
            continue

        def hook(mod, _inputs, output, name=name):
            if (
                torch.is_tensor(output)
                and output.dim() == 4
                and output.shape[-1] * output.shape[-2] > 1
            ):
                if all(m is not mod for _, m in seen):
                    seen.append((name, mod))

        hooks.append(module.register_forward_hook(hook))
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=_device(model)))
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return seen


def pick_layer(
    model: nn.Module, input_shape: tuple[int, ...], name: str | None
) -> tuple[str, nn.Module]:
    """The named layer, or by default the last one with a feature map (Grad-CAM's usual
    choice: the deepest layer that still knows where things are)."""
    layers = conv_layers(model, input_shape)
    if not layers:
        raise ExplainError("this net has no layer with a feature map")
    if name is None:
        return layers[-1]
    for layer in layers:
        if layer[0] == name:
            return layer
    raise ExplainError(
        f"no layer {name!r}; layers with feature maps: {', '.join(n for n, _ in layers)}"
    )


def layer_label(model: nn.Module, name: str | None) -> str | None:
    """A module's name as the run page's forms name its layer: "layers.5" -> "layer 5:
    avgpool", "layers.2.body.0" -> "layer 2: residual (body.0)", the head -> "the
    classifier"; a name outside the net's spec stays as it is."""
    spec = getattr(model, "spec", None)
    if name is None or spec is None:
        return name
    parts = name.split(".")
    if parts[0] == "head":
        return "the classifier"
    if parts[0] != "layers" or len(parts) < 2 or not parts[1].isdigit():
        return name
    index = int(parts[1])
    if index >= len(spec):
        return name
    inner = ".".join(parts[2:])
    return f"layer {index}: {spec[index]['type']}" + (f" ({inner})" if inner else "")


def _device(model: nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


class _Capture:
    """Keeps a layer's output (with its gradient) during one forward pass."""

    def __init__(self, module: nn.Module) -> None:
        self.output: torch.Tensor | None = None
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, _module, _inputs, output):
        if output.requires_grad:
            output.retain_grad()
        self.output = output

    def __enter__(self) -> _Capture:
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


# ---------------------------------------------------------------------------------------
# why this prediction


@dataclass
class Explanation:
    target: int  # the class explained
    predicted: int
    probabilities: list[float]
    layer: str  # Grad-CAM's layer
    cam: np.ndarray  # (H, W) in [0, 1]
    saliency: np.ndarray  # (H, W) in [0, 1]


def _scaled(m: torch.Tensor) -> np.ndarray:
    m = m.detach().float().cpu()
    top = float(m.max())
    return (m / top).numpy() if top > 0 else torch.zeros_like(m).numpy()


def grad_cam(
    model: nn.Module, picture: torch.Tensor, target: int | None = None, layer: str | None = None
) -> Explanation:
    """Grad-CAM and gradient saliency of `picture` (C, H, W) in [0, 1] for class `target`
    (default: the predicted class)."""
    model.eval()
    name, module = pick_layer(model, tuple(picture.shape), layer)
    x = picture[None].to(_device(model)).clone().requires_grad_(True)
    with torch.enable_grad(), _Capture(module) as capture:
        logits = model(x)  # (1, classes)
        probabilities = logits.detach().softmax(1)[0]
        predicted = int(probabilities.argmax())
        target = predicted if target is None else target
        if not 0 <= target < logits.shape[1]:
            raise ExplainError(f"class {target} does not exist; the net has {logits.shape[1]}")
        model.zero_grad(set_to_none=True)
        logits[0, target].backward()
        activation, gradient = capture.output, capture.output.grad  # (1, K, h, w)
    if gradient is None:
        raise ExplainError(f"layer {name!r} does not lead to the class score")
    alpha = gradient.mean(dim=(2, 3), keepdim=True)  # (1, K, 1, 1)
    cam = F.relu((alpha * activation).sum(1, keepdim=True))  # (1, 1, h, w)
    cam = F.interpolate(cam, size=picture.shape[-2:], mode="bilinear", align_corners=False)
    saliency = x.grad[0].abs().amax(0)  # (H, W)
    return Explanation(
        target=target,
        predicted=predicted,
        probabilities=[float(p) for p in probabilities],
        layer=name,
        cam=_scaled(cam[0, 0]),
        saliency=_scaled(saliency),
    )


# ---------------------------------------------------------------------------------------
# pictures


def to_rgb(picture: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W, 3) uint8."""
    x = picture.detach().cpu().clamp(0, 1)
    x = x if x.shape[0] == 3 else x[:1].expand(3, -1, -1)  # grey (or odd channel counts): the first
    return (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def heat_rgb(m: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) uint8, dark blue -> red -> yellow."""
    m = np.clip(m, 0, 1)[..., None]
    low, mid, high = np.array([20, 20, 90]), np.array([220, 40, 30]), np.array([255, 235, 60])
    rgb = np.where(m < 0.5, low + (mid - low) * (m * 2), mid + (high - mid) * (m * 2 - 1))
    return rgb.round().astype(np.uint8)


def overlay_png(
    picture: torch.Tensor, heat: np.ndarray, scale: int = 1, alpha: float = 0.5
) -> bytes:
    """The picture with `heat` laid over it, as PNG bytes (enlarged `scale` times)."""
    blend = (1 - alpha) * to_rgb(picture) + alpha * heat_rgb(heat)
    return png_bytes(blend.round().astype(np.uint8), scale)


def png_bytes(rgb: np.ndarray, scale: int = 1) -> bytes:
    image = Image.fromarray(rgb)
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------
# what a unit responds to


def _channel_of(output: torch.Tensor, channel: int, name: str) -> torch.Tensor:
    if not 0 <= channel < output.shape[1]:
        raise ExplainError(f"layer {name!r} has channels 0..{output.shape[1] - 1}")
    return output[:, channel]  # (B, h, w)


@dataclass
class Patch:
    index: int  # into the pictures given
    activation: float
    box: tuple[int, int, int, int]  # top, left, bottom, right (exclusive) in input pixels
    picture: np.ndarray  # (h, w, 3) uint8 crop


def top_patches(
    model: nn.Module,
    pictures: torch.Tensor,
    layer: str,
    channel: int,
    count: int = 9,
    batch_size: int = 128,
) -> list[Patch]:
    """The `count` pictures where `channel` of `layer` reaches its highest value, each
    cropped to the pixels that position depends on (the support of its input gradient)."""
    model.eval()
    name, module = pick_layer(model, tuple(pictures.shape[1:]), layer)
    best: list[tuple[float, int, int, int]] = []  # (value, picture, row, col)
    with torch.no_grad(), _Capture(module) as capture:
        for start in range(0, len(pictures), batch_size):
            model(pictures[start : start + batch_size].to(_device(model)))
            maps = _channel_of(capture.output, channel, name)  # (B, h, w)
            flat = maps.flatten(1)
            values, where = flat.max(1)
            for i, (v, w) in enumerate(zip(values.tolist(), where.tolist(), strict=True)):
                best.append((v, start + i, w // maps.shape[2], w % maps.shape[2]))
    best.sort(key=lambda item: -item[0])
    patches = []
    for value, index, row, col in best[:count]:
        x = pictures[index : index + 1].to(_device(model)).clone().requires_grad_(True)
        with torch.enable_grad(), _Capture(module) as capture:
            model(x)
            capture.output[0, channel, row, col].backward()
        support = (x.grad[0].abs().amax(0) > 0).nonzero()
        if len(support):
            top, left = support.min(0).values.tolist()
            bottom, right = (support.max(0).values + 1).tolist()
        else:  # a dead position: show the whole picture
            top, left, (bottom, right) = 0, 0, pictures.shape[-2:]
        crop = to_rgb(pictures[index])[top:bottom, left:right]
        patches.append(Patch(index, value, (top, left, bottom, right), crop))
    return patches


def _fourier_scale(h: int, w: int, decay: float = 1.0) -> torch.Tensor:
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    frequency = torch.sqrt(fx**2 + fy**2).clamp_min(1.0 / max(h, w))
    return 1.0 / frequency**decay  # (h, w // 2 + 1)


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(round(2 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    x = F.conv2d(
        F.pad(x, (radius, radius, 0, 0), mode="reflect"),
        kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
        groups=c,
    )
    return F.conv2d(
        F.pad(x, (0, 0, radius, radius), mode="reflect"),
        kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
        groups=c,
    )


def maximize_unit(
    forward: Callable[[torch.Tensor], torch.Tensor],
    channel: int,
    *,
    size: int = 128,
    channels: int = 3,
    steps: int = 256,
    lr: float = 0.05,
    jitter: int = 8,
    blur_sigma: float = 0.5,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> tuple[np.ndarray, list[float]]:
    """A size × size picture that makes `forward(picture)[:, channel]` large on average.

    `forward` maps (1, C, S, S) in [0, 1] to a layer's activations (1, K, h, w). The
    picture is sigmoid(irfft2(spectrum / f)) – a decorrelated parametrisation, so that
    every frequency learns at the same pace instead of the highest ones winning – and
    each step sees it shifted by up to `jitter` pixels and blurred (`blur_sigma`).
    Returns the picture as (S, S, 3) uint8 and the objective at each step."""
    generator = torch.Generator().manual_seed(seed)
    scale = _fourier_scale(size, size).to(device)
    spectrum = (torch.randn(1, channels, size, size // 2 + 1, 2, generator=generator) * 0.01).to(
        device
    )
    spectrum.requires_grad_(True)
    optimizer = torch.optim.Adam([spectrum], lr=lr)

    def image() -> torch.Tensor:
        complex_spectrum = torch.view_as_complex(spectrum) * scale
        pixels = torch.fft.irfft2(complex_spectrum, s=(size, size), norm="ortho")
        return torch.sigmoid(pixels * 4)  # (1, C, S, S) in (0, 1)

    trace = []
    pad = jitter
    for _ in range(steps):
        picture = image()
        if pad:
            dy, dx = (int(v) for v in torch.randint(-pad, pad + 1, (2,), generator=generator))
            picture = torch.roll(picture, shifts=(dy, dx), dims=(2, 3))
        if blur_sigma > 0:
            picture = _blur(picture, blur_sigma)
        out = forward(picture)
        if not 0 <= channel < out.shape[1]:
            raise ExplainError(f"the layer has channels 0..{out.shape[1] - 1}")
        objective = out[0, channel].mean()
        optimizer.zero_grad(set_to_none=True)
        (-objective).backward()
        optimizer.step()
        trace.append(float(objective.detach()))
    with torch.no_grad():
        return to_rgb(image()[0]), trace


class _Reached(Exception):  # noqa: N818 - a signal: the wanted layer has run
    pass


def layer_forward(model: nn.Module, layer: str, input_shape: tuple[int, ...]) -> Callable:
    """forward(picture) -> the activations of `layer` of `model`; the layers after it do
    not run, so the picture may have another size than `input_shape` (the net's own,
    used to find the layer)."""
    _, module = pick_layer(model, input_shape, layer)

    def forward(picture: torch.Tensor) -> torch.Tensor:
        seen: list[torch.Tensor] = []

        def stop(_module, _inputs, output):
            seen.append(output)
            raise _Reached

        handle = module.register_forward_hook(stop)
        try:
            model(picture)
        except _Reached:
            pass
        finally:
            handle.remove()
        return seen[0]

    return forward


# ---------------------------------------------------------------------------------------
# confusion-matrix drill-down


@dataclass
class CellItem:
    index: int  # into the validation pictures
    confidence: float  # of the predicted class
    explanation: Explanation


def confusion_cell(
    model: nn.Module,
    pictures: torch.Tensor,
    labels: torch.Tensor,
    true: int,
    predicted: int,
    limit: int = 12,
) -> list[CellItem]:
    """The pictures of true class `true` that the net calls `predicted`, most confident
    first (at most `limit`), each with its Grad-CAM for the predicted class."""
    model.eval()
    with torch.no_grad():
        device = _device(model)
        probs = torch.cat(
            [
                model(pictures[i : i + 256].to(device)).softmax(1).cpu()
                for i in range(0, len(pictures), 256)
            ]
        )
    confidence, guess = probs.max(1)
    members = ((labels == true) & (guess == predicted)).nonzero().flatten()
    members = members[confidence[members].argsort(descending=True)][:limit]
    return [
        CellItem(int(i), float(confidence[i]), grad_cam(model, pictures[i], target=predicted))
        for i in members
    ]


# ---------------------------------------------------------------------------------------
# a saved model and a picture


def picture_tensor(picture: Image.Image, input_shape: tuple[int, int, int]) -> torch.Tensor:
    """An RGB picture (already decoded by webapp.pictures) as the net's (C, H, W) input."""
    c, h, w = input_shape
    pixels = np.asarray(picture.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR))
    x = torch.tensor(pixels, dtype=torch.float32) / 255
    return x[None] if c == 1 else x.permute(2, 0, 1)
