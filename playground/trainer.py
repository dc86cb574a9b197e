"""Training loop with a cheap live view and controls polled between batches.

Events go to `on_event(dict)`; every dict is JSON-serialisable and has a "type":

    status       {"type", "state": "running"|"paused"|"stopped"|"finished"|"diverged",
                  "epoch", "step"}  a divergence adds "message", "loss" ("NaN"/"inf"),
                  "last_finite_step" and "last_finite_loss" (null when no step had one)
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
Between throttled events a batch costs two tensor additions (and keeping a reference to
its loss for the divergence check) more than a bare loop. The last batch of an epoch
never holds a single picture: it joins the batch before it (batch norm cannot
normalise one picture's values).

`controls()` is polled at most every `controls_interval` seconds and returns a list of
commands: {"command": "stop"}, {"command": "pause"}, {"command": "set_lr", "lr": 0.01}.
A pause does not wait here: it raises `TrainingPaused` with a checkpoint (weights,
optimiser state, this epoch's sample order, every random generator, the history) and
`train(..., resume=checkpoint)` goes on from the next batch exactly as an unpaused run
would, in another process if need be. A loss that turns NaN or infinite raises
`TrainingDiverged` before any non-finite number leaves the trainer in an event.
"""

import itertools
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from playground.datasets import Augment, Dataset, augment_batch
from playground.limits import LIMITS, Limits
from playground.liveview import (
    activations_event,
    filters_event,
    gradient_norms,
    layer_names,
)
from playground.loop import (  # noqa: F401 - evaluate: benches
    Controls,
    EpochTally,
    OnEvent,
    evaluate,
    train_one_epoch,
)
from playground.netspec import Net, batch_size_check, summarize
from playground.objectives import Task

OPTIMIZERS = ("sgd", "rmsprop", "adam")
INITS = ("default", "zeros", "small", "xavier", "he")
SCHEDULES = ("constant", "cosine")


def schedule_factor(config: "TrainConfig", epoch: int) -> float:
    """The share of the chosen learning rate used in `epoch` (1-based)."""
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * (epoch - 1) / config.epochs))
    return 1.0


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
    schedule: str = "constant"  # or "cosine": each epoch's lr falls from lr to near 0
    seed: int = 0
    device: str = "cpu"
    metrics_interval: float = 0.5  # seconds between metrics + gradients events
    pictures_interval: float = 2.0  # seconds between filters + activations events
    controls_interval: float = 0.2  # seconds between polls of controls()
    activation_sample: int = 0  # index into the validation set of the picture whose maps are shown
    samples_shown: int = 8  # validation pictures shown with their predictions each epoch

    @classmethod
    def from_knobs(cls, values: Mapping[str, Any], **rest: Any) -> "TrainConfig":
        """The settings a person chooses (form or command line) taken from `values`, plus
        `rest` (device, augmentation, ...)."""
        knobs = ("optimizer", "lr", "batch_size", "epochs", "weight_decay", "init", "seed")
        return cls(**{k: values[k] for k in knobs}, **rest)

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
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}")
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


class TrainingPaused(Exception):  # noqa: N818 - a signal, not an error
    """Raised between two batches when the controls asked for a pause. `checkpoint` has
    all that `train(..., resume=checkpoint)` needs to go on exactly where it stopped; it
    is also a model file that `export.model_load` reads."""

    def __init__(self, checkpoint: dict[str, Any]) -> None:
        super().__init__(f"paused after step {checkpoint['position']['step']}")
        self.checkpoint = checkpoint


