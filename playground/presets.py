"""Classic nets from the course, scaled down to the playground's small pictures.

Each preset is a function of the input shape (C, H, W): the layer pattern is the
classic one, and the number of pooling stages (or the padding) adapts so that the net
fits 8×8 digits as well as 28×28 and 32×32 pictures.
"""

import math
from collections.abc import Callable

Shape = tuple[int, ...]


def _conv(filters: int, kernel: int = 3, stride: int = 1, padding: int = 1) -> dict:
    return {
        "type": "conv2d",
        "filters": filters,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
    }


def _pool(kind: str = "maxpool", kernel: int = 2) -> dict:
    return {"type": kind, "kernel": kernel, "stride": kernel}


def _pools_that_fit(side: int, wanted: int) -> int:
    """How many 2×2 poolings (up to `wanted`) leave the picture at least 2 pixels wide."""
    n = 0
    while n < wanted and side // 2 ** (n + 1) >= 2:
        n += 1
    return n


def lenet5(shape: Shape) -> list[dict]:
    """LeCun 1998: conv 5×5 → avg pool → conv 5×5 → avg pool → 120 → 84, tanh throughout.

    On 28×28 the first conv pads by 2 (as the MNIST version did) so both nets end at 16×5×5;
    on pictures under 28 the 5×5 kernels become padded 3×3s.
    """
    side = min(shape[1:])
    if side >= 28:
        first, second = _conv(6, 5, padding=2 if side < 32 else 0), _conv(16, 5, padding=0)
    else:
        first, second = _conv(6, 3), _conv(16, 3)
    return [
        first, {"type": "tanh"}, _pool("avgpool"),
        second, {"type": "tanh"}, _pool("avgpool"),
        {"type": "flatten"},
        {"type": "linear", "units": 120}, {"type": "tanh"},
        {"type": "linear", "units": 84}, {"type": "tanh"},
    ]  # fmt: skip


def alexnet_small(shape: Shape) -> list[dict]:
    """AlexNet's pattern: a wide first conv, ReLU, max pooling, three 3×3 convs, dropout FCs."""
    pools = _pools_that_fit(min(shape[1:]), 3)
    first = _conv(32, 5, padding=2) if min(shape[1:]) >= 16 else _conv(32, 3)
    layers = [first, {"type": "relu"}] + ([_pool()] if pools >= 1 else [])
    layers += [_conv(64), {"type": "relu"}] + ([_pool()] if pools >= 2 else [])
    layers += [
        _conv(96),
        {"type": "relu"},
        _conv(96),
        {"type": "relu"},
        _conv(64),
        {"type": "relu"},
    ]
    layers += [_pool()] if pools >= 3 else []
    return layers + [
        {"type": "flatten"},
        {"type": "dropout", "p": 0.5}, {"type": "linear", "units": 256}, {"type": "relu"},
        {"type": "dropout", "p": 0.5}, {"type": "linear", "units": 256}, {"type": "relu"},
    ]  # fmt: skip


def vgg_small(shape: Shape) -> list[dict]:
    """VGG: only 3×3 convs with padding 1, two per stage, channels doubling after each pool."""
    layers: list[dict] = []
    for stage in range(_pools_that_fit(min(shape[1:]), 3)):
        width = 32 * 2**stage
        layers += [_conv(width), {"type": "relu"}, _conv(width), {"type": "relu"}, _pool()]
    return layers + [{"type": "flatten"}, {"type": "linear", "units": 256}, {"type": "relu"}]


def _deep_plain(shape: Shape, block: list[dict]) -> list[dict]:
    layers = [_conv(16)] + block  # the input stem, then 7 more identical layers
    for _ in range(7):
        layers += [_conv(16)] + block
    pools = _pools_that_fit(min(shape[1:]), 2)
    return layers + [_pool()] * pools + [{"type": "flatten"}]


def deep_sigmoid(shape: Shape) -> list[dict]:
    """Eight 3×3 convs with sigmoids: σ' ≤ 1/4, so early layers' gradients vanish."""
    return _deep_plain(shape, [{"type": "sigmoid"}])


def deep_relu_bn(shape: Shape) -> list[dict]:
    """The same eight convs with batch norm and ReLU: gradients reach the first layer."""
    return _deep_plain(shape, [{"type": "batchnorm"}, {"type": "relu"}])


def resnet_small(shape: Shape) -> list[dict]:
    """A ResNet for small pictures: a 3×3 stem, three stages of two residual blocks, GAP."""
    return [
        _conv(16), {"type": "batchnorm"}, {"type": "relu"},
        {"type": "residual", "filters": 16}, {"type": "residual", "filters": 16},
        {"type": "residual", "filters": 32, "stride": 2}, {"type": "residual", "filters": 32},
        {"type": "residual", "filters": 64, "stride": 2}, {"type": "residual", "filters": 64},
        {"type": "globalavgpool"},
    ]  # fmt: skip


