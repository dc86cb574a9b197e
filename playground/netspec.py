"""A small conv net described as JSON -> a checked summary table and an nn.Module.

A spec is a list of layer dicts, each with a "type" and its parameters, e.g.

    [{"type": "conv2d", "filters": 6, "kernel": 5, "padding": 2},
     {"type": "tanh"},
     {"type": "avgpool", "kernel": 2},
     {"type": "flatten"},
     {"type": "linear", "units": 84}]

`build` always appends a classifier head (flatten if needed + linear to the number of
classes), so a spec describes the feature extractor and the hidden layers only.

Shapes are per sample: (C, H, W) for pictures, (F,) once flat. The summary is computed
from the spec alone (no tensors), so the builder page can show it on every keystroke;
the tests check it against the real module layer by layer.

Receptive field arithmetic (per layer with window k and stride s):
    rf_out   = rf_in + (k - 1) * jump_in      # how many input pixels one unit sees
    jump_out = jump_in * s                    # input pixels between neighbouring units
Multiply-adds count convolutions and linear layers only (pooling, activations and batch
norm are a rounding error next to them).

Beyond a chain of layers (for segmentation's encoder-decoders and U-Nets):
- any layer may carry a "name"; {"type": "concat", "from": NAME} puts that earlier
  layer's maps beside the current ones (a skip connection: channels add, H×W must match);
- {"type": "maxunpool", "pool": NAME} undoes the named maxpool: each value goes back to
  where that pool found its maximum, zeros elsewhere (the pool keeps its indices);
- "upsample" repeats (nearest) or interpolates (bilinear) pixels; "convtranspose2d" is
  the learnable upsampler, out = (n - 1)*s - 2p + f + output_padding.
Upsampling layers divide the jump (units get closer together in input pixels): jumps
below 1 are fractions.

The head after the spec's layers depends on the task (see HEADS and playground/objectives.py):
a classifier, a box or points regressor, a 1×1 conv giving class scores per pixel
(segmentation: the spec must end at the input's H×W), or an embedding.
"""

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from playground.limits import LIMITS, Limits

Shape = tuple[int, ...]  # (C, H, W) or (F,)

# type -> {param: default}; None means "required"
LAYER_PARAMS: dict[str, dict[str, Any]] = {
    "conv2d": {"filters": None, "kernel": 3, "stride": 1, "padding": 0, "groups": 1},
    "maxpool": {"kernel": 2, "stride": None, "padding": 0},  # stride defaults to kernel
    "avgpool": {"kernel": 2, "stride": None, "padding": 0},
    "relu": {},
    "leakyrelu": {"slope": 0.01},
    "sigmoid": {},
    "tanh": {},
    "batchnorm": {},
    "dropout": {"p": 0.5},
    "flatten": {},
    "linear": {"units": None},
    "globalavgpool": {},
    "residual": {"filters": None, "stride": 1},
    "upsample": {"scale": 2, "mode": "nearest"},
    "maxunpool": {"pool": None},  # the name of the maxpool whose indices it reuses
    "convtranspose2d": {
        "filters": None,
        "kernel": 2,
        "stride": 2,
        "padding": 0,
        "output_padding": 0,
    },
    "concat": {"from": None},  # the name of an earlier layer whose maps are concatenated
    # the same sliding dot product along one axis (signals, C×L) or three (volumes, C×D×H×W)
    "conv1d": {"filters": None, "kernel": 3, "stride": 1, "padding": 0},
    "conv3d": {"filters": None, "kernel": 3, "stride": 1, "padding": 0},
    "inception": {
        "c1": None,  # 1x1 branch
        "c3_reduce": None,  # 1x1 reduction before the 3x3
        "c3": None,
        "c5_reduce": None,  # 1x1 reduction before two stacked 3x3 (a 5x5's field)
        "c5": None,
        "pool_proj": None,  # 1x1 after a 3x3 max pool
    },
}
SPATIAL_ONLY = {
    "conv2d",
    "maxpool",
    "avgpool",
    "residual",
    "inception",
    "flatten",
    "globalavgpool",
    "upsample",
    "maxunpool",
    "convtranspose2d",
    "concat",
}
FLOAT_PARAMS = frozenset({"slope", "p"})
NAME_PARAMS = frozenset({"name", "pool", "from"})  # a layer's name, or a reference to one
CHOICE_PARAMS = {"mode": ("nearest", "bilinear")}  # every other parameter is a whole number
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,23}")
for _params in LAYER_PARAMS.values():
    _params["name"] = ""  # optional on every layer: what concat and maxunpool refer to

