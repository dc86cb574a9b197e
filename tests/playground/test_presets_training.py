"""Presets carry the training settings that suit them; the builder, the form, the worker
and the train command take them; the cosine schedule lowers the rate epoch by epoch."""

import json
import math

import pytest
import torch
from django.core.management import call_command
from django.urls import reverse

from playground.datasets import Augment, dataset_load
from playground.netspec import build
from playground.presets import PRESETS, TRAINING, preset, training
from playground.trainer import TrainConfig, schedule_factor, train


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_has_training_settings_the_trainer_accepts(name):
    settings = training(name)
    assert set(settings) == {"optimizer", "lr", "batch_size", "epochs", "schedule", "augment"}
    config = TrainConfig(**{k: v for k, v in settings.items() if k != "augment"},
                         augment=Augment(**settings["augment"]))  # fmt: skip
    config.check()
    settings["augment"]["shift"] = 99  # a copy: the preset's own settings are untouched
    assert TRAINING[name]["augment"]["shift"] != 99


def test_cosine_schedule_lowers_the_rate_each_epoch_from_the_chosen_one():
    data = dataset_load("stripes", max_samples=64)
    model = build(preset("lenet5", data.input_shape), data.input_shape, 4)
    rates: dict[int, float] = {}

    def on_event(event):
        if event["type"] == "metrics":
            rates.setdefault(event["epoch"], event["lr"])

    config = TrainConfig(lr=0.01, epochs=4, batch_size=16, schedule="cosine",
                         metrics_interval=0, pictures_interval=1e9)  # fmt: skip
    train(model, data, config, on_event=on_event)
    expected = [0.01 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert [rates[e] for e in (1, 2, 3, 4)] == pytest.approx(expected)
    assert schedule_factor(TrainConfig(epochs=4), 3) == 1.0  # constant stays constant
    with pytest.raises(ValueError, match="schedule must be"):
        TrainConfig(schedule="sawtooth").check()


@pytest.mark.django_db
def test_the_preset_endpoint_gives_its_training_settings(client):
    resp = client.get(reverse("playground:preset", args=["lenet5"]), {"dataset": "mnist5k"})
    body = resp.json()
    assert resp.status_code == 200 and body["training"] == training("lenet5")
    assert body["training"]["augment"]["shift"] == 2


def test_train_command_uses_the_presets_settings_unless_told(capsys):
    call_command("train", preset="lenet5", dataset="digits", max_samples=120, epochs=1,
                 json=True)  # fmt: skip
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert summary["epochs"] == 1 and 0 <= summary["val_accuracy"] <= 1
    torch.manual_seed(0)
