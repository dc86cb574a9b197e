"""Darknet models in PyTorch: a `.cfg` parser, a `.weights` loader and the network they build.

A Darknet model is a `.cfg` text file (an `[net]` section, then one `[section]` per layer,
each with `key=value` options) and a `.weights` file (a small header, then every conv
layer's parameters as float32 in cfg order). This file turns the pair into an `nn.Module`
for the layer types YOLOv3, YOLOv3-tiny, YOLOv4-tiny and YOLOv4 use:

    convolutional  conv (+ batch norm) + leaky / linear / mish / relu / logistic
    maxpool        Darknet pads right/bottom, so `size=2 stride=1` keeps the size; stride 1
                   with sizes 5, 9, 13 is YOLOv4's SPP block (a route concatenates them)
    route          concatenate earlier outputs along channels (optionally one channel group)
    upsample       nearest-neighbour
    shortcut       residual sum with an earlier output
    yolo           decode one grid of anchor boxes (see `YoloHead`); any number of them

The model's output is every anchor box of every `yolo` layer, decoded:
(B, N, 5 + classes) rows of [cx, cy, w, h, objectness, p(class 0), ..., p(class C-1)],
box in fractions of the net input (0..1), probabilities after the sigmoid. Rows are
ordered head by head, then grid row, grid column, anchor — the order OpenCV uses too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Darknet's batch norm divides by sqrt(var) + .000001, not sqrt(var + eps).
DARKNET_BN_EPS = 1e-6


class DarknetError(ValueError):
    """A cfg or weights file that cannot be turned into a model; the message says why."""


@dataclass
class Block:
    """One `[section]` of a cfg file."""

    kind: str  # section name, e.g. "convolutional"
    options: dict[str, str] = field(default_factory=dict)
    line: int = 0  # line of the `[section]` header, for error messages

    def get_int(self, key: str, default: int | None = None) -> int:
        return int(self._get(key, default))

    def get_float(self, key: str, default: float | None = None) -> float:
        return float(self._get(key, default))

    def get_ints(self, key: str, default: str | None = None) -> list[int]:
        return [int(v) for v in self._get(key, default).split(",") if v.strip()]

    def get_str(self, key: str, default: str | None = None) -> str:
        return self._get(key, default).strip()

    def _get(self, key: str, default: object) -> str:
        if key in self.options:
            return self.options[key]
        if default is None:
            raise DarknetError(f"[{self.kind}] at line {self.line} needs `{key}=`")
        return str(default)


def parse_cfg(text: str) -> list[Block]:
    """Split cfg text into blocks; comments (`#`, `;`) and blank lines are ignored."""
    blocks: list[Block] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.split(r"[#;]", raw, maxsplit=1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise DarknetError(f"line {number}: unclosed section header {line!r}")
            blocks.append(Block(kind=line[1:-1].strip().lower(), line=number))
        elif "=" in line and blocks:
            key, value = line.split("=", 1)
            blocks[-1].options[key.strip()] = value.strip()
        else:
            raise DarknetError(f"line {number}: expected `[section]` or `key=value`, got {line!r}")
    if not blocks or blocks[0].kind not in ("net", "network"):
        raise DarknetError("a Darknet cfg starts with a [net] section")
    return blocks


@dataclass
class NetConfig:
    """The `[net]` section: what the network expects as input."""

    width: int = 416  # input width in pixels
    height: int = 416  # input height in pixels
    channels: int = 3  # RGB


# ----------------------------------------------------------------------------- layers


def make_activation(name: str) -> nn.Module:
    """Darknet activation by name; raises DarknetError for ones we do not implement."""
    if name == "leaky":
        return nn.LeakyReLU(0.1, inplace=True)
    if name == "linear":
        return nn.Identity()
    if name == "mish":
        return nn.Mish()
    if name == "relu":
        return nn.ReLU()
    if name == "logistic":
        return nn.Sigmoid()
    raise DarknetError(f"unsupported activation {name!r}")


class ConvLayer(nn.Module):
    """Conv + activation. Batch norm, when the cfg has it, is folded into the conv at load."""

    def __init__(self, c_in: int, block: Block):
        super().__init__()
        size = block.get_int("size", 1)
        padding = size // 2 if block.get_int("pad", 0) else block.get_int("padding", 0)
        self.batch_normalize = bool(block.get_int("batch_normalize", 0))
        self.conv = nn.Conv2d(
            c_in,
            block.get_int("filters", 1),
            size,
            stride=block.get_int("stride", 1),
            padding=padding,
            groups=block.get_int("groups", 1),
            bias=True,  # the folded batch norm shift lives here
        )
        self.act = make_activation(block.get_str("activation", "logistic"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


class MaxPoolLayer(nn.Module):
    """Darknet max pool: pads `size - 1` (left/top get half, rounded down) with -inf."""

    def __init__(self, block: Block):
        super().__init__()
        self.size = block.get_int("size", 1)
        self.stride = block.get_int("stride", 1)
        padding = block.get_int("padding", self.size - 1)
        self.before = padding // 2  # left and top
        self.after = padding - padding // 2  # right and bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Right/bottom padding only matters when it adds a window (e.g. size 2 stride 1);
        # skipping the copy otherwise saves ~5% of YOLOv3-tiny's time on a CPU.
        k, s, a = self.size, self.stride, self.after
        if self.before or any((n + a - k) // s != (n - k) // s for n in x.shape[-2:]):
            x = F.pad(x, (self.before, a, self.before, a), value=float("-inf"))
        return F.max_pool2d(x, k, s)


class RouteLayer(nn.Module):
    """Concatenate earlier layers' outputs, taking channel group `group_id` of `groups`."""

    def __init__(self, sources: list[int], groups: int, group_id: int):
        super().__init__()
        self.sources = sources  # absolute layer indices
        self.groups = groups
        self.group_id = group_id

    def forward(self, outputs: list[torch.Tensor]) -> torch.Tensor:
        parts = [outputs[i] for i in self.sources]
        if self.groups > 1:
            parts = [p.chunk(self.groups, dim=1)[self.group_id] for p in parts]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class ShortcutLayer(nn.Module):
    """Residual connection: previous output + the output of layer `source`, then activation."""

    def __init__(self, source: int, activation: str):
        super().__init__()
        self.source = source  # absolute layer index
        self.act = make_activation(activation)

    def forward(self, x: torch.Tensor, outputs: list[torch.Tensor]) -> torch.Tensor:
        return self.act(x + outputs[self.source])


