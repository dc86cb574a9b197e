"""What the live view shows, as small JSON-ready event dicts.

Pictures travel as PNG data URLs ("data:image/png;base64,..."), one grid per layer, at
their true pixel size: the page scales them up with `image-rendering: pixelated`.
Feature maps are normalised per channel to the full grey range; filters are shown
around mid-grey (0.5 = weight 0) so positive and negative weights are told apart.
"""

import base64
import io
import math

import numpy as np
import torch
from PIL import Image
from torch import nn

from playground.netspec import Net

MAX_MAP_SIDE = 32  # larger activation maps are average-pooled down to this for the page


def png_data_url(pixels: np.ndarray) -> str:
    """A uint8 (H, W) grey or (H, W, 3) colour array as a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def tile(maps: np.ndarray) -> np.ndarray:
    """(N, H, W[, 3]) floats in [0, 1] -> one uint8 grid picture with 1-pixel gaps."""
    n, h, w = maps.shape[:3]
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1) + maps.shape[3:], 0.25)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = maps[i]
    return (np.clip(grid, 0, 1) * 255).round().astype(np.uint8)


def picture_url(x: torch.Tensor) -> str:
    """One input picture (C, H, W) in [0, 1] as a PNG data URL."""
    array = x.detach().float().cpu().clamp(0, 1).numpy()
    array = array[0] if array.shape[0] == 1 else array[:3].transpose(1, 2, 0)
    return png_data_url((array * 255).round().astype(np.uint8))


def layer_names(model: Net) -> list[str]:
    """'index type' for each spec layer, then the head: the labels of every chart."""
    return [f"{i} {layer['type']}" for i, layer in enumerate(model.spec)] + [
        f"{len(model.spec)} classifier"
    ]


def gradient_norms(model: Net) -> list[float | None]:
    """L2 norm of each layer's parameter gradients (None for layers without parameters,
    and where the norm overflowed: events carry finite numbers only)."""
    layers = [*model.layers, model.head]
    norms, owners = [], []
    for i, layer in enumerate(layers):
        grads = [p.grad for p in layer.parameters() if p.grad is not None]
        if grads:
            norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))
            owners.append(i)
    values = torch.stack(norms).tolist() if norms else []  # one device sync for all layers
    out: list[float | None] = [None] * len(layers)
    for i, v in zip(owners, values, strict=True):
        out[i] = v if math.isfinite(v) else None
    return out


def filters_event(model: Net, step: int) -> dict | None:
    """The first conv layer's kernels as one grid picture."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        return None
    w = conv.weight.detach().float().cpu()  # (F, C, k, k)
    scale = w.abs().max().clamp_min(1e-8)
    if w.shape[1] == 3:
        maps = (0.5 + w / (2 * scale)).permute(0, 2, 3, 1).numpy()  # (F, k, k, 3)
    else:
        maps = (0.5 + w.mean(dim=1) / (2 * scale)).numpy()  # (F, k, k); channels averaged
    return {
        "type": "filters",
        "step": step,
        "shape": list(w.shape),
        "image": png_data_url(tile(maps)),
    }


@torch.no_grad()
def activations_event(model: Net, x: torch.Tensor, step: int, channels: int = 8) -> dict:
    """Feature maps of every conv layer and block for one picture x (C, H, W)."""
    conv_types = ("conv2d", "residual", "inception")
    indices = [i for i, layer in enumerate(model.spec) if layer["type"] in conv_types]
    outputs: dict[int, torch.Tensor] = {}  # layer index -> its output (1, C, H, W)
    hooks = [
        model.layers[i].register_forward_hook(lambda _m, _in, out, i=i: outputs.update({i: out}))
        for i in indices
    ]
    was_training = model.training
    model.eval()
    try:
        model(x[None])
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    layers = []
    for i in indices:
        maps = outputs[i][0, :channels].float()  # (channels, H, W)
        if max(maps.shape[1:]) > MAX_MAP_SIDE:
            maps = nn.functional.adaptive_avg_pool2d(maps[None], MAX_MAP_SIDE)[0]
        low = maps.amin(dim=(1, 2), keepdim=True)
        high = maps.amax(dim=(1, 2), keepdim=True)
        maps = ((maps - low) / (high - low).clamp_min(1e-8)).cpu().numpy()
        layers.append(
            {
                "index": i,
                "type": model.spec[i]["type"],
                "shape": list(outputs[i].shape[1:]),  # (C, H, W) of the whole layer
                "shown": len(maps),  # the first `shown` channels are in the picture
                "image": png_data_url(tile(maps)),
            }
        )
    return {"type": "activations", "step": step, "input": picture_url(x), "layers": layers}