class TrainingDiverged(Exception):  # noqa: N818 - the run's outcome, explained
    """The loss became NaN or infinite: the weights are lost, so the run ends here."""

    def __init__(
        self, *, step: int, epoch: int, loss: float, last_finite: list | None, what: str = "loss"
    ) -> None:
        self.step, self.epoch, self.loss, self.last_finite = step, epoch, loss, last_finite
        value = "NaN" if math.isnan(loss) else "infinite"
        before = (
            f"the last finite loss was {last_finite[1]:.4g}, at step {last_finite[0]}"
            if last_finite
            else "no step had a finite loss"
        )
        super().__init__(
            f"The training diverged: the {what} became {value} at step {step} ({before}). "
            "Lower the learning rate or add batch norm."
        )

    def event(self) -> dict:
        """The status event that tells the page, with JSON-safe numbers only."""
        return {
            "type": "status",
            "state": "diverged",
            "epoch": self.epoch,
            "step": self.step,
            "loss": "NaN" if math.isnan(self.loss) else "inf",
            "last_finite_step": self.last_finite[0] if self.last_finite else None,
            "last_finite_loss": self.last_finite[1] if self.last_finite else None,
            "message": str(self),
        }


def batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """(start, stop) of each batch of an epoch of n pictures. A last batch of one picture
    joins the batch before it: batch norm cannot normalise a single picture's values."""
    edges = [*range(0, n, batch_size), n]
    if batch_size > 1 and len(edges) > 2 and edges[-1] - edges[-2] == 1:
        del edges[-2]
    return list(itertools.pairwise(edges))


class _LossWatch:
    """Holds each step's loss, still on the device, until `check`: finding the first
    non-finite one then costs one sync, at moments the loop syncs anyway."""

    def __init__(self, first_step: int, last_finite: list | None) -> None:
        self.losses: list[torch.Tensor] = []
        self.first_step = first_step  # the step of losses[0]
        self.last_finite = last_finite  # [step, loss] of the latest finite loss

    def add(self, loss: torch.Tensor) -> None:
        self.losses.append(loss.detach())

    def check(self, epoch: int) -> None:
        """Raise TrainingDiverged at the first NaN or infinite loss since the last check."""
        if not self.losses:
            return
        values = torch.stack(self.losses).float().cpu()
        bad = (~torch.isfinite(values)).nonzero().flatten().tolist()
        if bad:
            j = bad[0]
            if j:
                self.last_finite = [self.first_step + j - 1, float(values[j - 1])]
            step, loss = self.first_step + j, float(values[j])
            raise TrainingDiverged(step=step, epoch=epoch, loss=loss, last_finite=self.last_finite)
        self.last_finite = [self.first_step + len(values) - 1, float(values[-1])]
        self.first_step += len(values)
        self.losses = []


@dataclass
class _Position:
    """Where a run is. With the weights, the optimiser and the random generators it makes
    a checkpoint."""

    epoch: int = 1
    batch: int = 0  # the next batch of this epoch
    step: int = 0  # batches trained so far
    seconds: float = 0.0  # training time, pauses excluded
    history: list[dict] = field(default_factory=list)  # the "epoch" events
    order: torch.Tensor | None = None  # this epoch's sample order; None between epochs
    tally: EpochTally = field(default_factory=EpochTally)  # this epoch's sums, on the device

    @classmethod
    def resumed(cls, saved: dict[str, Any], device: torch.device) -> "_Position":
        order, loss_sum, correct = (saved[k].to(device) for k in ("order", "loss_sum", "correct"))
        at = cls(**{k: saved[k] for k in ("epoch", "batch", "step", "seconds")})
        at.history, at.order = list(saved["history"]), order
        # the score was a count in checkpoints from before the tasks
        at.tally = EpochTally(loss_sum, correct.float(), saved["seen"])
        return at

    def saved(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "batch": self.batch,
            "step": self.step,
            "seconds": self.seconds,
            "history": self.history,
            "order": self.order.cpu(),
            "loss_sum": self.tally.loss_sum.cpu(),
            "correct": self.tally.correct.cpu(),
            "seen": self.tally.seen,
        }


@dataclass
class _Run:
    paused: bool = False
    stopped: bool = False

    def obey(self, commands: list[dict], optimizer: torch.optim.Optimizer) -> None:
        for command in commands:
            name = command.get("command")
            if name == "stop":
                self.stopped = True
            elif name == "pause":
                self.paused = True
            elif name == "set_lr" and 0 < float(command.get("lr", 0)) <= 10:
                for group in optimizer.param_groups:
                    group["lr"] = group["base_lr"] = float(command["lr"])


