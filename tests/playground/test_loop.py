"""The loops' shared pieces (playground/loop.py): one epoch, one evaluation, and the one
callback protocol – events out, commands in – that transfer learning speaks like the
training run does."""

from __future__ import annotations

import torch
from torch import nn

from playground.loop import evaluate, stop_asked, train_one_epoch
from playground.transfer.engine import TransferConfig, transfer_build, transfer_train
from tests.playground.test_transfer import tiny_data


def test_one_epoch_learns_and_evaluate_counts_like_by_hand():
    torch.manual_seed(0)
    x = torch.randn(256, 2)
    y = (x[:, 0] > 0).long()
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    batches = [(x[i : i + 32], y[i : i + 32]) for i in range(0, 256, 32)]
    first, _ = train_one_epoch(model, optimizer, batches)
    for _ in range(5):
        last, accuracy = train_one_epoch(model, optimizer, batches)
    assert last < first and accuracy > 0.9
    loss, val_accuracy, predicted, confidence = evaluate(model, x, y, batch_size=50)
    logits = model(x).detach()
    assert abs(loss - nn.functional.cross_entropy(logits, y).item()) < 1e-5
    assert val_accuracy == (logits.argmax(1) == y).float().mean().item()
    assert torch.equal(predicted, logits.argmax(1)) and bool((confidence > 0.5).all())


def test_stop_is_asked_only_by_a_stop_command():
    assert not stop_asked(None) and not stop_asked(lambda: [])
    assert not stop_asked(lambda: [{"command": "pause"}, {"command": "set_lr", "lr": 0.1}])
    assert stop_asked(lambda: [{"command": "pause"}, {"command": "stop"}])


def test_transfer_training_sends_epoch_events_and_obeys_stop():
    net = transfer_build(TransferConfig(mode="scratch", cut=1, image_size=16, hidden=8,
                                        epochs=5, batch_size=8), 3, input_channels=1)
    events: list[dict] = []
    result = transfer_train(net, tiny_data(), on_event=events.append,
                            controls=lambda: [{"command": "stop"}] if len(events) >= 2 else [])
    assert [e["type"] for e in events] == ["epoch", "epoch"]
    assert [e["epoch"] for e in events] == [1, 2] and len(result.history) == 2
    assert events[-1]["val_accuracy"] == result.val_accuracy