# What the builder page says about each layer type and parameter (see layer_catalogue).
LAYER_HELP = {
    "conv2d": "Slides filters over the picture; each output pixel sees a kernel×kernel window.",
    "maxpool": "Keeps the largest value of each window: smaller maps, some shift tolerance.",
    "avgpool": "Averages each window (LeNet's subsampling).",
    "relu": "max(0, x): gradient 1 for positive inputs, so it does not vanish.",
    "leakyrelu": "Like ReLU with a small slope for negatives, so units cannot die.",
    "sigmoid": "Squashes to (0, 1); its slope is at most 1/4, so deep stacks lose gradient.",
    "tanh": "Squashes to (−1, 1), zero-centred; still saturates for large inputs.",
    "batchnorm": "Normalises each channel over the batch: keeps activations in a good range.",
    "dropout": "Zeroes a fraction p of units while training: a regulariser.",
    "flatten": "Turns C×H×W maps into one vector for linear layers.",
    "linear": "Fully connected: every input to every unit.",
    "globalavgpool": "Averages each channel to one number: no weights, any picture size.",
    "residual": "Two 3×3 convs with batch norm plus a shortcut: y = F(x) + x.",
    "inception": "1×1, 3×3, two stacked 3×3 (a 5×5's view) and a pooling branch, concatenated.",
    "upsample": "Makes maps scale× larger by repeating (nearest) or interpolating (bilinear).",
    "maxunpool": "Undoes a named maxpool: each value returns to where that pool's maximum was.",
    "convtranspose2d": "Learnable upsampling: out = (n − 1)·s − 2p + f + output_padding.",
    "concat": "Skip connection: puts a named earlier layer's maps beside these (U-Net).",
    "conv1d": "Slides filters along a signal (C×L): each output sees kernel samples.",
    "conv3d": "Slides filters through a volume or clip (C×D×H×W): kernel³ windows.",
}
PARAM_HINTS = {
    "filters": "number of filters = output channels",
    "kernel": "window side f",
    "stride": "step s (pooling: empty = the kernel)",
    "padding": "zeros added on each side p",
    "units": "outputs",
    "slope": "slope for x < 0",
    "p": "fraction dropped",
    "c1": "1×1 branch",
    "c3_reduce": "1×1 before the 3×3",
    "c3": "3×3 branch",
    "c5_reduce": "1×1 before the two 3×3",
    "c5": "two stacked 3×3 (5×5 view)",
    "pool_proj": "1×1 after pooling",
    "scale": "how many times larger",
    "mode": "nearest or bilinear",
    "pool": "name of the maxpool to undo",
    "from": "name of the earlier layer",
    "output_padding": "extra rows/columns on one side (< stride)",
    "name": "optional name, for concat and maxunpool",
    "groups": "channel groups, each its own conv (= input channels: depthwise)",
}
# A layer added in the builder starts from the defaults above; required ones start here.
START_VALUES = {
    "filters": 16,
    "units": 64,
    "c1": 16,
    "c3_reduce": 16,
    "c3": 24,
    "c5_reduce": 8,
    "c5": 8,
    "pool_proj": 16,
    "pool": "",
    "from": "",
}


def layer_catalogue() -> dict[str, dict[str, Any]]:
    """Every layer type for the builder page: {type: {"help", "params": {name: {"start",
    "float", "hint"}}}}; "start" is None where the spec derives it (a pool's stride)."""
    return {
        kind: {
            "help": LAYER_HELP[kind],
            "params": {
                name: {
                    "start": START_VALUES.get(name) if default is None else default,
                    "float": name in FLOAT_PARAMS,
                    "hint": PARAM_HINTS[name],
                    **({"text": True} if name in NAME_PARAMS else {}),
                    **({"choices": list(CHOICE_PARAMS[name])} if name in CHOICE_PARAMS else {}),
                }
                for name, default in params.items()
            },
        }
        for kind, params in LAYER_PARAMS.items()
    }


class SpecError(ValueError):
    """A spec that cannot be built; `index` is the offending layer (None: the whole spec)."""

    def __init__(self, reason: str, index: int | None = None, layer_type: str | None = None):
        self.reason, self.index, self.layer_type = reason, index, layer_type
        where = (
            "" if index is None else f"layer {index}" + (f" ({layer_type})" if layer_type else "")
        )
        super().__init__(f"{where}: {reason}" if where else reason)


@dataclass
class LayerRow:
    index: int  # position in the spec; the classifier head is len(spec)
    type: str
    output_shape: list[int]
    arithmetic: str  # how the output size follows from the input, e.g. "floor((8+2*1-3)/1)+1 = 8"
    params: int
    receptive_field: float | None  # None once every unit sees the whole input
    jump: float | None  # below 1 after upsampling
    mult_adds: int


@dataclass
class Summary:
    input_shape: list[int]
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    total_mult_adds: int = 0
    activation_floats: int = 0  # every layer's output for one sample

    def to_dict(self) -> dict:
        """JSON-ready form for the builder page."""
        return asdict(self)


# ---------------------------------------------------------------------------------------
# validation