class UpsampleLayer(nn.Module):
    """Nearest-neighbour upsampling by an integer `stride`."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.stride, mode="nearest")


class YoloHead(nn.Module):
    """Decode one YOLO grid into boxes.

    The conv before it predicts, per grid cell and anchor, (tx, ty, tw, th, to, class logits):
    cx = (col + σ(tx)) / W, cy = (row + σ(ty)) / H, w = exp(tw) * anchor_w / net_w,
    h = exp(th) * anchor_h / net_h, objectness = σ(to), p(class) = σ(logit).
    `scale_x_y` (YOLOv4) stretches σ to reach cell borders: σ * s - (s - 1) / 2.
    """

    def __init__(self, anchors: list[tuple[float, float]], classes: int, net: NetConfig, sxy=1.0):
        super().__init__()
        self.classes = classes
        self.scale_x_y = sxy
        anchors_t = torch.tensor(anchors, dtype=torch.float32)  # (A, 2) in input pixels
        self.register_buffer("anchors", anchors_t / torch.tensor([net.width, net.height]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        A, D = len(self.anchors), 5 + self.classes
        t = x.view(B, A, D, H, W).permute(0, 3, 4, 1, 2).float()  # (B, H, W, A, D)
        rows = torch.arange(H, device=x.device, dtype=t.dtype).view(H, 1, 1)
        cols = torch.arange(W, device=x.device, dtype=t.dtype).view(1, W, 1)
        s = self.scale_x_y
        offset = torch.sigmoid(t[..., :2]) * s - (s - 1) / 2  # (B, H, W, A, 2)
        cx = (cols + offset[..., 0]) / W
        cy = (rows + offset[..., 1]) / H
        wh = torch.exp(t[..., 2:4]) * self.anchors.float()  # (B, H, W, A, 2); anchors in fp32
        probs = torch.sigmoid(t[..., 4:])  # objectness, then classes
        out = torch.cat([cx.unsqueeze(-1), cy.unsqueeze(-1), wh, probs], dim=-1)
        return out.reshape(B, H * W * A, D)


# ----------------------------------------------------------------------------- the model


class Darknet(nn.Module):
    """A network built from cfg blocks; `forward` returns (B, N, 5 + classes) decoded boxes."""

    def __init__(self, blocks: list[Block]):
        super().__init__()
        net = blocks[0]
        self.net = NetConfig(
            net.get_int("width", 416), net.get_int("height", 416), net.get_int("channels", 3)
        )
        self.layers = nn.ModuleList()
        self.class_count = 0
        channels: list[int] = []  # output channels of each layer so far
        c = self.net.channels
        for i, block in enumerate(blocks[1:]):
            layer, c = self._make_layer(i, block, c, channels)
            self.layers.append(layer)
            channels.append(c)
        if not any(isinstance(m, YoloHead) for m in self.layers):
            raise DarknetError("the cfg has no [yolo] layer, so there is nothing to detect")

    def _make_layer(self, i: int, block: Block, c: int, channels: list[int]):
        where = f"layer {i} [{block.kind}] (cfg line {block.line})"

        def absolute(index: int) -> int:
            j = index + i if index < 0 else index
            if not 0 <= j < i:
                raise DarknetError(f"refers to layer {index}, which does not exist")
            return j

        try:
            if block.kind in ("convolutional", "conv"):
                layer = ConvLayer(c, block)
                return layer, layer.conv.out_channels
            if block.kind in ("maxpool", "max"):
                return MaxPoolLayer(block), c
            if block.kind == "route":
                sources = [absolute(j) for j in block.get_ints("layers")]
                groups, group_id = block.get_int("groups", 1), block.get_int("group_id", 0)
                out = sum(channels[j] // groups for j in sources)
                return RouteLayer(sources, groups, group_id), out
            if block.kind == "upsample":
                return UpsampleLayer(block.get_int("stride", 2)), c
            if block.kind == "shortcut":
                source = absolute(block.get_int("from"))
                if channels[source] != c:
                    raise DarknetError(f"adds {channels[source]} to {c} channels")
                return ShortcutLayer(source, block.get_str("activation", "linear")), c
            if block.kind in ("yolo", "region"):
                return self._make_yolo(block, c), c
        except (ValueError, TypeError) as exc:  # DarknetError is a ValueError too
            raise DarknetError(f"{where}: {exc}") from exc
        raise DarknetError(f"{where}: unsupported layer type [{block.kind}]")

    def _make_yolo(self, block: Block, c: int) -> YoloHead:
        if block.kind == "region":
            raise DarknetError("YOLOv2 [region] layers are not supported")
        pairs = block.get_ints("anchors")
        anchors = list(zip(pairs[0::2], pairs[1::2], strict=True))
        mask = block.get_ints("mask", ",".join(str(k) for k in range(len(anchors))))
        classes = block.get_int("classes", 20)
        if self.class_count and classes != self.class_count:
            raise DarknetError(f"{classes} classes, earlier heads have {self.class_count}")
        self.class_count = classes
        if c != len(mask) * (5 + classes):
            raise DarknetError(
                f"gets {c} channels, needs {len(mask)} anchors x (5 + {classes} classes)"
            )
        masked = [(float(anchors[k][0]), float(anchors[k][1])) for k in mask]
        return YoloHead(masked, classes, self.net, block.get_float("scale_x_y", 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 3, net.height, net.width), RGB in 0..1
        outputs: list[torch.Tensor] = []
        heads: list[torch.Tensor] = []
        for layer in self.layers:
            if isinstance(layer, RouteLayer):
                x = layer(outputs)
            elif isinstance(layer, ShortcutLayer):
                x = layer(x, outputs)
            elif isinstance(layer, YoloHead):
                heads.append(layer(x))  # (B, H*W*A, 5+C); x passes through unchanged
            else:
                x = layer(x)
            outputs.append(x)
        return torch.cat(heads, dim=1)  # (B, N, 5+C)


# ----------------------------------------------------------------------------- weights


def read_weights_header(data: bytes) -> tuple[tuple[int, int, int], int, int]:
    """(major, minor, revision), images seen in training, and the header's size in bytes."""
    if len(data) < 16:
        raise DarknetError(f"weights file is {len(data)} bytes, too short for a Darknet header")
    major, minor, revision = (int(v) for v in np.frombuffer(data, np.int32, 3))
    if major * 10 + minor >= 2 and major < 1000 and minor < 1000:
        return (major, minor, revision), int(np.frombuffer(data, np.int64, 1, 12)[0]), 20
    return (major, minor, revision), int(np.frombuffer(data, np.int32, 1, 12)[0]), 16


