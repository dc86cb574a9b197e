"""What shapes one stylisation: the settings, their allowed values and the presets.

Plain Python (no torch), so that the web form can offer and check them cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

BLOCK_DEPTHS = (2, 2, 4, 4, 4)  # convolutions per block
BLOCK_WIDTHS = (64, 128, 256, 512, 512)  # output channels per block
LAYER_NAMES = tuple(
    f"relu{b + 1}_{i + 1}" for b, depth in enumerate(BLOCK_DEPTHS) for i in range(depth)
)  # ("relu1_1", "relu1_2", "relu2_1", ..., "relu5_4"), one per convolution


def layer_index(name: str) -> int:
    """Position of `relu{b}_{i}` among the 16 convolutions; ValueError for unknown names."""
    if name not in LAYER_NAMES:
        raise ValueError(f"unknown VGG19 layer {name!r}; choose from {', '.join(LAYER_NAMES)}")
    return LAYER_NAMES.index(name)


STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
MIN_SIDE = 16  # VGG pools four times before relu5_1; smaller sides would vanish
MIN_LEVEL_SIDE = 4 * MIN_SIDE  # a smaller pyramid level is skipped: too coarse to help

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "style-colors")
POOLINGS = ("max", "avg")
COLOR_MODES = ("none", "luminance", "match")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")


@dataclass
class StyleConfig:
    """Everything that shapes one stylisation. The defaults are the 'standard' preset."""

    size: int = 512  # longest side of the output, pixels
    steps: int = 8  # optimiser steps at the full size
    levels: int = 3  # coarse-to-fine pyramid: size / 2**(levels-1), ..., size / 2, size
    coarse_steps: int = 20  # optimiser steps at each smaller level
    content_weight: float = 1.0
    style_weight: float = 3.0
    tv_weight: float = 0.0  # total variation: smooths away high-frequency noise
    content_layers: tuple[str, ...] = ("relu4_2",)
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] | None = None  # one per style layer; None = equal
    style_blend: tuple[float, ...] | None = None  # one per style picture; None = equal
    style_scale: float = 1.0  # style pictures' longest side, relative to the output's
    optimizer: str = "lbfgs"  # "lbfgs" or "adam"
    learning_rate: float = 0.02  # Adam only; pixels live in 0..1
    init: str = "content"  # "content", "noise" or "style-colors" (photo in the style's colours)
    pooling: str = "max"  # "max" or "avg"
    preserve_color: str = "none"  # "none", "luminance" (transfer only light) or "match"
    device: str = "auto"  # "auto" (CUDA when present), "cpu" or "cuda"
    precision: str = "auto"  # "auto" = bfloat16 activations on CUDA, float32 on the CPU
    seed: int = 0  # for the noise initialisation

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("optimizer", self.optimizer, OPTIMIZERS),
            ("init", self.init, INITS),
            ("pooling", self.pooling, POOLINGS),
            ("preserve_color", self.preserve_color, COLOR_MODES),
            ("device", self.device, DEVICES),
            ("precision", self.precision, PRECISIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        for layer in self.content_layers + self.style_layers:
            layer_index(layer)
        if self.size < MIN_SIDE or self.steps < 0 or self.coarse_steps < 0 or self.levels < 1:
            raise ValueError(f"need size >= {MIN_SIDE}, levels >= 1 and non-negative steps")
        weights = self.style_layer_weights
        if weights is not None and len(weights) != len(self.style_layers):
            raise ValueError("style_layer_weights needs one weight per style layer")

    @property
    def last_layer(self) -> str:
        """The deepest VGG layer any loss reads; the network can stop there."""
        return max(self.content_layers + self.style_layers, key=LAYER_NAMES.index)

    def level_sizes(self) -> list[int]:
        """Longest side at each pyramid level, smallest first."""
        sizes = [self.size // 2**k for k in reversed(range(self.levels))]
        return [s for s in sizes if s >= MIN_LEVEL_SIDE][:-1] + [self.size]

    @property
    def total_steps(self) -> int:
        return self.steps + self.coarse_steps * (len(self.level_sizes()) - 1)


PRESETS: dict[str, StyleConfig] = {
    "quick": StyleConfig(size=256, levels=2),
    "standard": StyleConfig(),
    "fine": StyleConfig(size=768, levels=4),
}


def preset(name: str, **changes: object) -> StyleConfig:
    """A copy of PRESETS[name] with some fields changed; KeyError names the presets."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return replace(PRESETS[name], **changes)
