"""Transfer learning: VGG19 trained on ImageNet, cut after a chosen block, then a new head.

Three modes, on the same architecture (the course's recipe):
- "scratch":  the same trunk with random weights; everything trains.
- "frozen":   the ImageNet trunk is frozen; only the new head trains. The trunk's output
              for each picture is computed once and cached (`FeatureCache`), so an epoch
              costs only the head.
- "finetune": the last `finetune_blocks` blocks of the trunk train too, with a learning
              rate `finetune_lr_scale` times smaller than the head's; the frozen blocks
              before them are computed once per picture and cached.

The model takes pictures in [0, 1] of any channel count and size; it makes them RGB at
`image_size` and applies VGG's own preprocessing inside (`Prepare`), so an exported
model takes raw pictures. Weights come from the model file style transfer uses
(`vgg19_caffe_q.bin`, fetched by `manage.py fetch_models`).

Augmentation is not used here: a cached feature is the feature of one fixed picture.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from playground.datasets import Dataset
from playground.loop import Controls, OnEvent, evaluate, stop_asked, train_one_epoch
from playground.modelfile import VGG19_TRANSFER, model_header
from styletransfer.config import BLOCK_DEPTHS, BLOCK_WIDTHS
from styletransfer.vgg import CAFFE, WEIGHTS_FILE, Preprocessing, VGGFeatures, load_vgg19

MODES = ("scratch", "frozen", "finetune")
BACKBONES = ("vgg19",)


class TransferError(ValueError):
    """Settings that cannot be used; the message is meant for the user."""


@dataclass
class TransferConfig:
    mode: str = "frozen"  # "scratch", "frozen" or "finetune"
    cut: int = 3  # keep VGG19's blocks 1..cut (each ends in a 2×2 max pool)
    image_size: int = 32  # pictures are resized to this before the trunk
    hidden: int = 128  # units of the head's hidden layer (0: a linear head)
    finetune_blocks: int = 1  # "finetune": how many of the last kept blocks train
    lr: float = 1e-3  # the head's learning rate (Adam)
    finetune_lr_scale: float = 0.1  # trainable trunk blocks learn this much slower
    batch_size: int = 32
    epochs: int = 15
    weight_decay: float = 0.0
    seed: int = 0
    device: str = "cpu"

    def check(self) -> None:
        if self.mode not in MODES:
            raise TransferError(f"mode must be one of {', '.join(MODES)}")
        if not 1 <= self.cut <= len(BLOCK_DEPTHS):
            raise TransferError(f"cut must be a block in 1..{len(BLOCK_DEPTHS)}")
        if not 2**self.cut <= self.image_size <= 224:
            raise TransferError(f"image size must be in {2**self.cut}..224 for a cut at {self.cut}")
        if self.mode == "finetune" and not 1 <= self.finetune_blocks <= self.cut:
            raise TransferError(f"fine-tune 1..{self.cut} blocks when the cut is at {self.cut}")
        if not 0 < self.lr <= 1 or not 0 < self.finetune_lr_scale <= 1:
            raise TransferError("learning rate must be in (0, 1] and its fine-tune scale in (0, 1]")
        if not 1 <= self.epochs <= 200 or not 1 <= self.batch_size <= 1024:
            raise TransferError("epochs must be in 1..200 and batch size in 1..1024")
        if not 0 <= self.hidden <= 4096 or not 0 <= self.weight_decay <= 1:
            raise TransferError("hidden units must be in 0..4096 and weight decay in [0, 1]")

    @property
    def frozen_blocks(self) -> int:
        """How many of the kept blocks (from the first) do not train."""
        return {"scratch": 0, "frozen": self.cut, "finetune": self.cut - self.finetune_blocks}[
            self.mode
        ]


# ---------------------------------------------------------------------------------------
# the model


class Prepare(nn.Module):
    """Pictures in [0, 1], (B, 1 or 3, H, W) -> VGG's input at image_size × image_size."""

    def __init__(self, image_size: int, preprocessing: Preprocessing = CAFFE) -> None:
        super().__init__()
        self.image_size = image_size
        self.order = list(preprocessing.order)
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(preprocessing.std).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)  # grey -> RGB
        if x.shape[-2:] != (self.image_size, self.image_size):
            size = (self.image_size, self.image_size)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return (x[:, self.order] - self.mean) / self.std  # (B, 3, S, S)


def vgg_block(index: int, in_channels: int) -> nn.Sequential:
    """VGG19's block `index` (0-based): its 3×3 convs with ReLUs, then a 2×2 max pool."""
    layers: list[nn.Module] = []
    channels = in_channels
    for _ in range(BLOCK_DEPTHS[index]):
        layers += [nn.Conv2d(channels, BLOCK_WIDTHS[index], 3, padding=1), nn.ReLU()]
        channels = BLOCK_WIDTHS[index]
    return nn.Sequential(*layers, nn.MaxPool2d(2))


