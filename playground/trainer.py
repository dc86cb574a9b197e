"""Training loop with a cheap live view and controls polled between batches.

Events go to `on_event(dict)`; every dict is JSON-serialisable and has a "type":

    status       {"type", "state": "running"|"paused"|"stopped"|"finished", "epoch", "step"}
    metrics      {"type", "epoch", "step", "samples", "train_loss", "train_accuracy", "lr",
                  "samples_per_s"}      running means since the previous metrics event
    gradients    {"type", "step", "names": [str], "norms": [float|None]}  one per layer
    filters      {"type", "step", "shape": [F, C, k, k], "image": PNG data URL}
    activations  {"type", "step", "input": PNG, "layers": [{"index", "type", "shape",
                  "shown", "image"}]}
    epoch        {"type", "epoch", "train_loss", "train_accuracy", "val_loss",
                  "val_accuracy", "seconds"}
    confusion    {"type", "epoch", "classes": [str], "matrix": [[int]]}  rows = true class
    samples      {"type", "epoch", "items": [{"image", "label", "predicted", "confidence"}]}

metrics + gradients are sent at most every `metrics_interval` seconds, filters +
activations every `pictures_interval`; epoch, confusion and samples once per epoch.
Between throttled events a batch costs two tensor additions more than a bare loop.

`controls()` is polled at most every `controls_interval` seconds and returns a list of
commands: {"command": "stop"}, {"command": "pause"}, {"command": "resume"},
{"command": "set_lr", "lr": 0.01}. Pausing keeps the optimiser state (momentum, Adam's
moments); the loop just waits, polling controls, until resume or stop.
"""

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from playground.datasets import Augment, Dataset, augment_batch
from playground.limits import LIMITS, Limits
from playground.liveview import (
    activations_event,
    filters_event,
    gradient_norms,
    layer_names,
    picture_url,
)
from playground.netspec import Net

OPTIMIZERS = ("sgd", "rmsprop", "adam")
INITS = ("default", "zeros", "small", "xavier", "he")


@dataclass
class TrainConfig:
    optimizer: str = "adam"  # "sgd" (with momentum), "rmsprop" or "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # SGD only
    batch_size: int = 64
    epochs: int = 5
    weight_decay: float = 0.0
    init: str = "default"  # "default" (PyTorch's), "zeros", "small" (N(0, 0.01)), "xavier", "he"
    augment: Augment = field(default_factory=Augment)
    seed: int = 0
    device: str = "cpu"
    metrics_interval: float = 0.5  # seconds between metrics + gradients events
    pictures_interval: float = 2.0  # seconds between filters + activations events
    controls_interval: float = 0.2  # seconds between polls of controls()
    activation_sample: int = 0  # index into the validation set of the picture whose maps are shown
    samples_shown: int = 8  # validation pictures shown with their predictions each epoch

    def check(self, limits: Limits = LIMITS) -> None:
        """Raise ValueError with a user-facing message if a setting is out of range."""
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}")
        if not 0 < self.lr <= 10:
            raise ValueError("learning rate must be in (0, 10]")
        if not 1 <= self.epochs <= limits.max_epochs:
            raise ValueError(f"epochs must be in 1..{limits.max_epochs}")
        if not 1 <= self.batch_size <= limits.max_batch_size:
            raise ValueError(f"batch size must be in 1..{limits.max_batch_size}")
        if not 0 <= self.weight_decay <= 1 or not 0 <= self.momentum < 1:
            raise ValueError("weight decay must be in [0, 1] and momentum in [0, 1)")


@dataclass
class TrainResult:
    epochs: int  # epochs completed
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float  # training time, pauses excluded
    stopped: bool
    history: list[dict] = field(default_factory=list)  # the "epoch" events

    def to_dict(self) -> dict:
        return asdict(self)


def init_weights(model: nn.Module, scheme: str) -> None:
    """Re-initialise every conv and linear layer; batch norm keeps weight 1, bias 0."""
    for m in model.modules():
        if not isinstance(m, nn.Conv2d | nn.Linear):
            continue
        if scheme == "default":
            m.reset_parameters()
            continue
        if scheme == "zeros":
            nn.init.zeros_(
                m.weight
            )  # every unit of a layer stays identical: symmetry is never broken
        elif scheme == "small":
            nn.init.normal_(m.weight, 0.0, 0.01)
        elif scheme == "xavier":
            nn.init.xavier_normal_(m.weight)
        elif scheme == "he":
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if m.bias is not None:
            nn.init.zeros_(m.bias)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params, wd = model.parameters(), config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=wd)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, weight_decay=wd)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=wd)


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512):
    """(mean loss, accuracy, predictions, confidences) over a whole split."""
    was_training = model.training
    model.eval()
    logits = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    loss = F.cross_entropy(logits, y).item()
    confidence, predicted = logits.softmax(dim=1).max(dim=1)
    return loss, (predicted == y).float().mean().item(), predicted, confidence


@dataclass
class _Run:
    paused: bool = False
    stopped: bool = False

    def obey(self, commands: list[dict], optimizer: torch.optim.Optimizer) -> None:
        for command in commands:
            name = command.get("command")
            if name == "stop":
                self.stopped = True
            elif name in ("pause", "resume"):
                self.paused = name == "pause"
            elif name == "set_lr" and 0 < float(command.get("lr", 0)) <= 10:
                for group in optimizer.param_groups:
                    group["lr"] = float(command["lr"])