def load_weights(model: Darknet, data: bytes) -> None:
    """Copy Darknet weights into `model`, folding each batch norm into its conv.

    Per conv layer the file holds: bias (the BN beta when there is BN), then with BN the
    scale (gamma), rolling mean and rolling variance, then the kernel in (O, I/groups, H, W).
    """
    _, _, offset = read_weights_header(data)
    floats = np.frombuffer(data, np.float32, offset=offset, count=(len(data) - offset) // 4)
    pos = 0

    def take(n: int, what: str, index: int) -> torch.Tensor:
        nonlocal pos
        if pos + n > len(floats):
            raise DarknetError(
                f"weights file ends inside conv layer {index} ({what}: needs {n} floats, "
                f"{len(floats) - pos} left): the file is truncated or belongs to another cfg"
            )
        pos += n
        return torch.from_numpy(floats[pos - n : pos].copy())

    for index, layer in enumerate(model.layers):
        if not isinstance(layer, ConvLayer):
            continue
        conv = layer.conv
        out = conv.out_channels
        bias = take(out, "bias", index)
        if layer.batch_normalize:
            scale = take(out, "bn scale", index)
            mean = take(out, "bn mean", index)
            var = take(out, "bn variance", index)
            factor = scale / (var.sqrt() + DARKNET_BN_EPS)  # (O,)
            bias = bias - mean * factor
        else:
            factor = torch.ones(out)
        weight = take(conv.weight.numel(), "kernel", index).view_as(conv.weight)
        with torch.no_grad():
            conv.weight.copy_(weight * factor.view(-1, 1, 1, 1))
            conv.bias.copy_(bias)
    left = len(floats) - pos
    if left:
        raise DarknetError(f"weights file has {left} floats left over: it belongs to another cfg")


def load_darknet(cfg: str | Path, weights: str | Path | None = None) -> Darknet:
    """Build the model a cfg file describes, with its weights when given; in eval mode."""
    model = Darknet(parse_cfg(Path(cfg).read_text()))
    if weights is not None:
        load_weights(model, Path(weights).read_bytes())
    return model.eval()