class Scale(nn.Module):
    """Multiplies by a constant set once from the training features (`factor`): VGG's
    Caffe activations run into the thousands, and a new head learns well only on inputs
    of about unit size. Part of the model, so an exported model carries it."""

    explain_skip = True  # not a feature map of its own: the explain tools look past it

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("factor", torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class TransferNet(nn.Module):
    """`layers` = Prepare, then VGG19 blocks 1..cut; `head` = flatten -> [hidden] -> classes.

    `layers[0]` is the preprocessing; `layers[b]` is VGG block b (1-based), so the
    explain tools find convolutions the same way as in a playground `Net`."""

    def __init__(self, config: TransferConfig, num_classes: int, input_channels: int = 3) -> None:
        super().__init__()
        self.config, self.num_classes = config, num_classes
        self.input_shape = (input_channels, config.image_size, config.image_size)
        blocks = [vgg_block(b, 3 if b == 0 else BLOCK_WIDTHS[b - 1]) for b in range(config.cut)]
        self.layers = nn.Sequential(Prepare(config.image_size), *blocks)
        side = config.image_size // 2**config.cut
        features = BLOCK_WIDTHS[config.cut - 1] * side * side
        head: list[nn.Module] = [Scale(), nn.Flatten()]
        if config.hidden:
            head += [nn.Linear(features, config.hidden), nn.ReLU(), nn.Dropout(0.3)]
        head += [nn.Linear(config.hidden or features, num_classes)]
        self.head = nn.Sequential(*head)

    @property
    def frozen_part(self) -> nn.Sequential:
        """Prepare and the frozen blocks: what the feature cache stands in for."""
        return self.layers[: 1 + self.config.frozen_blocks]

    @property
    def trained_part(self) -> nn.Sequential:
        """The trunk's trainable blocks, then the head."""
        return nn.Sequential(*self.layers[1 + self.config.frozen_blocks :], self.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(x))  # (B, classes) logits


def load_imagenet_weights(net: TransferNet, source: VGGFeatures) -> None:
    """Copy VGG19's ImageNet weights (a loaded trunk reaching at least the net's cut)
    into the kept blocks."""
    convs = [m for m in net.layers.modules() if isinstance(m, nn.Conv2d)]
    if len(source.convs) < len(convs):
        raise TransferError(f"the VGG19 trunk ends before block {net.config.cut}")
    prepare = net.layers[0]
    prepare.order = list(source.order)  # the file's own preprocessing (Caffe or torchvision)
    with torch.no_grad():
        prepare.mean.copy_(source.mean)
        prepare.std.copy_(source.std)
        for mine, theirs in zip(convs, source.convs, strict=False):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)


def transfer_build(
    config: TransferConfig,
    num_classes: int,
    *,
    input_channels: int = 3,
    weights: Path | None = None,
    source: VGGFeatures | None = None,
) -> TransferNet:
    """The net for `config.mode`: ImageNet weights unless "scratch" (He-initialised convs),
    frozen blocks with requires_grad off. `source`: a loaded VGG19 trunk (a worker's shared
    one, styletransfer.vgg.vgg19_shared); else `weights`, the VGG19 file (default: the
    fetched model file)."""
    config.check()
    torch.manual_seed(config.seed)
    net = TransferNet(config, num_classes, input_channels)
    if config.mode == "scratch":
        for m in net.layers.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    else:
        if source is None:
            if weights is None:
                from webapp.modelfiles import model_path

                weights = model_path(WEIGHTS_FILE)
            last = f"relu{config.cut}_{BLOCK_DEPTHS[config.cut - 1]}"
            source = load_vgg19(weights, last_layer=last)
        load_imagenet_weights(net, source)
    net.frozen_part.requires_grad_(False)
    return net


def transfer_summary(net: TransferNet) -> dict:
    """The summary table: each block and the head with output shape, parameters and
    whether it trains; totals of all and of trainable parameters."""
    rows = []
    shape = list(net.input_shape)
    x = torch.zeros(1, *shape)
    with torch.no_grad():
        for index, part in enumerate([*net.layers, net.head]):
            x = part(x)
            params = sum(p.numel() for p in part.parameters())
            trainable = sum(p.numel() for p in part.parameters() if p.requires_grad)
            name = (
                "prepare (RGB, resize, VGG mean)"
                if index == 0
                else "head"
                if index > net.config.cut
                else f"VGG19 block {index} ({BLOCK_DEPTHS[index - 1]} convs + max pool)"
            )
            frozen = params > 0 and trainable == 0
            rows.append({
                "index": index, "name": name, "output_shape": list(x.shape[1:]),
                "params": params, "trainable": trainable, "frozen": frozen,
            })  # fmt: skip
    return {
        "mode": net.config.mode,
        "rows": rows,
        "total_params": sum(r["params"] for r in rows),
        "trainable_params": sum(r["trainable"] for r in rows),
    }


