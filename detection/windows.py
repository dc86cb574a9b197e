"""Sliding windows against the convolutional pass (course W3, "convolutional implementation
of sliding windows"), on the real model.

YOLO's coarsest head predicts one S x S grid (13 x 13 at 416: a cell every 32 pixels).
The same predictions can be had the slow way: for every cell, crop a window of the
letterboxed input centred on that cell, run the network on the crop alone and keep the
centre cell of its (smaller) grid. The convolutional pass shares all the overlapping work
in one run. `compare` does both and returns, per cell, the objectness and best class of
each way, and the cost of each: wall time measured here and multiply-adds counted from
the conv layers' shapes.

The two maps agree where a window holds all the context the net uses for that cell; a
cell's receptive field in YOLOv3-tiny is far wider than any small window, so they differ
more near objects cut by the window's edge – which is the course's point about
choosing the window (and why the conv pass is the one to use).
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from detection.darknet import YoloHead
from detection.yolo import Detector

WINDOWS = (96, 160, 224)  # window sides, odd multiples of the 32-pixel stride
DEFAULT_WINDOW = 160


def conv_macs(detector: Detector, width: int, height: int) -> int:
    """Multiply-adds of every conv layer for one (width x height) input, from the shapes
    a forward pass produces (batch norm, activations, pooling and decoding not counted)."""
    total = 0

    def count(module: torch.nn.Conv2d, _args, out: torch.Tensor) -> None:
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1]
        total += out[0].numel() * (module.in_channels // module.groups) * k

    convs = [m for m in detector.model.modules() if isinstance(m, torch.nn.Conv2d)]
    hooks = [m.register_forward_hook(count) for m in convs]
    try:
        with torch.inference_mode():
            x = torch.zeros(1, 3, height, width, device=detector.device, dtype=detector.dtype)
            detector.model(x.contiguous(memory_format=torch.channels_last))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def _head_maps(detector: Detector, rows: torch.Tensor, grid: tuple[int, int], anchors: int):
    """(objectness (H, W), best class id (H, W), its score (H, W)) of the first head."""
    H, W = grid
    first = rows[: H * W * anchors].view(H, W, anchors, -1).float()
    scores = first[..., 5:] * first[..., 4:5]  # (H, W, A, C)
    best_score, best_class = scores.max(dim=3)  # over classes: (H, W, A)
    score, anchor = best_score.max(dim=2)  # over anchors: (H, W)
    cls = best_class.gather(2, anchor.unsqueeze(2)).squeeze(2)
    return first[..., 4].amax(dim=2), cls, score


def compare(
    detector: Detector, image: Image.Image, *, window: int = DEFAULT_WINDOW, batch: int = 32
) -> dict[str, Any]:
    """Both ways over the first head's grid (see the module's docstring)."""
    head = next(m for m in detector.model.layers if isinstance(m, YoloHead))
    anchors = len(head.anchors)
    net_w, net_h = detector.net_size
    stride = 32
    if window % stride or (window // stride) % 2 == 0:
        raise ValueError(f"a window must be an odd multiple of {stride} pixels, not {window}")
    picture, _ = detector.preprocess([image])  # (1, 3, H, W) letterboxed
    grid = (net_h // stride, net_w // stride)

    detector.forward(picture)  # warm up (first-call allocations), not timed
    conv_s = float("inf")
    for _ in range(3):  # the best of three: the machine is shared
        started = time.perf_counter()
        rows = detector.forward(picture)[0]
        conv_s = min(conv_s, time.perf_counter() - started)
    conv_obj, conv_cls, conv_score = _head_maps(detector, rows, grid, anchors)

    # Every window, centred on a cell: pad with Darknet's grey so edge cells get windows too.
    half = window // 2 - stride // 2
    padded = F.pad(picture, (half, half, half, half), value=0.5)
    cells = [(r, c) for r in range(grid[0]) for c in range(grid[1])]
    small = window // stride
    centre = small // 2
    win_obj = torch.zeros(grid)
    win_cls = torch.zeros(grid, dtype=torch.long)
    win_score = torch.zeros(grid)
    detector.forward(padded[:, :, :window, :window])  # warm up at the window's size
    started = time.perf_counter()
    for start in range(0, len(cells), batch):
        chunk = cells[start : start + batch]
        crops = torch.cat(
            [padded[:, :, r * stride : r * stride + window, c * stride : c * stride + window]
             for r, c in chunk]
        )  # fmt: skip
        out = detector.forward(crops)
        for (r, c), crop_rows in zip(chunk, out, strict=True):
            obj, cls, score = _head_maps(detector, crop_rows, (small, small), anchors)
            win_obj[r, c], win_cls[r, c] = obj[centre, centre], cls[centre, centre]
            win_score[r, c] = score[centre, centre]
    windows_s = time.perf_counter() - started

    conv_mac = conv_macs(detector, net_w, net_h)
    window_mac = conv_macs(detector, window, window) * len(cells)
    names = detector.class_names
    same_class = (conv_cls == win_cls) | ((conv_score < 0.05) & (win_score < 0.05))

    def grid_doc(obj, cls, score) -> dict[str, Any]:
        return {
            "objectness": [round(v, 3) for v in obj.flatten().tolist()],
            "class": [names[i] for i in cls.flatten().tolist()],
            "score": [round(v, 3) for v in score.flatten().tolist()],
        }

    return {
        "grid": list(grid),
        "stride": stride,
        "window": window,
        "windows": len(cells),
        "conv": {**grid_doc(conv_obj, conv_cls, conv_score), "seconds": conv_s, "macs": conv_mac},
        "sliding": {**grid_doc(win_obj, win_cls, win_score), "seconds": windows_s,
                    "macs": window_mac, "batch": batch},  # fmt: skip
        "speedup": windows_s / conv_s if conv_s > 0 else None,
        "mac_ratio": window_mac / conv_mac,
        "max_objectness_gap": float((conv_obj - win_obj).abs().max()),
        "same_best": float(same_class.float().mean()),
    }