def spec_from_json(text: str | bytes, limits: Limits = LIMITS) -> list[dict]:
    """Parse a spec from JSON text, refusing malformed or absurdly nested documents."""
    try:
        spec = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SpecError(f"not valid JSON ({exc.__class__.__name__})") from None
    if _depth(spec) > limits.max_json_depth:
        raise SpecError(f"the JSON is nested deeper than {limits.max_json_depth} levels")
    return spec


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def normalize(spec: Any, limits: Limits = LIMITS) -> list[dict]:
    """Check types and ranges of every parameter and fill in defaults."""
    if not isinstance(spec, list):
        raise SpecError("a spec is a list of layers")
    if not spec:
        raise SpecError("the spec has no layers")
    if len(spec) > limits.max_layers:
        raise SpecError(f"{len(spec)} layers is more than the limit of {limits.max_layers}")
    layers = [_normalize_layer(i, layer, limits) for i, layer in enumerate(spec)]
    seen: dict[str, int] = {}
    for i, layer in enumerate(layers):
        for ref in ("pool", "from"):
            if ref in layer and layer[ref] not in seen:
                later = any(other.get("name") == layer[ref] for other in layers[i:])
                where = "a later layer, not an earlier one" if later else "no layer's name"
                raise SpecError(f'{ref} "{layer[ref]}" is {where}', i, layer["type"])
        if "name" in layer:
            if layer["name"] in seen:
                raise SpecError(
                    f'the name "{layer["name"]}" is already layer {seen[layer["name"]]}\'s',
                    i,
                    layer["type"],
                )
            seen[layer["name"]] = i
    return layers


def _normalize_layer(i: int, layer: Any, limits: Limits) -> dict:
    if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
        raise SpecError('each layer is an object with a "type"', i)
    kind = layer["type"]
    if kind not in LAYER_PARAMS:
        raise SpecError(f"unknown layer type {kind[:40]!r}; known: {', '.join(LAYER_PARAMS)}", i)
    defaults = LAYER_PARAMS[kind]
    unknown = set(layer) - set(defaults) - {"type"}
    if unknown:
        raise SpecError(f"unknown parameter {sorted(unknown)[0][:40]!r}", i, kind)
    out: dict[str, Any] = {"type": kind}
    for name, default in defaults.items():
        value = layer.get(name, default)
        if value is None and name == "stride" and kind in ("maxpool", "avgpool"):
            value = out["kernel"]
        if value is None or (value == "" and name in ("pool", "from")):
            raise SpecError(f'"{name}" is required', i, kind)
        if name == "name" and value in ("", None):
            continue  # unnamed: nothing refers to it
        if name == "groups" and value == 1:
            continue  # a plain conv: its spec reads as it did before groups existed
        out[name] = _check_param(i, kind, name, value, limits)
    return out


def _check_param(i: int, kind: str, name: str, value: Any, limits: Limits) -> Any:
    if name in NAME_PARAMS:
        if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
            raise SpecError(
                f"{name} must be a letter then up to 23 letters, digits or _, "
                f"got {str(value)[:30]!r}",
                i,
                kind,
            )
        return value
    if name in CHOICE_PARAMS:
        if value not in CHOICE_PARAMS[name]:
            choices = " or ".join(CHOICE_PARAMS[name])
            raise SpecError(f"{name} must be {choices}, got {str(value)[:20]!r}", i, kind)
        return value
    if name in FLOAT_PARAMS:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise SpecError(f"{name} must be a number", i, kind)
        if name == "p" and not 0 <= value < 1:
            raise SpecError(f"dropout p must be in [0, 1), got {value}", i, kind)
        if name == "slope" and not 0 <= value <= 1:
            raise SpecError(f"slope must be in [0, 1], got {value}", i, kind)
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{name} must be a whole number, got {str(value)[:20]!r}", i, kind)
    low, high = {
        "kernel": (1, limits.max_kernel),
        "stride": (1, limits.max_stride),
        "padding": (0, limits.max_padding),
        "output_padding": (0, limits.max_stride - 1),
        "scale": (1, limits.max_stride),
        "units": (1, limits.max_units),
    }.get(name, (1, limits.max_channels))
    if not low <= value <= high:
        raise SpecError(f"{name} {value} is outside {low}..{high}", i, kind)
    return value


# ---------------------------------------------------------------------------------------
# summary: shapes, arithmetic, parameters, receptive fields, multiply-adds


def _window(i: int, kind: str, shape: Shape, k: int, s: int, p: int) -> tuple[int, int, str]:
    """Output size of a k x k window with stride s and padding p: floor((n+2p-k)/s)+1."""
    _, h, w = shape
    if k > h + 2 * p or k > w + 2 * p:
        padded = f" padded by {p}" if p else ""
        raise SpecError(f"kernel {k} is larger than the {h}×{w} input{padded}", i, kind)
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    text = f"floor(({h}+2*{p}-{k})/{s})+1 = {oh}"
    if w != h:
        text += f"; floor(({w}+2*{p}-{k})/{s})+1 = {ow}"
    return oh, ow, text


@dataclass
class _Seen:
    """What later layers may need of a named layer: its input and output."""

    index: int
    layer: dict
    input_shape: Shape
    shape: Shape
    rf: float | None
    jump: float | None
    input_jump: float | None


def _sides(shape: Shape) -> str:
    if len(shape) == 3:
        return "×".join(map(str, shape[1:]))
    if len(shape) == 1:
        return f"a flat vector of {shape[0]}"
    return "×".join(map(str, shape)) + (" signals" if len(shape) == 2 else " volumes")