class _Controls:
    """Polls the caller's controls() at most every `interval` seconds."""

    def __init__(self, poll: Callable[[], Iterable[dict]] | None, interval: float):
        self.poll, self.interval, self.last = poll, interval, float("-inf")

    def due(self, now: float) -> list[dict]:
        if self.poll is None or now - self.last < self.interval:
            return []
        self.last = now
        return list(self.poll() or [])


@dataclass
class _Generators:
    """Every source of randomness of a run: batch order, augmentation and the global
    generator (dropout), so that a resumed run draws the same numbers."""

    device: torch.device
    shuffle: torch.Generator
    augment: torch.Generator

    @classmethod
    def seeded(cls, seed: int, device: torch.device) -> "_Generators":
        torch.manual_seed(seed)
        return cls(
            device,
            torch.Generator(device="cpu").manual_seed(seed),
            torch.Generator(device=device).manual_seed(seed),
        )

    def state(self) -> dict[str, Any]:
        cuda = self.device.type == "cuda"
        return {
            "device": self.device.type,
            "global": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(self.device) if cuda else None,
            "shuffle": self.shuffle.get_state(),
            "augment": self.augment.get_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["global"])
        self.shuffle.set_state(state["shuffle"])
        if state["device"] == self.device.type:  # another device's generators do not fit
            self.augment.set_state(state["augment"])
            if state["cuda"] is not None:
                torch.cuda.set_rng_state(state["cuda"], self.device)


def _checkpoint(
    model: Net,
    classes: list[str],
    optimizer: torch.optim.Optimizer,
    at: _Position,
    generators: _Generators,
    watch: _LossWatch,
) -> dict[str, Any]:
    return {
        # what export.model_load reads
        "spec": model.spec,
        "input_shape": list(model.input_shape),
        "classes": classes,
        "state_dict": model.state_dict(),
        # where training goes on from
        "optimizer": optimizer.state_dict(),
        "position": at.saved(),
        "last_finite": watch.last_finite,
        "generators": generators.state(),
    }


