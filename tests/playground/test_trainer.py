"""Training on generated data: it learns, zeros do not, controls work, events stay small,
a pause resumes exactly, a divergence is explained and a batch of one cannot break it."""

import io
import json
import math

import pytest
import torch
import torch.nn.functional as F

from playground.datasets import Augment, dataset_load
from playground.export import model_load, model_save, predict
from playground.liveview import gradient_norms
from playground.netspec import SpecError, build
from playground.presets import preset
from playground.trainer import TrainConfig, TrainingDiverged, TrainingPaused, batches, train

SMALL_NET = [
    {"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1},
    {"type": "relu"},
    {"type": "maxpool", "kernel": 2},
    {"type": "conv2d", "filters": 8, "kernel": 3, "padding": 1},
    {"type": "relu"},
    {"type": "globalavgpool"},
]


def stripes(n=600):
    return dataset_load("stripes", max_samples=n, seed=1)


def test_small_net_learns_stripes_well_above_chance():
    data = stripes()
    model = build(SMALL_NET, data.input_shape, 4)
    result = train(model, data, TrainConfig(epochs=4, lr=0.01, batch_size=32, init="he"))
    assert result.epochs == 4 and not result.stopped
    assert result.val_accuracy > 0.8  # chance is 0.25
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_zero_init_cannot_learn_while_he_init_does():
    data = stripes()
    accuracy = {}
    for init in ("zeros", "he"):
        model = build(SMALL_NET, data.input_shape, 4)
        result = train(model, data, TrainConfig(epochs=3, lr=0.01, batch_size=32, init=init))
        accuracy[init] = result.val_accuracy
    majority = data.val_y.bincount().max().item() / len(data.val_y)
    assert accuracy["zeros"] <= majority + 1e-6  # only the output bias moves: one class for all
    assert accuracy["he"] > 0.7


def test_live_events_cover_the_page_are_json_and_small():
    data = stripes(300)
    model = build(preset("inception_small", data.input_shape), data.input_shape, 4)
    events = []
    config = TrainConfig(epochs=2, batch_size=32, metrics_interval=0, pictures_interval=0)
    train(model, data, config, on_event=events.append)
    types = {e["type"] for e in events}
    assert types == {
        "status",
        "metrics",
        "gradients",
        "filters",
        "activations",
        "epoch",
        "confusion",
        "samples",
    }
    for event in events:
        assert len(json.dumps(event)) < 40_000, event["type"]
    gradients = next(e for e in events if e["type"] == "gradients")
    assert len(gradients["names"]) == len(gradients["norms"]) == len(model.spec) + 1
    activations = next(e for e in events if e["type"] == "activations")
    assert [layer["index"] for layer in activations["layers"]] == [0, 4, 6]  # conv + 2 blocks
    assert activations["layers"][1]["shape"] == [64, 8, 8]
    confusion = [e for e in events if e["type"] == "confusion"][-1]
    assert sum(map(sum, confusion["matrix"])) == len(data.val_y)
    last_epoch = [e for e in events if e["type"] == "epoch"][-1]
    diagonal = sum(confusion["matrix"][i][i] for i in range(4))
    assert abs(diagonal / len(data.val_y) - last_epoch["val_accuracy"]) < 1e-6
    samples = [e for e in events if e["type"] == "samples"][-1]
    assert len(samples["items"]) == 8 and samples["items"][0]["image"].startswith(
        "data:image/png;base64,"
    )


def test_sigmoid_stack_gradients_vanish_where_batchnorm_relu_ones_do_not():
    data = dataset_load("digits")
    ratios = {}
    for name in ("deep_sigmoid", "deep_relu_bn"):
        torch.manual_seed(0)
        model = build(preset(name, data.input_shape), data.input_shape, 10)
        F.cross_entropy(model(data.train_x[:64]), data.train_y[:64]).backward()
        norms = gradient_norms(model)
        ratios[name] = (
            norms[0] / norms[-2 - (name == "deep_relu_bn") * 0 - 4]
        )  # first conv / last conv
    assert ratios["deep_sigmoid"] < 0.01
    assert ratios["deep_relu_bn"] > 0.1


class Script:
    """controls(): returns the commands scripted for the n-th poll."""

    def __init__(self, plan: dict[int, list[dict]]):
        self.plan, self.calls = plan, 0

    def __call__(self):
        self.calls += 1
        return self.plan.get(self.calls, [])


def run(controls, events=None):
    data = stripes(400)
    model = build(SMALL_NET, data.input_shape, 4)
    config = TrainConfig(epochs=3, batch_size=16, lr=0.01, controls_interval=0, metrics_interval=0)
    result = train(
        model,
        data,
        config,
        on_event=(events.append if events is not None else None),
        controls=controls,
    )
    return model, result


# dropout and augmentation draw random numbers every batch: a resumed run must draw the same
DROPOUT_NET = SMALL_NET[:-1] + [{"type": "dropout", "p": 0.3}, {"type": "globalavgpool"}]


def losses_per_step(events):
    return [(e["step"], e["train_loss"]) for e in events if e["type"] == "metrics"]


def through_storage(checkpoint: dict) -> dict:
    """The checkpoint as the worker stores and reads it back (torch.save, weights_only)."""
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return torch.load(io.BytesIO(buffer.getvalue()), map_location="cpu", weights_only=True)


def test_a_paused_and_resumed_run_gives_the_same_curve_as_an_unpaused_one():
    data = stripes(400)
    config = TrainConfig(epochs=3, batch_size=16, lr=0.01, seed=5, controls_interval=0,
                         metrics_interval=0, augment=Augment(hflip=True, shift=1))  # fmt: skip
    plain_events: list[dict] = []
    plain_model = build(DROPOUT_NET, data.input_shape, 4)
    plain = train(plain_model, data, config, on_event=plain_events.append)

    # paused twice: mid-epoch, then again in the next epoch after a resume
    events: list[dict] = []
    with pytest.raises(TrainingPaused) as first:
        train(build(DROPOUT_NET, data.input_shape, 4), data, config, on_event=events.append,
              controls=Script({7: [{"command": "pause"}]}))  # fmt: skip
    checkpoint = through_storage(first.value.checkpoint)
    assert checkpoint["position"]["step"] == 7 and checkpoint["position"]["epoch"] == 1
    assert events[-1] == {"type": "status", "state": "paused", "epoch": 1, "step": 7}
    with pytest.raises(TrainingPaused) as second:
        train(build(DROPOUT_NET, data.input_shape, 4), data, config, on_event=events.append,
              controls=Script({20: [{"command": "pause"}]}), resume=checkpoint)  # fmt: skip
    checkpoint = through_storage(second.value.checkpoint)
    assert checkpoint["position"]["step"] == 27 and checkpoint["position"]["epoch"] == 2
    resumed_model = build(DROPOUT_NET, data.input_shape, 4)
    resumed = train(resumed_model, data, config, on_event=events.append, resume=checkpoint)

    assert losses_per_step(events) == losses_per_step(plain_events)  # every step, exactly
    def timeless(history):
        return [{k: v for k, v in record.items() if k != "seconds"} for record in history]

    assert timeless(resumed.history) == timeless(plain.history) and resumed.epochs == 3
    for a, b in zip(
        resumed_model.state_dict().values(), plain_model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    # a checkpoint is also a model file
    loaded, classes = model_load(io.BytesIO(_saved(first.value.checkpoint)))
    assert classes == data.classes and loaded.spec == plain_model.spec


def _saved(checkpoint: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return buffer.getvalue()


def test_stop_ends_early_and_keeps_the_model():
    events = []
    model, result = run(Script({9: [{"command": "stop"}]}), events)
    assert result.stopped and result.epochs == 0
    states = [(e["state"], e["step"]) for e in events if e["type"] == "status"]
    assert states == [("running", 0), ("stopped", 9)]


def test_set_lr_takes_effect_from_the_next_batch():
    events = []
    run(Script({2: [{"command": "set_lr", "lr": 0.123}], 5: [{"command": "stop"}]}), events)
    lrs = [e["lr"] for e in events if e["type"] == "metrics"]
    assert lrs[:2] == [0.01, 0.01] and set(lrs[2:]) == {0.123}


def test_saved_checkpoint_and_torchscript_predict_like_the_trained_model(tmp_path):
    data = stripes(200)
    model = build(SMALL_NET, data.input_shape, 4)
    train(model, data, TrainConfig(epochs=1))
    paths = model_save(model, data.classes, tmp_path)
    loaded, classes = model_load(paths["checkpoint"])
    scripted = torch.jit.load(str(paths["torchscript"]))
    x = data.val_x[:5]
    assert torch.allclose(loaded(x), model.eval()(x), atol=1e-6)
    assert torch.allclose(scripted(x), model(x), atol=1e-6)
    from PIL import Image

    picture = Image.fromarray((data.val_x[0, 0].numpy() * 255).astype("uint8"))
    ranked = predict(loaded, picture, classes)
    assert [r["label"] for r in ranked][0] == classes[model(data.val_x[:1]).argmax().item()]
    assert abs(sum(r["probability"] for r in ranked) - 1) < 1e-5


def test_a_diverging_run_stops_with_the_step_and_the_last_finite_loss():
    data = stripes(400)
    model = build(preset("vgg_small", data.input_shape), data.input_shape, 4)
    events = []
    config = TrainConfig(optimizer="sgd", lr=10, init="he", batch_size=32, epochs=3,
                         metrics_interval=0)  # fmt: skip
    with pytest.raises(TrainingDiverged) as diverged:
        train(model, data, config, on_event=events.append)
    exc = diverged.value
    assert math.isnan(exc.loss) or math.isinf(exc.loss)
    last_step, last_loss = exc.last_finite
    assert last_step == exc.step - 1 and math.isfinite(last_loss)
    assert f"at step {exc.step}" in str(exc)
    assert "Lower the learning rate or add batch norm" in str(exc)
    # the curve stops before the bad step, and nothing non-finite left in any event
    assert losses_per_step(events)[-1][0] < exc.step
    for event in [*events, exc.event()]:
        json.dumps(event, allow_nan=False)
    assert exc.event()["state"] == "diverged" and exc.event()["last_finite_loss"] == last_loss


BN_AFTER_FLATTEN = [{"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "relu"},
                    {"type": "flatten"}, {"type": "batchnorm"}, {"type": "linear", "units": 8}]


def test_a_last_batch_of_one_picture_joins_the_batch_before_it():
    assert batches(10, 3) == [(0, 3), (3, 6), (6, 10)]  # not 9..10 alone
    assert batches(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert batches(1, 4) == [(0, 1)] and batches(3, 1) == [(0, 1), (1, 2), (2, 3)]
    data = stripes(81)  # 65 training pictures: batches of 32, 32 and a last one of 1
    assert len(data.train_y) % 32 == 1
    model = build(BN_AFTER_FLATTEN, data.input_shape, 4)
    result = train(model, data, TrainConfig(epochs=1, batch_size=32))
    assert result.epochs == 1


def test_batch_norm_after_flatten_refuses_a_batch_of_one_before_training():
    data = stripes(40)
    model = build(BN_AFTER_FLATTEN, data.input_shape, 4)
    with pytest.raises(SpecError, match="layer 3 \\(batchnorm\\).*batch size of at least 2"):
        train(model, data, TrainConfig(epochs=1, batch_size=1))
    # on maps larger than 1×1 a batch of one is fine
    conv_bn = [{"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "batchnorm"}]
    result = train(build(conv_bn, data.input_shape, 4), data, TrainConfig(epochs=1, batch_size=1))
    assert result.epochs == 1
