"""Training on generated data: it learns, zeros do not, controls work, events stay small."""

import json

import torch
import torch.nn.functional as F

from playground.datasets import dataset_load
from playground.export import model_load, model_save, predict
from playground.liveview import gradient_norms
from playground.netspec import build
from playground.presets import preset
from playground.trainer import TrainConfig, train

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


def test_pause_resume_keeps_optimizer_state_and_stop_ends_early():
    events = []
    paused_model, paused = run(
        Script({3: [{"command": "pause"}], 6: [{"command": "resume"}], 12: [{"command": "stop"}]}),
        events,
    )
    plain_model, plain = run(Script({9: [{"command": "stop"}]}))
    assert paused.stopped and plain.stopped and paused.epochs == 0
    states = [(e["state"], e["step"]) for e in events if e["type"] == "status"]
    assert states == [("running", 0), ("paused", 3), ("running", 3), ("stopped", 9)]
    # 9 steps either way, and Adam's moments survived the pause: identical weights
    for a, b in zip(
        paused_model.state_dict().values(), plain_model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)


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