def inception_small(shape: Shape) -> list[dict]:
    """A stem and two Inception blocks (64 then 96 channels) with pooling between, then GAP."""
    pools = _pools_that_fit(min(shape[1:]), 2)
    block_a = {
        "type": "inception",
        "c1": 16,
        "c3_reduce": 16,
        "c3": 24,
        "c5_reduce": 8,
        "c5": 8,
        "pool_proj": 16,
    }
    block_b = {
        "type": "inception",
        "c1": 32,
        "c3_reduce": 24,
        "c3": 32,
        "c5_reduce": 8,
        "c5": 16,
        "pool_proj": 16,
    }
    layers = [_conv(32), {"type": "batchnorm"}, {"type": "relu"}] + [_pool()] * (pools >= 1)
    layers += [block_a] + [_pool()] * (pools >= 2) + [block_b]
    return layers + [{"type": "globalavgpool"}]


PRESETS: dict[str, Callable[[Shape], list[dict]]] = {
    "lenet5": lenet5,
    "alexnet_small": alexnet_small,
    "vgg_small": vgg_small,
    "deep_sigmoid": deep_sigmoid,
    "deep_relu_bn": deep_relu_bn,
    "resnet_small": resnet_small,
    "inception_small": inception_small,
}


# The training settings each preset trains well with; the builder fills them in and
# `manage.py train --preset` uses them unless told otherwise. Measured on MNIST-5k
# (4,000 to train, 1,000 held out): see docs/benchmarks-playground.md. Augmentation is
# stated for 28-pixel pictures and scaled to the picture's side by `training`.
_NO_AUGMENT = {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0, "color": 0.0}
_DIGIT_JITTER = {**_NO_AUGMENT, "rotate": 10.0, "shift": 2}  # small moves keep a digit a digit
AUGMENT_SIDE = 28  # the picture side the augmentation above is tuned for

TRAINING: dict[str, dict] = {
    "lenet5": {"optimizer": "adam", "lr": 3e-3, "batch_size": 32, "epochs": 20,
               "schedule": "cosine", "augment": _DIGIT_JITTER},
    "alexnet_small": {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 15,
                      "schedule": "cosine", "augment": _DIGIT_JITTER},
    "vgg_small": {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 15,
                  "schedule": "cosine", "augment": _DIGIT_JITTER},
    # the two deep plain nets are a lesson about gradients: same settings, so only the
    # layers differ between them
    "deep_sigmoid": {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 10,
                     "augment": _NO_AUGMENT},
    "deep_relu_bn": {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 10,
                     "augment": _NO_AUGMENT},
    "resnet_small": {"optimizer": "adam", "lr": 2e-3, "batch_size": 64, "epochs": 15,
                     "schedule": "cosine", "augment": _DIGIT_JITTER},
    # 25 epochs: after 15 it was still learning (MNIST-5k: train 95 %, validation 94.7 %)
    "inception_small": {"optimizer": "adam", "lr": 2e-3, "batch_size": 64, "epochs": 25,
                        "schedule": "cosine", "augment": _DIGIT_JITTER},
}  # fmt: skip


def augment_for_side(augment: dict, side: int) -> dict:
    """Augmentation stated for AUGMENT_SIDE-pixel pictures, scaled to `side` pixels: each
    move shrinks with the side (never grows), and a move of under one whole pixel is left
    out – it would only blur strokes one or two pixels wide. The shift is rounded down
    (±2 at 28 px is ±1 at 16, none on the 8×8 digits); the rotation is kept while it
    moves the picture's edge (side/2 from the centre) by a pixel or more (±10° at 28 px
    moves it 2.4 px; at 16 px the scaled ±5.7° would move it 0.8 px, so none)."""
    scaled = dict(augment)
    share = min(1.0, side / AUGMENT_SIDE)
    scaled["shift"] = int(augment.get("shift", 0) * share)
    angle = augment.get("rotate", 0.0) * share
    scaled["rotate"] = round(angle, 1) if side / 2 * math.radians(angle) >= 1 else 0.0
    return scaled


def training(name: str, input_shape: Shape | None = None) -> dict:
    """The training settings of a named preset (a copy: optimizer, lr, batch_size,
    epochs, schedule, augment), the augmentation scaled to the pictures of shape
    (C, H, W) when given (see augment_for_side), else as stated for 28 px."""
    if name not in TRAINING:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    settings = TRAINING[name]
    augment = dict(settings["augment"])
    if input_shape is not None:
        augment = augment_for_side(augment, min(input_shape[1:]))
    return {"schedule": "constant", **settings, "augment": augment}


def preset(name: str, input_shape: Shape) -> list[dict]:
    """The spec of a named preset for pictures of shape (C, H, W)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name](tuple(input_shape))