# conv1d and conv3d: the axes they slide along, and what their input is called
AXES = {"conv1d": 1, "conv3d": 3}
RANK_NAMES = {2: "a C×L signal", 3: "C×H×W pictures", 4: "a C×D×H×W volume"}
ANY_RANK = frozenset({"flatten", "globalavgpool"})  # these take signals and volumes too


def _conv_nd(i: int, layer: dict, shape: Shape, rf, jump):
    """conv1d / conv3d: out = floor((n+2p-f)/s)+1 along each axis; f·(c·kernel^axes + 1)
    parameters. The receptive field and jump are per axis (the same on every axis)."""
    kind, c, sides = layer["type"], shape[0], shape[1:]
    f, k, s, p = (layer[x] for x in ("filters", "kernel", "stride", "padding"))
    if any(k > n + 2 * p for n in sides):
        padded = f" padded by {p}" if p else ""
        raise SpecError(f"kernel {k} is larger than the {'×'.join(map(str, sides))} input{padded}",
                        i, kind)  # fmt: skip
    outs = tuple((n + 2 * p - k) // s + 1 for n in sides)
    text = "; ".join(f"floor(({n}+2*{p}-{k})/{s})+1 = {o}"
                     for n, o in dict(zip(sides, outs, strict=True)).items())  # fmt: skip
    window = k ** len(sides)
    return ((f, *outs), text, f * (c * window + 1), rf + (k - 1) * jump, jump * s,
            f * math.prod(outs) * c * window, 0)  # fmt: skip


def _trace(
    i: int, layer: dict, shape: Shape, rf: float | None, jump: float | None,
    named: dict[str, _Seen],
):  # fmt: skip
    """One layer: (output shape, arithmetic, params, rf, jump, mult-adds, extra activations).
    `named` holds the earlier named layers (for concat and maxunpool)."""
    kind = layer["type"]
    spatial = len(shape) == 3
    if kind in AXES:
        if len(shape) != AXES[kind] + 1:
            raise SpecError(f"needs {RANK_NAMES[AXES[kind] + 1]} but gets {_sides(shape)}", i, kind)
        return _conv_nd(i, layer, shape, rf, jump)
    if kind in SPATIAL_ONLY and not spatial and not (kind in ANY_RANK and len(shape) > 1):
        raise SpecError(f"needs a C×H×W input but gets {_sides(shape)}", i, kind)
    if kind == "upsample":
        c, h, w = shape
        r = layer["scale"]
        text = f"{h}*{r} = {h * r}" + (f"; {w}*{r} = {w * r}" if w != h else "")
        grown = None if rf is None else rf + (jump if layer["mode"] == "bilinear" else 0)
        return (c, h * r, w * r), text, 0, grown, _shrink(jump, r), 0, 0
    if kind == "convtranspose2d":
        c, h, w = shape
        f, k, s, p, op = (layer[x] for x in ("filters", "kernel", "stride", "padding",
                                             "output_padding"))  # fmt: skip
        if op >= s:
            raise SpecError(f"output_padding {op} must be smaller than the stride {s}", i, kind)
        oh, ow = (h - 1) * s - 2 * p + k + op, (w - 1) * s - 2 * p + k + op
        if oh < 1 or ow < 1:
            raise SpecError(f"padding {p} leaves no output from a {h}×{w} input", i, kind)
        text = f"({h}-1)*{s}-2*{p}+{k}" + (f"+{op}" if op else "") + f" = {oh}"
        if w != h:
            text += f"; ({w}-1)*{s}-2*{p}+{k}" + (f"+{op}" if op else "") + f" = {ow}"
        # each output unit gathers ceil(k/s) input units per axis
        grown = None if rf is None else rf + (math.ceil(k / s) - 1) * jump
        return (
            (f, oh, ow),
            text,
            f * (c * k * k + 1),
            grown,
            _shrink(jump, s),
            h * w * c * f * k * k,
            0,
        )
    if kind == "maxunpool":
        pool = named[layer["pool"]]
        if pool.layer["type"] != "maxpool":
            raise SpecError(
                f'"{layer["pool"]}" is layer {pool.index} ({pool.layer["type"]}), not a maxpool: '
                "only a max pool remembers where its maxima were",
                i,
                kind,
            )
        if tuple(shape) != tuple(pool.shape):
            raise SpecError(
                f'gets {"×".join(map(str, shape))} but maxpool "{layer["pool"]}" '
                f"(layer {pool.index}) gave {'×'.join(map(str, pool.shape))}: "
                "it can only put back maps of the shape that pool made",
                i,
                kind,
            )
        out = tuple(pool.input_shape)
        text = f"back to maxpool {pool.index}'s input: {out[1]}×{out[2]}"
        return out, text, 0, rf, pool.input_jump, 0, 0
    if kind == "concat":
        skip = named[layer["from"]]
        if len(skip.shape) != 3 or skip.shape[1:] != shape[1:]:
            raise SpecError(
                f'"{layer["from"]}" (layer {skip.index}) has {_sides(skip.shape)} maps but this '
                f"layer gets {_sides(shape)}: a skip connection needs the same H×W",
                i,
                kind,
            )
        c = shape[0] + skip.shape[0]
        text = f"concat {shape[0]}+{skip.shape[0]} = {c} channels"
        both = None if rf is None or skip.rf is None else max(rf, skip.rf)
        return (c, *shape[1:]), text, 0, both, jump, 0, 0
    if kind == "conv2d":
        c, (f, k, s, p) = shape[0], (layer[x] for x in ("filters", "kernel", "stride", "padding"))
        g = layer.get("groups", 1)
        if c % g or f % g:
            raise SpecError(
                f"groups {g} must divide both the {c} input channels and the {f} filters", i, kind
            )
        oh, ow, text = _window(i, kind, shape, k, s, p)
        if g > 1:  # each filter sees only its group's c/g channels
            text += f"; {g} groups of {c // g} channels: 1/{g} of a plain conv's multiply-adds"
        return (
            (f, oh, ow),
            text,
            f * (c // g * k * k + 1),
            rf + (k - 1) * jump,
            jump * s,
            f * oh * ow * c // g * k * k,
            0,
        )
    if kind in ("maxpool", "avgpool"):
        k, s, p = layer["kernel"], layer["stride"], layer["padding"]
        if 2 * p > k:
            raise SpecError(f"padding {p} is more than half the kernel {k}", i, kind)
        oh, ow, text = _window(i, kind, shape, k, s, p)
        return (shape[0], oh, ow), text, 0, rf + (k - 1) * jump, jump * s, 0, 0
    if kind in ("relu", "leakyrelu", "sigmoid", "tanh", "dropout"):
        return shape, "same shape", 0, rf, jump, 0, 0
    if kind == "batchnorm":
        return shape, "same shape", 2 * shape[0], rf, jump, 0, 0
    if kind == "flatten":
        n = math.prod(shape)
        return (n,), f"{'*'.join(map(str, shape))} = {n}", 0, rf, jump, 0, 0
    if kind == "globalavgpool":
        return (shape[0],), f"mean over {'×'.join(map(str, shape[1:]))}", 0, None, None, 0, 0
    if kind == "linear":
        if len(shape) != 1:
            raise SpecError(
                f"needs a flat input but gets {'×'.join(map(str, shape))}; "
                "add a flatten or globalavgpool layer before it",
                i,
                kind,
            )
        n, u = shape[0], layer["units"]
        return (u,), f"{n} -> {u}", n * u + u, None, None, n * u, 0
    if kind == "residual":
        c, (_, h, w), f, s = shape[0], shape, layer["filters"], layer["stride"]
        oh, ow = (h - 1) // s + 1, (w - 1) // s + 1  # 3x3 pad 1 stride s, same as 1x1 stride s
        text = f"floor(({h}+2*1-3)/{s})+1 = {oh}" + (f"; width {ow}" if ow != oh else "")
        projection = s != 1 or c != f
        params = 9 * c * f + 9 * f * f + 4 * f + (c * f + 2 * f if projection else 0)
        macs = oh * ow * (9 * c * f + 9 * f * f + (c * f if projection else 0))
        extra = 4 * f * oh * ow  # the body's intermediate tensors
        return (f, oh, ow), text, params, rf + 2 * jump + 2 * jump * s, jump * s, macs, extra
    if kind == "inception":
        c, (_, h, w) = shape[0], shape
        c1, r3, c3, r5, c5, pp = (
            layer[x] for x in ("c1", "c3_reduce", "c3", "c5_reduce", "c5", "pool_proj")
        )
        out = c1 + c3 + c5 + pp
        weights = c * c1 + c * r3 + 9 * r3 * c3 + c * r5 + 9 * r5 * c5 + 9 * c5 * c5 + c * pp
        params = weights + c1 + r3 + c3 + r5 + 2 * c5 + pp
        text = f"concat {c1}+{c3}+{c5}+{pp} = {out} channels, {h}×{w} kept"
        extra = (r3 + r5 + c5 + c) * h * w  # reductions, the first stacked 3x3, the pooled map
        return (out, h, w), text, params, rf + 4 * jump, jump, weights * h * w, extra
    raise AssertionError(kind)  # normalize() let an unknown type through


def _shrink(jump: float | None, scale: int) -> float | None:
    """The jump after upsampling by `scale`: neighbouring units are closer in the input."""
    return None if jump is None else round(jump / scale, 4)


# What follows the spec's layers, per task (playground/objectives.py picks one):
HEADS = {
    "classifier": "flatten + linear: one score per class",
    "box": "flatten + linear: class scores, then 4 box numbers",
    "points": "flatten + linear: x, y of each point",
    "mask": "1×1 conv: class scores for every pixel",
    "embedding": "flatten + linear, scaled to length 1",
    "siamese": "embedding + pair classifier σ(b − Σ softplus(w)·|f(a) − f(b)|)",
}


def _head_row(
    index: int, head: str, shape: Shape, outputs: int, input_shape: Shape, rf, jump,
    last_type: str,
) -> LayerRow:  # fmt: skip
    """The head's row of the summary; a mask head needs maps of the input's size."""
    if head == "mask":
        if len(shape) != 3 or shape[1:] != tuple(input_shape[1:]):
            raise SpecError(
                f"a segmentation net must end at the pictures' "
                f"{input_shape[1]}×{input_shape[2]} maps but this one ends at {_sides(shape)}: "
                "upsample, unpool or transpose-convolve back up",
                index - 1,
                last_type,
            )
        c, h, w = shape
        return LayerRow(index, "mask head", [outputs, h, w], f"1×1 conv {c} -> {outputs} per pixel",
                        c * outputs + outputs, rf, jump, h * w * c * outputs)  # fmt: skip
    n = math.prod(shape)
    params, text = n * outputs + outputs, f"{n} -> {outputs}"
    if head == "siamese":
        params, text = params + outputs + 1, text + f"; pair: {outputs} -> 1"
    name = "classifier" if head == "classifier" else f"{head} head"
    return LayerRow(index, name, [outputs], text, params, None, None, n * outputs)


# Layers between a depthwise and a pointwise conv that leave the pair a separable conv.
PER_UNIT = frozenset({"batchnorm", "relu", "leakyrelu", "sigmoid", "tanh", "dropout"})


def _depthwise(layer: dict, shape: Shape) -> bool:
    """One filter per input channel: groups = input channels = filters."""
    g = layer.get("groups", 1)
    return layer["type"] == "conv2d" and g > 1 and g == shape[0] == layer["filters"]


def _pointwise(layer: dict) -> bool:
    return (layer["type"] == "conv2d" and layer["kernel"] == 1 and layer["stride"] == 1
            and layer.get("groups", 1) == 1)  # fmt: skip


def _separable_cost(depthwise: LayerRow, pointwise_macs: int, outputs: int) -> str:
    """The depthwise + pointwise pair against one plain conv of the depthwise kernel to
    the pointwise outputs: the course's 1/n_c' + 1/f²."""
    c, oh, ow = depthwise.output_shape
    k2 = depthwise.mult_adds // (c * oh * ow)  # the depthwise kernel's f²
    plain = outputs * oh * ow * c * k2
    both = depthwise.mult_adds + pointwise_macs
    return (f"; with depthwise layer {depthwise.index}: {depthwise.mult_adds:,} + "
            f"{pointwise_macs:,} = {both:,} multiply-adds against {plain:,} for a plain conv, "
            f"{both / plain:.3f} = 1/{outputs} + 1/{k2}")  # fmt: skip


def summarize(
    spec: Any, input_shape: Shape, num_classes: int, limits: Limits = LIMITS,
    head: str = "classifier",
) -> Summary:  # fmt: skip
    """Per-layer output shapes, size arithmetic, parameters, receptive fields, multiply-adds.
    `num_classes` is the head's output count (classes, box numbers, points, embedding size)."""
    layers = normalize(spec, limits)
    if len(input_shape) not in RANK_NAMES or not all(
        1 <= n <= limits.max_input_side for n in input_shape[1:]
    ):
        raise SpecError(f"input must be C×H×W (or C×L, C×D×H×W) with sides up to "
                        f"{limits.max_input_side}")  # fmt: skip
    if head == "mask" and len(input_shape) != 3:
        raise SpecError("a segmentation head needs C×H×W pictures")
    if head not in HEADS:
        raise SpecError(f"unknown head {head[:20]!r}; known: {', '.join(HEADS)}")
    summary = Summary(input_shape=list(input_shape))
    shape, rf, jump = tuple(input_shape), 1, 1
    named: dict[str, _Seen] = {}
    depthwise: LayerRow | None = None  # the latest depthwise conv a pointwise one may follow
    for i, layer in enumerate(layers):
        before, jump_before = shape, jump
        shape, text, params, rf, jump, macs, extra = _trace(i, layer, shape, rf, jump, named)
        if depthwise is not None and _pointwise(layer):
            text += _separable_cost(depthwise, macs, shape[0])
        row = LayerRow(i, layer["type"], list(shape), text, params, rf, jump, macs)
        if _depthwise(layer, before):
            depthwise = row
        elif layer["type"] not in PER_UNIT:
            depthwise = None
        summary.rows.append(row)
        summary.activation_floats += math.prod(shape) + extra
        if "name" in layer:
            named[layer["name"]] = _Seen(i, layer, before, shape, rf, jump, jump_before)
    summary.rows.append(
        _head_row(
            len(layers), head, shape, num_classes, tuple(input_shape), rf, jump, layers[-1]["type"]
        )
    )
    summary.activation_floats += math.prod(summary.rows[-1].output_shape)
    summary.total_params = sum(r.params for r in summary.rows)
    summary.total_mult_adds = sum(r.mult_adds for r in summary.rows)
    if summary.total_params > limits.max_params:
        big = max(summary.rows, key=lambda r: r.params)
        raise SpecError(
            f"{summary.total_params:,} parameters is more than the limit of {limits.max_params:,}",
            big.index,
            big.type,
        )
    if summary.activation_floats > limits.max_activation_floats:
        raise SpecError(
            f"activations take {summary.activation_floats * 4 / 2**20:.0f} MB per picture, "
            f"more than the limit of {limits.max_activation_floats * 4 / 2**20:.0f} MB"
        )
    return summary


def batch_size_check(summary: Summary, batch_size: int) -> None:
    """Refuse a batch of one picture when a batch norm sees one value per channel (after a
    flatten, or on 1×1 maps): it would have nothing to normalise over, and PyTorch raises."""
    if batch_size > 1:
        return
    for row in summary.rows:
        if row.type in ("batchnorm", "residual") and math.prod(row.output_shape[1:]) == 1:
            raise SpecError(
                "its batch norm sees a single value per channel of a picture, so a batch of "
                "one picture leaves nothing to normalise: choose a batch size of at least 2",
                row.index,
                row.type,
            )


# ---------------------------------------------------------------------------------------
# modules


class GlobalAvgPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            return x.mean(dim=(2, 3))  # (B, C, H, W) -> (B, C)
        return x.flatten(2).mean(dim=2)  # signals (B, C, L) and volumes (B, C, D, H, W)


class ResidualBlock(nn.Module):
    """He et al.'s basic block: relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))."""

    def __init__(self, in_channels: int, filters: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, filters, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(filters)
        self.conv2 = nn.Conv2d(filters, filters, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(filters)
        self.shortcut = nn.Sequential()  # identity when the shapes already match
        if stride != 1 or in_channels != filters:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, filters, 1, stride, bias=False), nn.BatchNorm2d(filters)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))  # (B, F, H/s, W/s)
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated on channels; 1x1 convs keep the 3x3s cheap."""

    def __init__(
        self, c: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int, pool_proj: int
    ):
        super().__init__()
        relu = nn.ReLU
        self.branch1 = nn.Sequential(nn.Conv2d(c, c1, 1), relu())
        self.branch3 = nn.Sequential(
            nn.Conv2d(c, c3_reduce, 1), relu(), nn.Conv2d(c3_reduce, c3, 3, padding=1), relu()
        )
        self.branch5 = nn.Sequential(  # two 3x3 see what one 5x5 sees, with fewer weights
            nn.Conv2d(c, c5_reduce, 1), relu(),
            nn.Conv2d(c5_reduce, c5, 3, padding=1), relu(),
            nn.Conv2d(c5, c5, 3, padding=1), relu(),
        )  # fmt: skip
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c, pool_proj, 1), relu())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([b(x) for b in branches], dim=1)  # (B, c1+c3+c5+pool_proj, H, W)


class Upsample(nn.Module):
    def __init__(self, scale: int, mode: str):
        super().__init__()
        self.scale, self.mode = scale, mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        corners = False if self.mode == "bilinear" else None
        return F.interpolate(x, scale_factor=self.scale, mode=self.mode, align_corners=corners)


class MaxUnpool(nn.Module):
    """Puts each value back where the paired max pool found its maximum (zeros elsewhere)."""

    def __init__(self, pool: dict, size: tuple[int, int]):
        super().__init__()
        self.kernel, self.stride, self.padding = pool["kernel"], pool["stride"], pool["padding"]
        self.size = size  # the pool's input H, W: several input sizes pool to the same output

    def forward(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        return F.max_unpool2d(x, indices, self.kernel, self.stride, self.padding, self.size)


class Concat(nn.Module):
    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, skip], dim=1)  # (B, C + C_skip, H, W)


class Heads:
    """The head modules after the spec's layers (see HEADS)."""

    class Linear(nn.Sequential):
        def __init__(self, n: int, outputs: int):
            super().__init__(nn.Flatten(), nn.Linear(n, outputs))

    class Embedding(nn.Module):
        """A linear layer to `outputs` numbers scaled to length 1: distances lie in [0, 2]."""

        def __init__(self, n: int, outputs: int, pair: bool):
            super().__init__()
            self.linear = nn.Linear(n, outputs)
            # the binary alternative to the triplet loss: same person or not, from |f(a) − f(b)|
            self.pair = nn.Linear(outputs, 1) if pair else None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.normalize(self.linear(x.flatten(1)), dim=1)  # (B, outputs)


def _head(head: str, shape: Shape, outputs: int) -> nn.Module:
    if head == "mask":
        return nn.Conv2d(shape[0], outputs, 1)  # (B, outputs, H, W)
    if head in ("embedding", "siamese"):
        return Heads.Embedding(math.prod(shape), outputs, pair=head == "siamese")
    return Heads.Linear(math.prod(shape), outputs)


def _module(layer: dict, shape: Shape, unpooled: dict[str, tuple[dict, Shape]]) -> nn.Module:
    """The module of one layer; `unpooled` maps the names of the pools that an unpool
    undoes to (the pool's layer, its input shape)."""
    kind = layer["type"]
    if kind == "upsample":
        return Upsample(layer["scale"], layer["mode"])
    if kind == "convtranspose2d":
        f, k, s, p, op = (layer[x] for x in ("filters", "kernel", "stride", "padding",
                                             "output_padding"))  # fmt: skip
        return nn.ConvTranspose2d(shape[0], f, k, s, p, op)
    if kind == "maxunpool":
        pool, pool_input = unpooled[layer["pool"]]
        return MaxUnpool(pool, pool_input[1:])
    if kind == "concat":
        return Concat()
    if kind in AXES:
        conv = nn.Conv1d if kind == "conv1d" else nn.Conv3d
        return conv(shape[0], layer["filters"], layer["kernel"], layer["stride"], layer["padding"])
    if kind == "conv2d":
        return nn.Conv2d(
            shape[0], layer["filters"], layer["kernel"], layer["stride"], layer["padding"],
            groups=layer.get("groups", 1),
        )
    if kind == "maxpool":  # a pool that an unpool undoes also hands over where its maxima were
        return nn.MaxPool2d(
            layer["kernel"],
            layer["stride"],
            layer["padding"],
            return_indices=layer.get("name") in unpooled,
        )
    if kind == "avgpool":
        return nn.AvgPool2d(layer["kernel"], layer["stride"], layer["padding"])
    if kind == "batchnorm":  # flat vectors and signals: 1d; pictures: 2d; volumes: 3d
        return {3: nn.BatchNorm2d, 4: nn.BatchNorm3d}.get(len(shape), nn.BatchNorm1d)(shape[0])
    if kind == "linear":
        return nn.Linear(shape[0], layer["units"])
    if kind == "leakyrelu":
        return nn.LeakyReLU(layer["slope"])
    if kind == "dropout":
        return nn.Dropout(layer["p"])
    if kind == "residual":
        return ResidualBlock(shape[0], layer["filters"], layer["stride"])
    if kind == "inception":
        params = (layer[x] for x in ("c1", "c3_reduce", "c3", "c5_reduce", "c5", "pool_proj"))
        return InceptionBlock(shape[0], *params)
    simple = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "flatten": nn.Flatten}
    return GlobalAvgPool() if kind == "globalavgpool" else simple[kind]()