# ---------------------------------------------------------------------------------------
# cached frozen features


def picture_key(picture: torch.Tensor) -> str:
    """A picture's identity for the cache: its shape and exact bytes."""
    data = picture.detach().to("cpu", torch.float32).contiguous()
    digest = hashlib.blake2b(str(tuple(data.shape)).encode(), digest_size=16)
    digest.update(data.numpy().tobytes())
    return digest.hexdigest()


class FeatureCache:
    """The frozen part's output per picture, computed once. Keyed by the picture's bytes
    and the frozen part's identity (backbone, cut of frozen blocks, image size), so the
    same picture in another run, mode or epoch is not recomputed. `computed` counts the
    pictures that went through the frozen part."""

    def __init__(self, max_items: int = 50_000) -> None:
        self.items: dict[tuple[str, str], torch.Tensor] = {}
        self.max_items, self.computed = max_items, 0

    def features(self, net: TransferNet, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """(N, ...) frozen features of pictures x (N, C, H, W), from the cache where held."""
        part = net.frozen_part.eval()
        tag = f"vgg19-imagenet/{net.config.frozen_blocks}/{net.config.image_size}"
        if net.config.mode == "scratch":
            tag = f"prepare/{net.config.image_size}"  # nothing frozen but the resizing
        keys = [(tag, picture_key(p)) for p in x]
        missing = [i for i, k in enumerate(keys) if k not in self.items]
        device = next(iter(net.parameters())).device
        with torch.no_grad():
            for start in range(0, len(missing), batch_size):
                chunk = missing[start : start + batch_size]
                out = part(x[chunk].to(device)).cpu()
                for i, feature in zip(chunk, out, strict=True):
                    self.items[keys[i]] = feature
                self.computed += len(chunk)
        if len(self.items) > self.max_items:  # oldest first (dicts keep insertion order)
            for key in list(self.items)[: len(self.items) - self.max_items]:
                if key not in keys:
                    del self.items[key]
        return torch.stack([self.items[k] for k in keys])


# ---------------------------------------------------------------------------------------
# training


@dataclass
class TransferResult:
    mode: str
    train_pictures: int
    val_accuracy: float
    val_loss: float
    seconds: float
    history: list[dict] = field(default_factory=list)  # per epoch: epoch, val_accuracy, ...
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def transfer_train(
    net: TransferNet,
    data: Dataset,
    cache: FeatureCache | None = None,
    *,
    on_event: OnEvent | None = None,
    controls: Controls | None = None,
) -> TransferResult:
    """Train the trainable part of `net` on `data` (Adam; fine-tuned blocks at a smaller
    learning rate). The frozen part runs once per picture through `cache`. Speaks the
    loops' protocol (playground/loop.py): an "epoch" event per epoch, "stop" obeyed
    between epochs."""
    config = net.config
    cache = cache if cache is not None else FeatureCache()
    device = torch.device(config.device)
    net.to(device)
    started = time.perf_counter()
    train_f = cache.features(net, data.train_x)  # (N, ...) on the CPU
    val_f = cache.features(net, data.val_x).to(device)
    trunk = [p for p in net.layers[1 + config.frozen_blocks :].parameters()]
    groups = [{"params": list(net.head.parameters()), "lr": config.lr}]
    if trunk:
        scale = config.finetune_lr_scale if config.mode == "finetune" else 1.0
        groups.append({"params": trunk, "lr": config.lr * scale})
    optimizer = torch.optim.Adam(groups, weight_decay=config.weight_decay)
    trained = net.trained_part
    with torch.no_grad():  # the head's input scale, from the trunk's output at the start
        trunk_out = nn.Sequential(*trained[:-1]).eval()
        sample = train_f[:256].to(device)
        net.head[0].factor.fill_(1 / float(trunk_out(sample).std().clamp_min(1e-6)))
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    val_y = data.val_y.to(device)

    def batches():  # the cached features in a fresh seeded order
        order = torch.randperm(len(train_f), generator=generator)
        for start in range(0, len(order), config.batch_size):
            index = order[start : start + config.batch_size]
            yield train_f[index].to(device), data.train_y[index].to(device)

    for epoch in range(1, config.epochs + 1):
        train_loss, train_accuracy = train_one_epoch(trained, optimizer, batches())
        val_loss, val_accuracy, _, _ = evaluate(trained, val_f, val_y, batch_size=256)
        row = {
            "epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
            "val_loss": val_loss, "val_accuracy": val_accuracy,
            "seconds": time.perf_counter() - started,
        }  # fmt: skip
        if not math.isfinite(row["train_loss"]):
            raise TransferError(f"the training diverged at epoch {epoch}: lower the learning rate")
        history.append(row)
        if on_event:
            on_event({"type": "epoch", **row})
        if stop_asked(controls):
            break
    net.eval()
    last = history[-1]
    return TransferResult(
        mode=config.mode,
        train_pictures=len(data.train_y),
        val_accuracy=last["val_accuracy"],
        val_loss=last["val_loss"],
        seconds=time.perf_counter() - started,
        history=history,
        summary=transfer_summary(net.cpu()),
    )


def per_class_subset(data: Dataset, per_class: int, seed: int = 0) -> Dataset:
    """The same validation pictures, and only `per_class` training pictures of each class
    (the first ones in a seeded order), for "how much data does each mode need"."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.train_y), generator=generator)
    keep: list[int] = []
    counts = [0] * len(data.classes)
    for i in order.tolist():
        label = int(data.train_y[i])
        if counts[label] < per_class:
            counts[label] += 1
            keep.append(i)
    index = torch.tensor(sorted(keep))
    return Dataset(
        data.name, data.classes, data.train_x[index], data.train_y[index], data.val_x, data.val_y
    )


def compare_modes(
    data: Dataset,
    base: TransferConfig,
    per_class: tuple[int, ...] = (10, 30, 100),
    modes: tuple[str, ...] = MODES,
    *,
    weights: Path | None = None,
    on_result: Callable[[dict], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[dict]:
    """Train every mode on every training-set size (same validation pictures, same
    seed); one FeatureCache for all, so each picture goes through the frozen trunk
    once per frozen depth. Returns one row per (mode, per_class) with its history."""
    cache = FeatureCache()
    rows = []
    for n in per_class:
        subset = per_class_subset(data, n, base.seed)
        for mode in modes:
            if should_stop and should_stop():
                return rows
            config = TransferConfig(**{**asdict(base), "mode": mode})
            net = transfer_build(
                config, len(data.classes), input_channels=data.input_shape[0], weights=weights
            )
            result = transfer_train(net, subset, cache)
            row = {"per_class": n, **result.to_dict()}
            rows.append(row)
            if on_result:
                on_result(row)
    return rows


# ---------------------------------------------------------------------------------------
# on disk


def transfer_save(net: TransferNet, classes: list[str], directory: Path) -> dict[str, Path]:
    """model.pt (settings, classes, weights) and model.torchscript.pt, which takes raw
    pictures in [0, 1] (the resizing and VGG's preprocessing are inside) and carries
    its class names as `classes`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "checkpoint": directory / "model.pt",
        "torchscript": directory / "model.torchscript.pt",
    }
    checkpoint = {
        **model_header(architecture=VGG19_TRANSFER, task="classify", classes=classes,
                       input_shape=net.input_shape, preprocessing={
                           "channels": "grey or RGB", "resize": "any (inside)",
                           "scale": "pixels / 255",
                           "inside": "RGB, resize and VGG19's own normalisation"}),
        "transfer": asdict(net.config) | {"device": "cpu"},
        "input_channels": net.input_shape[0],
        "state_dict": net.state_dict(),
    }
    net = net.eval().cpu()
    with torch.no_grad(), warnings.catch_warnings():
        # Prepare's branches (grey or not, resize or not) are fixed by the input shape,
        # which is the traced model's contract: the tracer's warning about them is expected
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        scripted = torch.jit.trace(net, torch.rand(1, *net.input_shape))
    extra = {"classes.json": json.dumps(list(classes)), "input.json": json.dumps({
        "shape": list(net.input_shape), "range": [0, 1],
        "note": "RGB or grey pixels / 255; resized and normalised inside",
    })}  # fmt: skip
    for key, write in (
        ("checkpoint", lambda p: torch.save(checkpoint, p)),
        ("torchscript", lambda p: torch.jit.save(scripted, p, _extra_files=extra)),
    ):
        partial = paths[key].with_suffix(".partial")
        write(str(partial))
        partial.replace(paths[key])
    return paths


def transfer_load(source) -> tuple[TransferNet, list[str]]:
    """A net saved by `transfer_save` (a path or a file object), in eval mode, and its classes."""
    checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    config = TransferConfig(**checkpoint["transfer"])
    net = TransferNet(config, len(checkpoint["classes"]), checkpoint["input_channels"])
    net.load_state_dict(checkpoint["state_dict"])
    return net.eval(), checkpoint["classes"]