class _LiveRun:
    """One run's state between batches: where it is, the live view's clocks, the
    divergence watch and the controls. Its `before_step`/`after_step` are the hooks
    `train_one_epoch` calls; the epoch's start and end are its other two moments."""

    def __init__(self, model, data, config, task, optimizer, generators, at, emit, live,
                 controls, last_finite):  # fmt: skip
        self.model, self.data, self.config, self.task = model, data, config, task
        self.optimizer, self.generators, self.at = optimizer, generators, at
        self.emit, self.live = emit, live
        device = torch.device(config.device)
        self.train_x, self.train_y = data.train_x.to(device), data.train_y.to(device)
        self.val_x, self.val_y = data.val_x.to(device), data.val_y.to(device)
        self.sample = self.val_x[min(config.activation_sample, len(self.val_x) - 1)]
        self.names = layer_names(model)
        self.plan = batches(len(self.train_y), config.batch_size)
        self.watch = _LossWatch(at.step + 1, last_finite)
        self.poller = _Controls(controls, config.controls_interval)
        self.run, self.reported, self.report = _Run(), False, False
        self.last_metrics = self.last_pictures = self.started = time.monotonic()
        self.window_from = at.tally.seen  # pictures seen when the last metrics event went

    def pictures(self) -> None:
        """The filters and one picture's activations, as they are now."""
        if not self.live:
            return
        model, step = self.model, self.at.step
        for event in (filters_event(model, step), activations_event(model, self.sample, step)):
            if event is not None:
                self.emit(event)
        self.last_pictures = time.monotonic()

    def epoch_start(self) -> None:
        """A new epoch's sample order, sums and learning rate (a resumed one keeps its own)."""
        at, device = self.at, self.train_y.device
        if at.order is not None:
            return
        at.order = torch.randperm(len(self.train_y), generator=self.generators.shuffle).to(device)
        zero = torch.zeros((), device=device)
        at.tally, at.batch, self.window_from = EpochTally(zero, zero.clone(), 0), 0, 0
        if self.config.schedule != "constant":  # the person's set_lr moves the base
            for group in self.optimizer.param_groups:
                base = group.setdefault("base_lr", group["lr"])
                group["lr"] = base * schedule_factor(self.config, at.epoch)

    def epoch_batches(self):
        """This epoch's batches from where the run is, augmented when asked."""
        at, augment = self.at, self.config.augment
        while at.batch < len(self.plan):
            begin, end = self.plan[at.batch]
            idx = at.order[begin:end]
            x, y = self.train_x[idx], self.train_y[idx]
            if augment.active:
                x = augment_batch(x, augment, self.generators.augment)
            yield x, y

    def before_step(self, loss: torch.Tensor) -> None:
        self.watch.add(loss)
        self.now = now = time.monotonic()
        # The first step reports at once, so even a run shorter than the interval
        # draws its curves; after that, once per interval.
        self.report = self.live and (
            not self.reported or now - self.last_metrics >= self.config.metrics_interval
        )
        if self.report:
            self.watch.check(self.at.epoch)  # no NaN leaves in an event
            norms = gradient_norms(self.model)
            self.emit({"type": "gradients", "step": self.at.step, "names": self.names,
                       "norms": norms})  # fmt: skip

    def after_step(self, tally: EpochTally) -> bool:
        """Count the step, send what is due, obey the controls: True stops the epoch."""
        at, now = self.at, self.now
        at.step, at.batch = at.step + 1, at.batch + 1
        if self.report:
            self.emit({
                "type": "metrics", "epoch": at.epoch, "step": at.step, "samples": tally.seen,
                "train_loss": tally.loss_sum.item() / tally.seen,
                "train_accuracy": tally.correct.item() / tally.seen,
                "lr": self.optimizer.param_groups[0]["lr"],
                "samples_per_s": (tally.seen - self.window_from) / max(now - self.last_metrics,
                                                                      1e-6),
            })  # fmt: skip
            self.last_metrics, self.window_from, self.reported = now, tally.seen, True
        if self.live and now - self.last_pictures >= self.config.pictures_interval:
            self.pictures()
        self.run.obey(self.poller.due(now), self.optimizer)
        if self.run.paused:
            self.pause()
        return self.run.stopped

    def pause(self) -> None:
        """Raise TrainingPaused with a checkpoint to go on from the next batch."""
        at = self.at
        self.watch.check(at.epoch)  # a diverged run is not worth resuming
        at.seconds += time.monotonic() - self.started
        self.emit({"type": "status", "state": "paused", "epoch": at.epoch, "step": at.step})
        raise TrainingPaused(_checkpoint(self.model, self.data.classes, self.optimizer, at,
                                         self.generators, self.watch))  # fmt: skip

    def epoch_end(self, train_loss: float, train_acc: float) -> None:
        """Evaluate, refuse a diverged run, record the epoch and send its events."""
        at, task, epoch = self.at, self.task, self.at.epoch
        self.watch.check(epoch)
        evaluation = task.evaluate(self.model, self.val_x, self.val_y)
        if not math.isfinite(evaluation.loss):
            last = self.watch.last_finite
            raise TrainingDiverged(step=at.step, epoch=epoch, loss=evaluation.loss,
                                   last_finite=last, what="validation loss")  # fmt: skip
        record = {
            "type": "epoch", "epoch": epoch, "train_loss": train_loss,
            "train_accuracy": train_acc, "val_loss": evaluation.loss,
            "val_accuracy": evaluation.accuracy,
            "seconds": at.seconds + time.monotonic() - self.started,
        }  # fmt: skip
        if task.metric != Task.metric:  # a classifier's headline metric is its accuracy
            record.update(metric=task.metric, val_metric=evaluation.metric)
        at.history.append(record)
        self.pictures()  # each epoch ends with its own pictures: the run page's step scrubber
        self.emit(record)
        if self.live:
            for event in task.epoch_events(epoch, self.data.classes, self.val_x, self.val_y,
                                           evaluation, self.config.samples_shown):  # fmt: skip
                self.emit(event)


