"""Fixtures for the style-transfer tests: tiny VGG-shaped nets and small pictures."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from styletransfer.vgg import VGGFeatures


@pytest.fixture
def tiny_net() -> VGGFeatures:
    """A randomly initialised VGG19-shaped trunk, narrow enough to run in milliseconds."""
    torch.manual_seed(0)
    return VGGFeatures("relu5_1", widths=(8, 16, 16, 32, 32))


def _picture(seed: int, base: tuple[int, int, int], size=(48, 32)) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    wave = np.sin(x * rng.uniform(0.2, 0.8) + y * rng.uniform(0.2, 0.8))[..., None]
    array = np.clip(np.array(base) + 60 * wave + rng.normal(0, 10, (h, w, 3)), 0, 255)
    return Image.fromarray(array.astype(np.uint8), "RGB")


@pytest.fixture
def photo() -> Image.Image:
    """A greenish 48x32 'photo' with a gentle pattern."""
    return _picture(1, (70, 150, 90))


@pytest.fixture
def red_painting() -> Image.Image:
    return _picture(2, (200, 50, 40), (40, 40))


@pytest.fixture
def blue_painting() -> Image.Image:
    return _picture(3, (40, 60, 200), (40, 40))


@pytest.fixture(scope="session")
def torchvision_vgg_file(tmp_path_factory) -> Path:
    """A randomly initialised VGG19 saved the way torchvision's weight file is laid out."""
    torch.manual_seed(0)
    features = torchvision.models.vgg19(weights=None).features
    path = tmp_path_factory.mktemp("weights") / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return path
