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

import torch
import torch.nn.functional as F
from torch import nn

OnEvent = Callable[[dict], None]
Controls = Callable[[], Iterable[dict]]


def stop_asked(controls: Controls | None) -> bool:
    """Whether the caller's controls ask the loop to stop now."""
    return controls is not None and any(c.get("command") == "stop" for c in controls() or [])


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> tuple[float, float]:
    """One pass over `batches` of (pictures or features, labels) already on the model's
    device: (mean loss, accuracy) of the epoch, summed on the device (one sync at the end)."""
    model.train()
    total = correct = None
    seen = 0
    for x, y in batches:
        logits = model(x)  # (B, classes)
        loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        batch_loss = loss.detach() * len(y)
        batch_correct = (logits.detach().argmax(1) == y).sum()
        total = batch_loss if total is None else total + batch_loss
        correct = batch_correct if correct is None else correct + batch_correct
        seen += len(y)
    if not seen:
        return float("nan"), 0.0
    return float(total) / seen, float(correct) / seen


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
