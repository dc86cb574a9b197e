"""The pieces every playground training loop shares, in the spirit of torchvision's
references/classification: one epoch of training and one evaluation as plain functions,
and the one callback protocol the loops speak.

The protocol (train, transfer and teach all use it):
- `on_event(event)`: a live event, a dict with a `type` – "epoch" (train_loss,
  train_accuracy, val_loss, val_accuracy, seconds) at each epoch's end, and the training
  run's finer ones (metrics, gradients, filters, activations, confusion, samples, status);
- `controls()`: the commands waiting now, e.g. [{"command": "stop"}], [{"command":
  "pause"}], [{"command": "set_lr", "lr": 0.001}]; a loop obeys those it knows and stops
  cleanly on "stop" (cancel included: the worker turns it into "stop").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

OnEvent = Callable[[dict], None]
Controls = Callable[[], Iterable[dict]]


def stop_asked(controls: Controls | None) -> bool:
    """Whether the caller's controls ask the loop to stop now."""
    return controls is not None and any(c.get("command") == "stop" for c in controls() or [])


@dataclass
class EpochTally:
    """An epoch's running sums, kept on the device (no sync per batch): the summed loss,
    the summed score (correct answers for a classifier) and the pictures seen. A paused
    run keeps it in its checkpoint and hands it back to go on mid-epoch."""

    loss_sum: torch.Tensor | None = None
    correct: torch.Tensor | None = None
    seen: int = 0

    def add(self, loss: torch.Tensor, score: torch.Tensor, n: int) -> None:
        batch_loss = loss.detach() * n
        self.loss_sum = batch_loss if self.loss_sum is None else self.loss_sum + batch_loss
        self.correct = score if self.correct is None else self.correct + score
        self.seen += n

    def means(self) -> tuple[float, float]:
        """(mean loss, mean score) so far; (NaN, 0) before the first batch."""
        if not self.seen:
            return float("nan"), 0.0
        return float(self.loss_sum) / self.seen, float(self.correct) / self.seen


def _correct(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(1) == y).sum()


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
    *,
    score_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = _correct,
    tally: EpochTally | None = None,
    before_step: Callable[[torch.Tensor], None] | None = None,
    after_step: Callable[[EpochTally], bool] | None = None,
) -> tuple[float, float]:
    """One pass over `batches` of (pictures or features, labels) already on the model's
    device: (mean loss, mean score) of the epoch, summed on the device in `tally` (a
    resumed epoch passes the one it had). `before_step(loss)` runs once the gradients
    exist, `after_step(tally)` after each step; it returns True to end the epoch early
    (stop) and may raise to pause."""
    model.train()
    tally = tally if tally is not None else EpochTally()
    for x, y in batches:
        logits = model(x)  # (B, classes) or the task's output
        loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if before_step is not None:
            before_step(loss)
        optimizer.step()
        tally.add(loss, score_fn(logits.detach(), y), len(y))
        if after_step is not None and after_step(tally):
            break
    return tally.means()


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512):
    """(mean loss, accuracy, predictions, confidences) of a classifier over a whole split."""
    was_training = model.training
    model.eval()
    logits = torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    loss = F.cross_entropy(logits, y).item()
    confidence, predicted = logits.softmax(dim=1).max(dim=1)
    return loss, (predicted == y).float().mean().item(), predicted, confidence
