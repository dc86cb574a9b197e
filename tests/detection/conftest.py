"""A tiny Darknet model written by hand in Darknet's own file formats, and the real one."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from detection.modelcard import MODELS
from webapp.modelfiles import ModelFileError, model_path

# Every layer type we support that OpenCV's Darknet importer also reads. 32x32 input.
TINY_CFG = """\
[net]
width=32
height=32
channels=3

# 0: 8x32x32
[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

# 1: 8x16x16
[maxpool]
size=2
stride=2

# 2: 16x16x16
[convolutional]
batch_normalize=1
filters=16
size=3
stride=1
pad=1
activation=mish

# 3: second half of the channels, 8x16x16
[route]
layers=-1
groups=2
group_id=1

# 4: 8x16x16
[convolutional]
batch_normalize=1
filters=8
size=1
stride=1
pad=1
activation=leaky

# 5: 4 + 3
[shortcut]
from=-2
activation=linear

# 6: 5 and 2, 24x16x16
[route]
layers=-1,-4

# 7: keeps 16x16
[maxpool]
size=2
stride=1

# 8: 16x8x8
[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=leaky

# 9: 3 anchors x (5 + 2 classes)
[convolutional]
size=1
stride=1
pad=1
filters=21
activation=linear

# 10
[yolo]
mask=3,4,5
anchors=4,5, 8,9, 12,10, 16,20, 20,14, 30,28
classes=2
num=6
scale_x_y=1.05
thresh=0

# 11: layer 8
[route]
layers=-3

# 12: 16x16x16
[upsample]
stride=2

# 13: 12 and 6, 40x16x16
[route]
layers=-1,6

# 14
[convolutional]
size=1
stride=1
pad=1
filters=21
activation=linear

# 15
[yolo]
mask=0,1,2
anchors=4,5, 8,9, 12,10, 16,20, 20,14, 30,28
classes=2
num=6
thresh=0
"""

# (filters, input channels, kernel size, batch norm) of each conv above, in cfg order.
TINY_CONVS = [(8, 3, 3, True), (16, 8, 3, True), (8, 8, 1, True), (16, 24, 3, True),
              (21, 16, 1, False), (21, 40, 1, False)]  # fmt: skip

def _conv(filters: int, size: int, stride: int = 1, activation: str = "leaky", bn: bool = True):
    return (f"[convolutional]\n{'batch_normalize=1' + chr(10) if bn else ''}filters={filters}\n"
            f"size={size}\nstride={stride}\npad=1\nactivation={activation}\n")  # fmt: skip


def _yolo(mask: str, scale_x_y: float) -> str:
    return (f"[yolo]\nmask={mask}\nanchors=4,5, 8,9, 12,10, 16,20, 20,14, 30,28, 40,36, 50,60, "
            f"62,58\nclasses=2\nnum=9\nscale_x_y={scale_x_y}\nthresh=0\n")  # fmt: skip


# What the full-size YOLOv4 adds, small: SPP (stride-1 max pools of 5, 9 and 13 on one
# output, concatenated), mish, CSP-style route groups and three detection scales
# (16x16, 32x32, 64x64 at a 64x64 input), each head with its own scale_x_y.
FULL_CFG = "\n".join([
    "[net]\nwidth=64\nheight=64\nchannels=3\n",
    _conv(8, 3, activation="mish"),  # 0: 8x64x64
    _conv(16, 3, 2, "mish"),  # 1: 16x32x32
    "[route]\nlayers=-1\ngroups=2\ngroup_id=1\n",  # 2: 8x32x32
    _conv(8, 1, activation="mish"),  # 3
    "[shortcut]\nfrom=-2\nactivation=linear\n",  # 4: 3 + 2
    "[route]\nlayers=-1,-4\n",  # 5: 4 and 1, 24x32x32
    _conv(16, 3, 2),  # 6: 16x16x16
    "[maxpool]\nstride=1\nsize=5\n",  # 7
    "[route]\nlayers=-2\n",  # 8
    "[maxpool]\nstride=1\nsize=9\n",  # 9
    "[route]\nlayers=-4\n",  # 10
    "[maxpool]\nstride=1\nsize=13\n",  # 11
    "[route]\nlayers=-1,-3,-5,-6\n",  # 12: SPP, 64x16x16
    _conv(16, 1),  # 13
    _conv(21, 1, activation="linear", bn=False),  # 14
    _yolo("6,7,8", 1.05),  # 15: 16x16
    "[route]\nlayers=-3\n",  # 16: layer 13
    "[upsample]\nstride=2\n",  # 17: 16x32x32
    "[route]\nlayers=-1,5\n",  # 18: 40x32x32
    _conv(21, 1, activation="linear", bn=False),  # 19
    _yolo("3,4,5", 1.1),  # 20: 32x32
    "[route]\nlayers=-3\n",  # 21: layer 18
    "[upsample]\nstride=2\n",  # 22: 40x64x64
    "[route]\nlayers=-1,0\n",  # 23: 48x64x64
    _conv(21, 1, activation="linear", bn=False),  # 24
    _yolo("0,1,2", 1.2),  # 25: 64x64
])  # fmt: skip
FULL_CONVS = [(8, 3, 3, True), (16, 8, 3, True), (8, 8, 1, True), (16, 24, 3, True),
              (16, 64, 1, True), (21, 16, 1, False), (21, 40, 1, False),
              (21, 48, 1, False)]  # fmt: skip


def write_weights(path: Path, convs, seed: int = 0, version=(0, 2, 0), variance=(0.5, 2.0)) -> None:
    """Random weights in Darknet's layout: header, then per conv bias, [BN], kernel."""
    rng = np.random.default_rng(seed)
    major, minor, revision = version
    seen = struct.pack("<q", 64000) if major * 10 + minor >= 2 else struct.pack("<i", 64000)
    parts = [struct.pack("<3i", major, minor, revision) + seen]
    for filters, c_in, size, bn in convs:
        fan_in = c_in * size * size
        parts.append(rng.normal(0, 0.1, filters))  # bias / BN beta
        if bn:
            parts.append(rng.uniform(0.5, 1.5, filters))  # scale
            parts.append(rng.normal(0, 0.1, filters))  # rolling mean
            parts.append(rng.uniform(*variance, filters))  # rolling variance
        parts.append(rng.normal(0, 1 / np.sqrt(fan_in), filters * fan_in))
    path.write_bytes(
        b"".join(p if isinstance(p, bytes) else p.astype("<f4").tobytes() for p in parts)
    )


@pytest.fixture
def tiny_files(tmp_path: Path) -> tuple[Path, Path]:
    """The tiny cfg and random weights for it, as files."""
    cfg, weights = tmp_path / "tiny.cfg", tmp_path / "tiny.weights"
    cfg.write_text(TINY_CFG)
    write_weights(weights, TINY_CONVS)
    return cfg, weights


@pytest.fixture(scope="session")
def real_files() -> tuple[Path, Path, Path]:
    """YOLOv3-tiny cfg, weights and COCO names; skips when they have not been fetched."""
    try:
        return tuple(
            model_path(n) for n in ("yolov3-tiny.cfg", "yolov3-tiny.weights", "coco.names")
        )
    except ModelFileError as exc:
        pytest.skip(str(exc))


def installed_model(key: str) -> tuple[Path, Path, Path]:
    """Model `key`'s cfg, weights and names; skips when they have not been fetched."""
    card = MODELS[key]
    try:
        return tuple(model_path(n) for n in (card.cfg, card.weights, card.names))
    except ModelFileError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session", params=list(MODELS))
def each_model(request) -> tuple[str, tuple[Path, Path, Path]]:
    """Every model we offer: (key, its files); skips the ones not fetched."""
    return request.param, installed_model(request.param)