def _setup(model: Net, data: Dataset, config: TrainConfig, resume: dict[str, Any] | None):
    """Weights, generators, optimiser and position of a fresh or a resumed run."""
    device = torch.device(config.device)
    generators = _Generators.seeded(config.seed, device)
    if resume is None:
        init_weights(model, config.init)
        mean, std = data.mean_std()
        model.mean.copy_(mean)
        model.std.copy_(std)
    else:
        model.load_state_dict(resume["state_dict"])
    model.to(device).train()
    optimizer = make_optimizer(model, config)
    if resume is None:
        return generators, optimizer, _Position()
    optimizer.load_state_dict(resume["optimizer"])
    generators.restore(resume["generators"])
    return generators, optimizer, _Position.resumed(resume["position"], device)


def train(
    model: Net,
    data: Dataset,
    config: TrainConfig,
    *,
    on_event: OnEvent | None = None,
    controls: Controls | None = None,
    resume: dict[str, Any] | None = None,
    limits: Limits = LIMITS,
    task: Task | None = None,
) -> TrainResult:
    """Train model on data, streaming live-view events and obeying controls. `task`
    (playground/objectives.py) gives the loss, the scores and the epoch's pictures; by default
    the model classifies. Each epoch is playground/loop.py's `train_one_epoch`.

    A pause raises TrainingPaused (its checkpoint goes back in as `resume`); a loss that
    becomes NaN or infinite raises TrainingDiverged. A batch of one picture that a batch
    norm cannot take raises SpecError before anything is trained."""
    config.check(limits)
    task = task or Task()
    batch_size_check(
        summarize(model.spec, model.input_shape, model.num_classes, limits, model.head_kind),
        config.batch_size,
    )
    emit = on_event or (lambda event: None)
    generators, optimizer, at = _setup(model, data, config, resume)
    last_finite = resume["last_finite"] if resume else None
    live = _LiveRun(model, data, config, task, optimizer, generators, at, emit,
                    on_event is not None, controls, last_finite)  # fmt: skip
    task.setup(model, data)
    emit({"type": "status", "state": "running", "epoch": at.epoch if resume else 0,
          "step": at.step})  # fmt: skip
    live.pictures()
    epoch = at.epoch
    while at.epoch <= config.epochs:
        epoch = at.epoch
        live.epoch_start()
        train_loss, train_acc = train_one_epoch(
            model, optimizer, live.epoch_batches(), task.loss, score_fn=task.correct,
            tally=at.tally, before_step=live.before_step, after_step=live.after_step,
        )  # fmt: skip
        if at.tally.seen == 0:  # only when stopped before the first batch: nothing to score
            train_loss, train_acc = 0.0, 0.0
        live.epoch_end(train_loss, train_acc)
        if live.run.stopped:
            break
        at.epoch, at.order = at.epoch + 1, None
    return _result(emit, live, epoch, len(data.train_y))


def _result(emit: OnEvent, live: _LiveRun, epoch: int, pictures: int) -> TrainResult:
    """Say how the run ended and sum it up from its last epoch."""
    at, stopped = live.at, live.run.stopped
    emit({"type": "status", "state": "stopped" if stopped else "finished", "epoch": epoch,
          "step": at.step})  # fmt: skip
    last = at.history[-1]
    return TrainResult(
        epochs=epoch if at.tally.seen == pictures else epoch - 1,  # a stopped epoch does not count
        train_loss=last["train_loss"],
        train_accuracy=last["train_accuracy"],
        val_loss=last["val_loss"],
        val_accuracy=last["val_accuracy"],
        seconds=last["seconds"],
        stopped=stopped,
        history=at.history,
    )