class Net(nn.Module):
    """The spec's layers, then the task's head. Takes pictures scaled to [0, 1]."""

    def __init__(
        self, spec: list[dict], input_shape: Shape, num_classes: int, limits: Limits = LIMITS,
        head: str = "classifier",
    ):  # fmt: skip
        super().__init__()
        summary = summarize(spec, input_shape, num_classes, limits, head)
        self.spec, self.input_shape, self.num_classes, self.head_kind = (
            normalize(spec, limits),
            tuple(input_shape),
            num_classes,  # the head's outputs: classes, box numbers, points, embedding size
            head,
        )
        # the dataset's mean/std; kept inside the model so an exported model takes raw pictures
        ones = (1,) * (len(input_shape) - 1)  # broadcast over L, H×W or D×H×W
        self.register_buffer("mean", torch.zeros(input_shape[0], *ones))
        self.register_buffer("std", torch.ones(input_shape[0], *ones))
        shapes = [tuple(input_shape)] + [tuple(r.output_shape) for r in summary.rows]
        names = {layer["name"]: i for i, layer in enumerate(self.spec) if "name" in layer}
        # for each layer that refers back: the index of the layer it needs
        self.refs = {
            i: names[layer.get("pool") or layer.get("from")]
            for i, layer in enumerate(self.spec)
            if layer["type"] in ("maxunpool", "concat")
        }
        unpooled = {  # pool name -> (the pool, its input shape)
            self.spec[j]["name"]: (self.spec[j], shapes[j])
            for i, j in self.refs.items()
            if self.spec[i]["type"] == "maxunpool"
        }
        self.layers = nn.Sequential(
            *(_module(layer, shapes[i], unpooled) for i, layer in enumerate(self.spec))
        )
        self.head = _head(head, shapes[-2], num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The spec's layers on normalised pictures, skips and unpooling included."""
        kept: dict[int, torch.Tensor] = {}  # outputs (or a pool's indices) needed later
        wanted = set(self.refs.values())
        for i, module in enumerate(self.layers):
            kind = self.spec[i]["type"]
            if kind == "maxunpool":
                x = module(x, kept[self.refs[i]])
            elif kind == "concat":
                x = module(x, kept[self.refs[i]])
            else:
                x = module(x)
            if isinstance(x, tuple):  # a max pool that an unpool undoes: keep its indices
                x, kept[i] = x
            elif i in wanted:
                kept[i] = x
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std  # (B, C, H, W)
        return self.head(self.features(x))  # (B, outputs) or (B, classes, H, W) for masks


def build(
    spec: Any, input_shape: Shape, num_classes: int, limits: Limits = LIMITS,
    head: str = "classifier",
) -> Net:  # fmt: skip
    """Validate a spec and build it as a module for (C, H, W) inputs with the task's head
    of num_classes outputs (see HEADS)."""
    return Net(spec, input_shape, num_classes, limits, head)