class _Controls:
    """Polls the caller's controls() at most every `interval` seconds."""

    def __init__(self, poll: Callable[[], Iterable[dict]] | None, interval: float):
        self.poll, self.interval, self.last = poll, interval, float("-inf")

    def due(self, now: float) -> list[dict]:
        if self.poll is None or now - self.last < self.interval:
            return []
        self.last = now
        return list(self.poll() or [])


def train(
    model: Net,
    data: Dataset,
    config: TrainConfig,
    *,
    on_event: Callable[[dict], None] | None = None,
    controls: Callable[[], Iterable[dict]] | None = None,
    limits: Limits = LIMITS,
) -> TrainResult:
    """Train model on data, streaming live-view events and obeying controls."""
    config.check(limits)
    emit = on_event or (lambda event: None)
    live = on_event is not None
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    init_weights(model, config.init)
    mean, std = data.mean_std()
    model.mean.copy_(mean)
    model.std.copy_(std)
    model.to(device).train()
    optimizer = make_optimizer(model, config)
    train_x, train_y = data.train_x.to(device), data.train_y.to(device)
    val_x, val_y = data.val_x.to(device), data.val_y.to(device)
    shuffle = torch.Generator(device="cpu").manual_seed(config.seed)
    augment_rng = torch.Generator(device=device).manual_seed(config.seed)
    names, k = layer_names(model), len(data.classes)
    sample = val_x[min(config.activation_sample, len(val_x) - 1)]
    poller = _Controls(controls, config.controls_interval)

    step, seconds, run = 0, 0.0, _Run()
    history: list[dict] = []
    last_metrics = last_pictures = time.monotonic()
    started = last_metrics
    emit({"type": "status", "state": "running", "epoch": 0, "step": 0})
    if live:
        for event in (filters_event(model, 0), activations_event(model, sample, 0)):
            if event is not None:
                emit(event)
    epoch = 0
    for epoch in range(1, config.epochs + 1):
        loss_sum = torch.zeros((), device=device)  # summed on the device: no sync per batch
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = window_seen = 0
        order = torch.randperm(len(train_y), generator=shuffle).to(device)
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            x, y = train_x[idx], train_y[idx]
            if config.augment.active:
                x = augment_batch(x, config.augment, augment_rng)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            now = time.monotonic()
            # The first step reports at once, so even a run shorter than the interval
            # draws its curves; after that, once per interval.
            report = live and (step == 0 or now - last_metrics >= config.metrics_interval)
            if report:
                emit(
                    {
                        "type": "gradients",
                        "step": step,
                        "names": names,
                        "norms": gradient_norms(model),
                    }
                )
            optimizer.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits.detach().argmax(dim=1) == y).sum()
            seen, window_seen, step = seen + len(y), window_seen + len(y), step + 1

            if report:
                emit(
                    {
                        "type": "metrics",
                        "epoch": epoch,
                        "step": step,
                        "samples": seen,
                        "train_loss": loss_sum.item() / seen,
                        "train_accuracy": correct.item() / seen,
                        "lr": optimizer.param_groups[0]["lr"],
                        "samples_per_s": window_seen / (now - last_metrics),
                    }
                )
                last_metrics, window_seen = now, 0
            if live and now - last_pictures >= config.pictures_interval:
                for event in (filters_event(model, step), activations_event(model, sample, step)):
                    if event is not None:
                        emit(event)
                last_pictures = now

            run.obey(poller.due(now), optimizer)
            if run.paused:
                seconds += time.monotonic() - started
                emit({"type": "status", "state": "paused", "epoch": epoch, "step": step})
                while run.paused and not run.stopped:
                    time.sleep(config.controls_interval)
                    run.obey(poller.due(time.monotonic()), optimizer)
                started = last_metrics = time.monotonic()
                if not run.stopped:
                    emit({"type": "status", "state": "running", "epoch": epoch, "step": step})
            if run.stopped:
                break

        train_loss, train_acc = loss_sum.item() / max(seen, 1), correct.item() / max(seen, 1)
        val_loss, val_acc, predicted, confidence = evaluate(model, val_x, val_y)
        elapsed = seconds + time.monotonic() - started
        record = {
            "type": "epoch",
            "epoch": epoch,
            "train_loss": train_loss,
            "train_accuracy": train_acc,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "seconds": elapsed,
        }
        history.append(record)
        emit(record)
        if live:
            matrix = torch.bincount(val_y * k + predicted, minlength=k * k).reshape(k, k)
            emit(
                {
                    "type": "confusion",
                    "epoch": epoch,
                    "classes": data.classes,
                    "matrix": matrix.tolist(),
                }
            )
            shown = range(min(config.samples_shown, len(val_y)))
            items = [
                {
                    "image": picture_url(val_x[j]),
                    "label": int(val_y[j]),
                    "predicted": int(predicted[j]),
                    "confidence": round(float(confidence[j]), 4),
                }
                for j in shown
            ]
            emit({"type": "samples", "epoch": epoch, "items": items})
        if run.stopped:
            break

    state = "stopped" if run.stopped else "finished"
    emit({"type": "status", "state": state, "epoch": epoch, "step": step})
    last = history[-1]
    return TrainResult(
        epochs=epoch if seen == len(train_y) else epoch - 1,  # a stopped epoch does not count
        train_loss=last["train_loss"],
        train_accuracy=last["train_accuracy"],
        val_loss=last["val_loss"],
        val_accuracy=last["val_accuracy"],
        seconds=last["seconds"],
        stopped=run.stopped,
        history=history,
    )
