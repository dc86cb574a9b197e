"""What a training run costs, estimated before it is queued: peak memory and run time
from the spec's summary and the run's settings. No torch, no Django.

    memory = BASE + dataset + weights + max(training step, evaluation)
        dataset       = DATA_FACTOR × pictures × C×H×W × 4 B        (all of it on the device)
        weights       = params × 4 B × (weights + gradients + optimiser slots)
        training step = batch × 4 B × (ACT_PLAIN × outputs of plain layers
                                       + ACT_NORM × outputs of batch norm and blocks)
                        (every layer's output is kept for the backward pass)
        evaluation    = EVAL_FACTOR × largest layer output × min(512, val pictures) × 4 B
                        (a residual or Inception block's output counts BLOCK_EVAL times)
    run time = BASE_S + epochs × (steps × STEP_S
                                  + (3 × trained + validation pictures)
                                    × (mult-adds × MAC_S + activations × ACT_S))

The constants are fitted to runs measured with `bench/bench_playground.py --cost` (one
CPU thread; the method and the figures are in docs/playground.md, "Cost estimate").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

from webapp.jobkinds import Budget, JobCost

MB = 2**20
FLOAT = 4  # bytes of a float32
EVAL_BATCH = 512  # trainer.evaluate's batch

# --- fitted (docs/playground.md, "Cost estimate") --------------------------------------
BASE_MB = 250.0  # what a run adds to a worker whatever the net: torch's first allocations
DATA_FACTOR = 3.0  # a dataset's tensors, with the copies made while it is built
ACT_PLAIN = 1.2  # conv, activation, pooling, linear: kept for the backward pass
ACT_NORM = 2.5  # batch norm and the blocks (which hold batch norms): their backward copies
EVAL_FACTOR = 4.0  # an evaluation batch's largest layer output, with its neighbours
BLOCK_EVAL = 3.0  # ... a block's, whose branches are alive together
STEP_S = 2.2e-3  # per training step: Python, the optimiser, the live view's checks
MAC_S = 2.5e-11  # per multiply-add, one CPU thread
ACT_S = 1.5e-9  # per activation float written and read back (memory-bound layers)
BASE_S = 1.3  # the net, the first pictures of the live view
# A GPU was not available to fit its constants: its compute terms are taken as this many
# times faster than one CPU thread (deliberately low for the small nets of the
# playground); the per-step overhead (Python, launches) stays.
GPU_SPEEDUP = 50.0

NORM_TYPES = {"batchnorm", "residual", "inception"}
BLOCK_TYPES = {"residual", "inception"}
OPTIMISER_SLOTS = {"adam": 2, "sgd": 1, "rmsprop": 1}  # state tensors per weight
# Train and validation pictures of the built-in datasets, for the defaults the form uses.
GENERATED_DEFAULT = 2000  # stripes, shapes: pictures generated when none are asked for
DIGITS = 1797
MNIST5K = 5000
TORCHVISION_TRAIN = {"mnist": 60_000, "fashion_mnist": 60_000, "cifar10": 50_000}
TORCHVISION_TEST = 10_000
DATASET_CAP = 70_000  # playground.limits.Limits.max_dataset_samples


class Summary(Protocol):
    """What the estimate reads of playground.netspec.Summary."""

    input_shape: list[int]
    total_params: int
    total_mult_adds: int
    activation_floats: int
    rows: list[Any]


def dataset_sizes(params: Mapping[str, Any]) -> tuple[int, int]:
    """(train, validation) pictures of the run these params describe."""
    name, wanted = params["dataset"], params.get("max_samples")
    if name in TORCHVISION_TRAIN:  # the official test split, a fifth of the train count
        train = min(wanted or DATASET_CAP, DATASET_CAP, TORCHVISION_TRAIN[name])
        return train, min(max(1, train // 5), TORCHVISION_TEST)
    if name == "digits":
        total = min(wanted or DIGITS, DIGITS)
    elif name == "mnist5k":
        total = min(wanted or MNIST5K, MNIST5K)
    elif name == "upload":
        total = int(params.get("upload_pictures") or 2)
    else:
        total = min(wanted or GENERATED_DEFAULT, DATASET_CAP)
    held_out = min(total - 1, max(1, round(total * params.get("val_fraction", 0.2))))
    return total - held_out, held_out


def memory_mb(
    summary: Summary, *, pictures: tuple[int, int], batch_size: int, optimizer: str
) -> float:
    """Peak memory of a run, in MB (see the module's docstring)."""
    return _fixed_mb(summary, pictures, optimizer) + max(
        _step_mb(summary) * batch_size, _eval_mb(summary, pictures[1])
    )


def runtime_s(
    summary: Summary, *, pictures: tuple[int, int], batch_size: int, epochs: int, device: str
) -> float:
    """Run time of a run on `device` ("cpu": one thread; "cuda"), in seconds."""
    return BASE_S + epochs * _epoch_s(summary, pictures, batch_size, device)


def train_cost(
    *,
    summary: Summary,
    samples: tuple[int, int],
    batch_size: int,
    epochs: int,
    optimizer: str,
    budget: Budget,
) -> JobCost:
    """The run's JobCost, with the largest batch size and epoch count that fit the budget
    as the advice when it does not."""
    memory = memory_mb(summary, pictures=samples, batch_size=batch_size, optimizer=optimizer)
    runtime = runtime_s(
        summary, pictures=samples, batch_size=batch_size, epochs=epochs, device=budget.device
    )
    lower = {}
    if memory > budget.memory_mb:
        lower["memory"] = _memory_advice(summary, samples, optimizer, budget.memory_mb)
    if runtime > budget.runtime_s:
        lower["runtime"] = _runtime_advice(summary, samples, batch_size, budget)
    return JobCost(memory_mb=memory, runtime_s=runtime, lower=lower)


def _fixed_mb(summary: Summary, pictures: tuple[int, int], optimizer: str) -> float:
    data = DATA_FACTOR * sum(pictures) * math.prod(summary.input_shape) * FLOAT
    weights = summary.total_params * FLOAT * (2 + OPTIMISER_SLOTS.get(optimizer, 2))
    return BASE_MB + (data + weights) / MB


def _step_mb(summary: Summary) -> float:
    """Memory of one picture of a training batch."""
    plain = sum(math.prod(row.output_shape) for row in summary.rows if row.type not in NORM_TYPES)
    normed = summary.activation_floats - plain  # batch norms, blocks and their inner tensors
    return (ACT_PLAIN * plain + ACT_NORM * normed) * FLOAT / MB


def _eval_mb(summary: Summary, validation: int) -> float:
    largest = max(
        math.prod(row.output_shape) * (BLOCK_EVAL if row.type in BLOCK_TYPES else 1)
        for row in summary.rows
    )
    return EVAL_FACTOR * largest * min(EVAL_BATCH, validation) * FLOAT / MB


def _epoch_s(summary: Summary, pictures: tuple[int, int], batch_size: int, device: str) -> float:
    train, validation = pictures
    steps = math.ceil(train / batch_size)
    per_picture = summary.total_mult_adds * MAC_S + summary.activation_floats * ACT_S
    compute = (3 * train + validation) * per_picture  # backward ≈ twice the forward
    return steps * STEP_S + compute / (GPU_SPEEDUP if device == "cuda" else 1.0)


def _memory_advice(
    summary: Summary, pictures: tuple[int, int], optimizer: str, budget_mb: float
) -> str:
    room = budget_mb - _fixed_mb(summary, pictures, optimizer)
    if _eval_mb(summary, pictures[1]) <= room:
        fits = math.floor(room / _step_mb(summary))
        if fits >= 1:
            return f"lower the batch size to {fits}"
    return "choose a net with fewer or smaller layer outputs (fewer filters, more pooling)"


def _runtime_advice(
    summary: Summary, pictures: tuple[int, int], batch_size: int, budget: Budget
) -> str:
    epochs = math.floor((budget.runtime_s - BASE_S) / _epoch_s(summary, pictures, batch_size,
                                                               budget.device))  # fmt: skip
    if epochs >= 1:
        return f"lower the epochs to {epochs}"
    return "use fewer pictures or a smaller net"


# ---------------------------------------------------------------------------------------
# transfer learning (playground/transfer.py): VGG19's blocks, counted, not fitted

VGG_DEPTHS, VGG_WIDTHS = (2, 2, 4, 4, 4), (64, 128, 256, 512, 512)


def vgg_macs(cut: int, side: int, first: int = 0) -> float:
    """Multiply-adds of VGG19's blocks first+1..cut for one side × side picture."""
    macs, channels = 0.0, 3 if first == 0 else VGG_WIDTHS[first - 1]
    side //= 2**first
    for block in range(first, cut):
        for _ in range(VGG_DEPTHS[block]):
            macs += side * side * VGG_WIDTHS[block] * channels * 9
            channels = VGG_WIDTHS[block]
        side //= 2
    return macs


def transfer_cost(params: Mapping[str, Any], budget: Budget) -> JobCost:
    """A transfer run's peak memory and time: the frozen part runs once per picture (the
    cache), a trained block three times per picture and epoch, validation once per epoch."""
    t = params["transfer"]
    cut, side, epochs = int(t["cut"]), int(t.get("image_size", 32)), int(t["epochs"])
    modes = ("scratch", "frozen", "finetune") if t["mode"] == "compare" else (t["mode"],)
    train_all, val = dataset_sizes({**params, "max_samples": None})
    classes = 10
    sizes = [min(int(n) * classes, train_all) for n in t.get("per_class") or []] or [train_all]
    mac_s = MAC_S / (GPU_SPEEDUP if budget.device == "cuda" else 1)
    seconds = BASE_S
    for n in sizes:
        for mode in modes:
            frozen = {"scratch": 0, "frozen": cut, "finetune": cut - 1}[mode]
            once = vgg_macs(frozen, side) * (n + val)
            trained = vgg_macs(cut, side, frozen) * (3 * n + val) * epochs
            seconds += (once + trained) * mac_s
    weights = sum(VGG_WIDTHS[b] * 9 * VGG_WIDTHS[b] * VGG_DEPTHS[b] for b in range(cut))
    side_out = side // 2**cut
    features = (train_all + val) * VGG_WIDTHS[cut - 1] * side_out**2 * FLOAT
    first_maps = 64 * side * side * FLOAT * 6 * 64  # block 1's maps for a batch, kept for backward
    memory = BASE_MB + (weights * FLOAT * 4 + features * 2 + first_maps) / MB
    lower = {}
    if seconds > budget.runtime_s:
        lower["runtime"] = "train on fewer pictures per class, or fewer epochs"
    return JobCost(memory_mb=memory, runtime_s=seconds, lower=lower)
