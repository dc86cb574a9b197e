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
ALIGN = 16  # tiles start on multiples of 16 px, so every layer's grid lines up (4 poolings)
MAX_REGIONS = 8  # painted regions of one picture

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
    # A level larger than tile_size on its longest side is refined in overlapping tiles of
    # at most tile_size px (tile_overlap px shared with each neighbour), in tile_passes
    # passes whose grids are shifted; each tile gets steps // tile_passes steps per pass.
    tile_size: int = 1024
    tile_overlap: int = 128
    tile_passes: int = 2

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
        if self.tile_overlap % ALIGN or self.tile_size % ALIGN or self.tile_overlap < 0:
            raise ValueError(f"tile_size and tile_overlap must be multiples of {ALIGN}")
        if self.tile_size - 2 * self.tile_overlap < ALIGN or self.tile_passes < 1:
            raise ValueError("tiles need a core of at least 16 px and at least one pass")
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
    "quick": StyleConfig(size=384),  # a first try: small, yet visibly styled (issue 23)
    "standard": StyleConfig(),
    "fine": StyleConfig(size=768, levels=4),
    # print sizes: whole up to 1024 px, then refined in tiles (see tile_size)
    "print": StyleConfig(size=2048, levels=4, steps=8, coarse_steps=16),
}


def preset(name: str, **changes: object) -> StyleConfig:
    """A copy of PRESETS[name] with some fields changed; KeyError names the presets."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return replace(PRESETS[name], **changes)


# ----------------------------------------------------------------------------- tiles


def fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """(width, height) scaled so the longest side is `longest`, neither side below MIN_SIDE."""
    w, h = size
    scale = longest / max(w, h)
    return max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale))


Box = tuple[int, int, int, int]  # top, bottom, left, right (bottom/right exclusive)


@dataclass(frozen=True)
class Tile:
    window: Box  # the pixels optimised together
    core: Box  # the part of the window whose features count; cores partition the picture


def _cuts(length: int, tile: int, core: int, shift: int) -> list[tuple[int, int]]:
    """Core intervals along one axis: boundaries every `core` px, moved back by `shift`."""
    if length <= tile:
        return [(0, length)]
    bounds = [0] + list(range(core - shift, length, core)) + [length]
    return [(a, b) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]


def tile_grid(height: int, width: int, config: StyleConfig, shift: int = 0) -> list[Tile]:
    """Tiles of at most config.tile_size px covering a (height, width) picture; their cores
    partition it and are `shift` px earlier than an unshifted grid (all multiples of 16)."""
    core, margin = config.tile_size - 2 * config.tile_overlap, config.tile_overlap
    tiles = []
    for top, bottom in _cuts(height, config.tile_size, core, shift):
        for left, right in _cuts(width, config.tile_size, core, shift):
            window = (
                top if bottom - top == height else max(0, top - margin),
                bottom if bottom - top == height else min(height, bottom + margin),
                left if right - left == width else max(0, left - margin),
                right if right - left == width else min(width, right + margin),
            )
            tiles.append(Tile(window=window, core=(top, bottom, left, right)))
    return tiles


def pass_shifts(config: StyleConfig) -> list[int]:
    """The grid's shift in each pass: spread over one core, on the 16 px grid, so no tile
    border falls at the same place twice."""
    core = config.tile_size - 2 * config.tile_overlap
    return [(k * core // config.tile_passes) // ALIGN * ALIGN for k in range(config.tile_passes)]


@dataclass(frozen=True)
class LevelPlan:
    size: tuple[int, int]  # (width, height)
    steps: int  # optimiser steps per pixel at this level
    grids: list[list[Tile]] | None  # tiles of each pass; None = the whole picture at once

    @property
    def tile_steps(self) -> int:
        """Steps of each tile in each pass."""
        return 0 if self.grids is None else max(1, self.steps // len(self.grids))

    @property
    def total_steps(self) -> int:
        """Optimiser iterations at this level (each tile's count separately)."""
        if self.grids is None:
            return self.steps
        return 0 if self.steps == 0 else sum(len(g) for g in self.grids) * self.tile_steps


def plan(content_size: tuple[int, int], config: StyleConfig) -> list[LevelPlan]:
    """Each pyramid level's size, steps and (above tile_size) tiles."""
    sizes = config.level_sizes()
    levels = []
    for level, longest in enumerate(sizes):
        size = fit(content_size, longest)
        steps = config.steps if level == len(sizes) - 1 else config.coarse_steps
        grids = None
        if max(size) > config.tile_size:
            grids = [tile_grid(size[1], size[0], config, s) for s in pass_shifts(config)]
        levels.append(LevelPlan(size=size, steps=steps, grids=grids))
    return levels
