"""Datasets for the tasks beyond classification, made on the fly from a seed (offline):

- "boxes" (localise): one circle, square, triangle or cross on clutter (stray lines, dots,
  a brightness gradient, noise), with its box [class, x0, y0, x1, y1] in pixels.
- "faces" (landmarks): a drawn face (an oval, two eyes, a mouth) of random size, place
  and tilt on clutter, with 3 points: left eye, right eye, mouth centre, in pixels.
- "overlaps" (segment): two to four circles, squares and triangles overlapping on a noisy
  background, with the class of every pixel (0 = background; later shapes cover earlier).
- "digits_heldout", "mnist5k_heldout" (verify): real digits; the net trains on 0–6 and is
  judged on 7, 8 and 9, identities it never saw.

Every picture is 1×32×32 in [0, 1] (the digits keep their size); box corners are
exclusive (x1 = last column + 1), points are pixel centres.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from playground.classfolders import UPLOAD
from playground.datasets import (
    Dataset,
    DatasetError,
    dataset_from_zip,
    dataset_load,
    mnist5k_arrays,
    split,
)
from playground.labelzips import labelled_zip_read
from playground.limits import LIMITS, Limits
from playground.taskcatalogue import SCENES, TASK_DATA
from webapp.pictures import UploadError, UploadLimits

SIDE = 32
SHAPES = ["circle", "square", "triangle", "cross"]
POINTS = ["left eye", "right eye", "mouth"]
HELD_OUT = (7, 8, 9)  # verification: digit classes never trained on


def _grid() -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    return rows, cols


def shape_mask(kind: int, cy: float, cx: float, r: float) -> np.ndarray:
    """A filled circle, square, triangle (apex up) or cross as an H×W boolean map."""
    rows, cols = _grid()
    dy, dx = rows - cy, cols - cx
    if kind == 0:
        return dy**2 + dx**2 <= r**2
    if kind == 1:
        return (abs(dy) <= r) & (abs(dx) <= r)
    if kind == 2:
        return (dy >= -r) & (dy <= r) & (abs(dx) <= (dy + r) / 2)
    thin = r / 3
    return ((abs(dy) <= r) & (abs(dx) <= thin)) | ((abs(dx) <= r) & (abs(dy) <= thin))


def clutter(rng: np.random.Generator) -> np.ndarray:
    """A dim background: a brightness gradient, a few stray lines and dots."""
    rows, cols = _grid()
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * cols + np.sin(angle) * rows) / SIDE
    x = rng.uniform(0.05, 0.2) + 0.1 * ramp
    for _ in range(rng.integers(2, 5)):  # stray lines
        a, c = rng.uniform(0, np.pi), rng.uniform(0, SIDE, 2)
        distance = abs((cols - c[0]) * np.sin(a) - (rows - c[1]) * np.cos(a))
        x = np.where(distance < 0.6, rng.uniform(0.3, 0.5), x)
    for _ in range(rng.integers(3, 8)):  # dots
        y0, x0 = rng.integers(0, SIDE, 2)
        x[y0, x0] = rng.uniform(0.3, 0.6)
    return x


def _finish(pictures: list[np.ndarray], rng: np.random.Generator) -> torch.Tensor:
    x = np.stack(pictures) + rng.normal(0, 0.04, (len(pictures), SIDE, SIDE))
    return torch.tensor(np.clip(x, 0, 1), dtype=torch.float32)[:, None]  # (N, 1, H, W)


def make_boxes(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pictures (N, 1, 32, 32) and targets (N, 5): class, x0, y0, x1, y1 in pixels."""
    rng = np.random.default_rng(seed)
    pictures, targets = [], []
    for _ in range(n):
        kind = int(rng.integers(0, len(SHAPES)))
        r = rng.uniform(4, 10)
        cy, cx = rng.uniform(r, SIDE - 1 - r, 2)
        mask = shape_mask(kind, cy, cx, r)
        picture = clutter(rng)
        picture[mask] = rng.uniform(0.65, 1.0)
        rows, cols = np.nonzero(mask)
        pictures.append(picture)
        targets.append([kind, cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
    return _finish(pictures, rng), torch.tensor(targets, dtype=torch.float32)


def make_faces(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pictures (N, 1, 32, 32) and points (N, 6): left eye, right eye, mouth as x, y."""
    rng = np.random.default_rng(seed)
    rows, cols = _grid()
    pictures, targets = [], []
    for _ in range(n):
        size = rng.uniform(7, 11)  # the face's half height
        cx, cy = rng.uniform(size, SIDE - 1 - size, 2)
        tilt = np.radians(rng.uniform(-25, 25))
        cos, sin = np.cos(tilt), np.sin(tilt)
        # the face's own coordinates of every pixel: u across, v down
        u = (cols - cx) * cos + (rows - cy) * sin
        v = -(cols - cx) * sin + (rows - cy) * cos
        picture = clutter(rng)
        picture[(u / (0.8 * size)) ** 2 + (v / size) ** 2 <= 1] = rng.uniform(0.7, 0.95)
        dark = rng.uniform(0.0, 0.15)
        eye_r = max(1.1, 0.14 * size)
        features = [(-0.38 * size, -0.25 * size), (0.38 * size, -0.25 * size), (0, 0.45 * size)]
        for fu, fv in features[:2]:
            picture[(u - fu) ** 2 + (v - fv) ** 2 <= eye_r**2] = dark
        mouth = (abs(u) <= 0.35 * size) & (abs(v - features[2][1]) <= 0.8)
        picture[mouth] = dark
        points = []
        for fu, fv in features:  # back to picture coordinates
            points += [cx + fu * cos - fv * sin, cy + fu * sin + fv * cos]
        pictures.append(picture)
        targets.append(points)
    return _finish(pictures, rng), torch.tensor(targets, dtype=torch.float32)


def make_overlaps(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Pictures (N, 1, 32, 32) and class maps (N, 32, 32): 0 background, 1 circle,
    2 square, 3 triangle."""
    rng = np.random.default_rng(seed)
    pictures, masks = [], []
    for _ in range(n):
        picture = rng.uniform(0.0, 0.25) + np.zeros((SIDE, SIDE))
        classes = np.zeros((SIDE, SIDE), dtype=np.int64)
        for _ in range(rng.integers(2, 5)):
            kind = int(rng.integers(0, 3))
            r = rng.uniform(4, 9)
            cy, cx = rng.uniform(r * 0.5, SIDE - 1 - r * 0.5, 2)
            mask = shape_mask(kind, cy, cx, r)
            picture[mask] = rng.uniform(0.45, 1.0)
            classes[mask] = kind + 1
        pictures.append(picture)
        masks.append(classes)
    return _finish(pictures, rng), torch.tensor(np.stack(masks))


def _held_out(
    name: str, x: torch.Tensor, y: torch.Tensor, seed: int, max_samples: int | None
) -> Dataset:
    """Train on every class but HELD_OUT; validate on HELD_OUT only, shuffled."""
    g = torch.Generator().manual_seed(seed)
    if max_samples and max_samples < len(y):  # a random subset keeps every class
        keep = torch.randperm(len(y), generator=g)[:max_samples]
        x, y = x[keep], y[keep]
    held = torch.isin(y, torch.tensor(HELD_OUT))
    train = (~held).nonzero().flatten()
    val = held.nonzero().flatten()
    train = train[torch.randperm(len(train), generator=g)]
    val = val[torch.randperm(len(val), generator=g)]
    return Dataset(name, [str(d) for d in range(10)], x[train], y[train], x[val], y[val])


def scene_load(
    name: str,
    *,
    val_fraction: float = 0.2,
    seed: int = 0,
    max_samples: int | None = None,
    limits: Limits = LIMITS,
) -> Dataset:
    """A task's built-in dataset by name (see SCENES)."""
    n = min(max_samples or 2000, limits.max_dataset_samples)
    if name == "boxes":
        x, y = make_boxes(n, seed)
        return split(name, list(SHAPES), x, y, val_fraction, seed)
    if name == "faces":
        x, y = make_faces(n, seed)
        return split(name, list(POINTS), x, y, val_fraction, seed)
    if name == "overlaps":
        x, y = make_overlaps(n, seed)
        return split(name, ["background", *SHAPES[:3]], x, y, val_fraction, seed)
    if name == "digits_heldout":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.tensor(digits.images / 16.0, dtype=torch.float32)[:, None]  # (1797, 1, 8, 8)
        return _held_out(name, x, torch.tensor(digits.target), seed, max_samples)
    if name == "mnist5k_heldout":
        pictures, labels = mnist5k_arrays()
        x = torch.tensor(pictures, dtype=torch.float32)[:, None] / 255
        return _held_out(name, x, torch.tensor(labels), seed, max_samples)
    raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(SCENES)}")


def labelled_dataset(
    data: bytes,
    *,
    task: str,
    image_size: int,
    val_fraction: float,
    seed: int,
    limits: UploadLimits,
) -> Dataset:
    """An uploaded zip of pictures with boxes, points or masks (playground/labelzips.py)."""
    try:
        pictures, targets, names = labelled_zip_read(
            data, task=task, image_size=image_size, limits=limits
        )
    except UploadError as exc:
        raise DatasetError(str(exc)) from None
    x = torch.from_numpy(pictures).permute(0, 3, 1, 2).float().div_(255)  # (N, C, S, S)
    y = torch.from_numpy(targets)
    y = y.long() if task == "segment" else y.float()
    return split("upload", list(names), x.contiguous(), y, val_fraction, seed)


# How each kind of task data (taskcatalogue.TASK_DATA) loads: (a built-in dataset by
# name, an uploaded zip's bytes).
_LOADERS: dict[str, tuple[Callable[..., Dataset], Callable[..., Dataset]]] = {
    "folders": (dataset_load, lambda data, *, task, **rest: dataset_from_zip(data, **rest)),
    "scenes": (scene_load, labelled_dataset),
}


def task_dataset(
    task: str,
    name: str,
    *,
    read_zip: Callable[[], bytes],
    zip_limits: UploadLimits,
    image_size: int = 32,
    val_fraction: float = 0.2,
    seed: int = 0,
    max_samples: int | None = None,
) -> Dataset:
    """The dataset `name` of a task: a built-in one, or (UPLOAD) the zip `read_zip` gives,
    decoded at `image_size` under `zip_limits`, loaded as the task's kind of data."""
    builtin, upload = _LOADERS[TASK_DATA[task]]
    if name == UPLOAD:
        return upload(read_zip(), task=task, image_size=image_size, val_fraction=val_fraction,
                      seed=seed, limits=zip_limits)  # fmt: skip
    return builtin(name, val_fraction=val_fraction, seed=seed, max_samples=max_samples)
