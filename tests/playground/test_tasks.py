"""Each task's loss and metrics against a hand computation, the seeded scenes against
what they claim to hold, and every task training a tiny net with its live pictures."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from playground.netspec import build
from playground.objectives import (
    Landmarks,
    Localise,
    Segment,
    Verify,
    balanced_accuracy,
    best_threshold,
    box_iou,
    class_ious,
    task_make,
    triplet_loss,
)
from playground.scenes import scene_load
from playground.taskcatalogue import BOX_WEIGHT, SCENE_SHAPES, SCENES, TASK_PRESETS, head_for
from playground.trainer import TrainConfig, TrainingPaused, train


def test_triplet_loss_with_margin_matches_a_hand_computation():
    # two of class 0 on the x axis, one of class 1 on y, one of class 1 at 45°
    s = math.sqrt(0.5)
    e = torch.tensor([[1.0, 0.0], [s, s], [0.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    margin = 0.5

    def d(a: int, b: int) -> float:
        return sum((x - y) ** 2 for x, y in zip(e[a].tolist(), e[b].tolist(), strict=True))

    losses = []
    for a in range(4):
        for p in range(4):
            for n in range(4):
                if a != p and labels[a] == labels[p] and labels[n] != labels[a]:
                    losses.append(max(d(a, p) - d(a, n) + margin, 0.0))
    positive = [v for v in losses if v > 0]
    expected = sum(positive) / len(positive)
    assert len(losses) == 8
    # by hand for anchor 0: d(0,1) = 2 − 2s ≈ 0.586; d(0,2) = 2, d(0,3) = 4 -> both easy
    assert d(0, 1) == pytest.approx(2 - 2 * s)
    assert triplet_loss(e, labels, margin).item() == pytest.approx(expected, rel=1e-6)
    # far apart classes: every triplet satisfied, zero loss (and still a graph to step on)
    apart = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]], requires_grad=True)
    loss = triplet_loss(apart, labels, margin)
    assert loss.item() == 0.0
    loss.backward()


def test_batch_hard_triplet_loss_takes_each_anchors_farthest_positive_and_nearest_negative():
    # points on a line; class 2 has a single picture: never an anchor, still a negative
    x = [0.0, 1.0, 3.0, 0.4, 4.0, 10.0]
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    e = torch.tensor(x)[:, None].requires_grad_()
    margin = 0.5
    # by hand, squared distances: anchor -> (farthest positive, nearest negative)
    #   0: (pt 2: 9, pt 3: 0.16)   1: (pt 2: 4, pt 3: 0.36)   2: (pt 0: 9, pt 4: 1)
    #   3: (pt 4: 12.96, pt 0: 0.16)   4: (pt 3: 12.96, pt 2: 1)
    by_hand = [9 - 0.16, 4 - 0.36, 9 - 1, 12.96 - 0.16, 12.96 - 1]
    expected = sum(v + margin for v in by_hand) / 5
    loss = triplet_loss(e, labels, margin, mining="hard")
    assert loss.item() == pytest.approx(expected, rel=1e-5)  # 9.548
    assert expected == pytest.approx(9.548)
    assert triplet_loss(e, labels, margin).item() != pytest.approx(expected, rel=1e-3)
    loss.backward()
    # point 1 is nobody's farthest positive nor nearest negative: only its own anchor's
    # terms move it, d(1,2) − d(1,3) -> d/dx1 = (−2·(3 − 1) − 2·(1 − 0.4)) / 5
    assert e.grad[1, 0].item() == pytest.approx((-2 * 2 - 2 * 0.6) / 5, rel=1e-5)
    assert e.grad[5, 0].item() == 0.0  # the lone picture is never the nearest negative
    # classes already apart by the margin: zero, but every anchor counted
    apart = torch.tensor([[0.0], [0.1], [5.0], [5.1]], requires_grad=True)
    zero = triplet_loss(apart, torch.tensor([0, 0, 1, 1]), margin, mining="hard")
    assert zero.item() == 0.0
    zero.backward()
    # a batch without any positive pair: no anchor, a zero loss that still steps
    lone = triplet_loss(apart, torch.tensor([0, 1, 2, 3]), margin, mining="hard")
    assert lone.item() == 0.0
    with pytest.raises(ValueError, match="mining"):
        triplet_loss(apart, torch.tensor([0, 0, 1, 1]), margin, mining="semi")
    with pytest.raises(ValueError, match="mining"):
        task_make("verify", mining="semi")


def test_pair_loss_is_a_balanced_binary_cross_entropy_on_weighted_abs_differences():
    task = Verify("pair")
    model = build([{"type": "flatten"}], (1, 1, 2), 2, head="siamese")
    with torch.no_grad():
        model.head.pair.weight.copy_(torch.tensor([[2.0, -1.0]]))
        model.head.pair.bias.fill_(0.5)
    task.model = model
    e = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    y = torch.tensor([0, 0, 1])
    pairs = [(0, 1), (0, 2), (1, 2)]
    bce = []
    for i, j in pairs:
        # b − Σ softplus(w_k)·|Δ_k|: softplus(2) = log(1 + e²), softplus(−1) = log(1 + e⁻¹)
        sp = [math.log(1 + math.exp(2.0)), math.log(1 + math.exp(-1.0))]
        z = 0.5 - sp[0] * abs(e[i, 0] - e[j, 0]) - sp[1] * abs(e[i, 1] - e[j, 1])
        t = float(y[i] == y[j])
        p = 1 / (1 + math.exp(-z))
        bce.append(-(t * math.log(p) + (1 - t) * math.log(1 - p)))
    # one same pair (0, 1) weighs ½, the two different pairs ¼ each
    expected = 0.5 * bce[0] + 0.25 * bce[1] + 0.25 * bce[2]
    assert task.loss(e, y).item() == pytest.approx(expected, rel=1e-5)


def test_box_loss_is_cross_entropy_plus_weighted_squared_error_of_the_box():
    task = Localise(side=10)
    out = torch.tensor([[2.0, 0.0, -1.0, 0.5, 0.5, 0.4, 0.2]])  # 3 class scores + box
    y = torch.tensor([[0.0, 2.0, 3.0, 8.0, 5.0]])  # class 0, x0 2, y0 3, x1 8, y1 5 (pixels)
    ce = -2.0 + math.log(math.exp(2) + math.exp(0) + math.exp(-1))
    truth = [0.5, 0.4, 0.6, 0.2]  # centre (5, 4), size 6 × 2, over a side of 10
    mse = sum((a - b) ** 2 for a, b in zip([0.5, 0.5, 0.4, 0.2], truth, strict=True)) / 4
    assert task.loss(out, y).item() == pytest.approx(ce + BOX_WEIGHT * mse, rel=1e-6)
    assert task.corners(out)[0].tolist() == pytest.approx([3.0, 4.0, 7.0, 6.0])
    # predicted (3, 4)-(7, 6) against (2, 3)-(8, 5): overlap 4 × 1, union 8 + 12 − 4
    iou = box_iou(task.corners(out), y[:, 1:]).item()
    assert iou == pytest.approx(4 / 16)
    assert task.correct(out, y).item() == 0  # the class is right but IoU < 0.5


def test_box_iou_of_simple_boxes():
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 2, 2], [0, 0, 1, 1]])
    b = torch.tensor([[1.0, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
    assert box_iou(a, b).tolist() == pytest.approx([1 / 7, 1.0, 0.0])


def test_per_pixel_cross_entropy_and_class_ious_by_hand():
    task = Segment()
    # a 1×2 picture, 2 classes: pixel 0 scores (1, 0) is class 0; pixel 1 scores (0, 2) is 0
    out = torch.tensor([[[[1.0, 0.0]], [[0.0, 2.0]]]])  # (B=1, K=2, H=1, W=2)
    y = torch.tensor([[[0, 0]]])
    p0 = -1 + math.log(math.e + 1)
    p1 = -0 + math.log(1 + math.e**2)
    assert task.loss(out, y).item() == pytest.approx((p0 + p1) / 2, rel=1e-6)
    assert task.correct(out, y).item() == pytest.approx(0.5)
    confusion = torch.tensor([[5, 1, 0], [2, 3, 0], [0, 0, 0]])  # class 2 never seen
    assert class_ious(confusion) == pytest.approx([5 / 8, 3 / 6, None])


def test_landmark_error_is_in_pixels():
    task = Landmarks(side=32)
    y = torch.tensor([[10.0, 10.0, 20.0, 20.0]])
    out = torch.tensor([[13.0, 14.0, 20.0, 20.0]]) / 32  # the first point 3, 4 off: 5 px
    assert task.errors(out, y)[0].tolist() == pytest.approx([5.0, 0.0])
    assert task.correct(out, y).item() == pytest.approx(0.5)  # one point within 2 px
    assert task.loss(out, y).item() == pytest.approx((9 + 16) / 32**2 / 4)


def test_threshold_and_balanced_accuracy():
    scores = np.array([0.1, 0.2, 0.3, 0.9, 1.0, 0.25])
    same = np.array([True, True, True, False, False, False])
    assert balanced_accuracy(scores, same, 0.3) == pytest.approx((1 + 2 / 3) / 2)
    assert best_threshold(scores, same) in (0.2, 0.3)
    assert balanced_accuracy(scores, same, best_threshold(scores, same)) == pytest.approx(5 / 6)


def test_scenes_hold_what_they_claim():
    boxes = scene_load("boxes", max_samples=50, seed=3)
    x0, y0, x1, y1 = boxes.train_y[0, 1:].int().tolist()
    picture = boxes.train_x[0, 0]
    inside = picture[y0:y1, x0:x1]
    assert inside.max() > 0.6 and (x1 - x0) >= 7  # the bright shape is in its box
    outside = picture.clone()
    outside[y0:y1, x0:x1] = 0
    assert (outside > 0.7).sum() < 8  # no other bright blob (noise may add a pixel or two)
    again = scene_load("boxes", max_samples=50, seed=3)
    assert torch.equal(again.train_x, boxes.train_x)  # seeded

    faces = scene_load("faces", max_samples=40, seed=1)
    for picture, points in zip(faces.train_x[:, 0], faces.train_y, strict=True):
        for x, y in points.reshape(3, 2).round().long().tolist():
            assert picture[y, x] < 0.4  # eyes and mouth are dark on the bright face

    overlaps = scene_load("overlaps", max_samples=40)
    assert set(overlaps.train_y.unique().tolist()) == {0, 1, 2, 3}
    assert overlaps.classes == ["background", "circle", "square", "triangle"]

    digits = scene_load("digits_heldout")
    assert set(digits.val_y.unique().tolist()) == {7, 8, 9}
    assert not set(digits.train_y.unique().tolist()) & {7, 8, 9}
    for name in SCENES:
        if name != "mnist5k_heldout":
            data = scene_load(name, max_samples=30)
            assert data.input_shape == SCENE_SHAPES[name][0], name


# ---------------------------------------------------------------------------------------
# end to end in the engine: each task's preset trains and draws its live pictures

TINY = {
    "localise": ("localiser", "boxes"),
    "landmarks": ("landmarker", "faces"),
    "segment": ("segnet_unpool", "overlaps"),
    "verify": ("siamese", "digits_heldout"),
}


@pytest.mark.parametrize(
    ("name", "loss"), [*((name, "triplet") for name in TINY), ("verify", "pair")]
)
def test_each_task_trains_with_its_live_pictures(name, loss):
    preset_name, dataset = TINY[name]
    data = scene_load(dataset, max_samples=None if name == "verify" else 400, seed=0)
    # Batch-hard triplets for the embedding: with every triplet, pair accuracy on unseen
    # digits after two epochs swung between 0.55 and 0.64 from one CPU to another (0.67 to
    # 0.72 with batch-hard: docs/playground.md, verification)
    mining = {"mining": "hard"} if name == "verify" and loss == "triplet" else {}
    task = task_make(name, side=data.input_shape[-1], loss=loss, **mining)
    spec = TASK_PRESETS[preset_name][2](data.input_shape)
    model = build(spec, data.input_shape, task.outputs(data.classes), head=head_for(name, loss))
    events: list[dict] = []
    epochs = 3 if loss == "pair" else 2  # the pair classifier starts slower
    config = TrainConfig(lr=3e-3, batch_size=32, epochs=epochs, samples_shown=4)
    result = train(model, data, config, on_event=events.append, task=task)
    json.dumps(events, allow_nan=False)  # every number finite and JSON-ready
    records = [e for e in events if e["type"] == "epoch"]
    views = [e for e in events if e["type"] == "task"]
    expected = list(range(1, epochs + 1))
    assert [e["epoch"] for e in records] == expected and [v["epoch"] for v in views] == expected
    assert records[0]["metric"] == task.metric
    assert not any(e["type"] in ("confusion", "samples") for e in events)
    first, last = records[0], records[-1]
    assert result.val_loss == last["val_loss"]
    view = views[-1]
    if name in ("localise", "landmarks", "segment"):
        assert len(view["items"]) == 4 and view["items"][0]["image"].startswith("data:image/png")
    if name == "localise":
        assert 0 <= view["items"][0]["iou"] <= 1
    if name == "segment":
        assert len(view["class_iou"]) == 4 and view["items"][0]["truth"].startswith("data:")
    if name == "landmarks":
        assert len(view["per_point"]) == 3
        assert last["val_metric"] < first["val_metric"] + 1  # pixels, lower is better
    if name == "verify":
        held = {p[2] for p in view["projection"] if p[3]}
        assert held == {7, 8, 9}  # the held-out classes are projected too
        assert len(view["histogram"]["same"]) == len(view["histogram"]["edges"]) - 1
        assert view["roc"][0] == [0.0, 0.0] and view["roc"][-1] == [1.0, 1.0]
        n = len(view["gallery"])
        assert n >= 6 and len(view["gallery_scores"]) == n
        assert {g["label"] for g in view["gallery"]} == {7, 8, 9}
        if loss == "triplet":  # pairs of digits it never saw: chance is 0.5
            assert last["val_accuracy"] > 0.6
        else:  # the pair classifier learns its trained classes (see docs: not the unseen)
            assert last["train_accuracy"] > 0.6


@pytest.mark.parametrize(("name", "loss"), [("segment", "triplet"), ("verify", "pair")])
def test_a_paused_task_resumes_to_the_same_curve(name, loss):
    from tests.playground.test_trainer import Script, losses_per_step, through_storage

    preset_name, dataset = {"segment": ("segnet_unpool", "overlaps"),
                            "verify": ("siamese", "digits_heldout")}[name]  # fmt: skip
    data = scene_load(dataset, max_samples=240 if name == "segment" else 600, seed=2)
    spec = TASK_PRESETS[preset_name][2](data.input_shape)

    def fresh():
        task = task_make(name, side=data.input_shape[-1], loss=loss)
        outputs = task.outputs(data.classes)
        return build(spec, data.input_shape, outputs, head=head_for(name, loss)), task

    config = TrainConfig(epochs=2, batch_size=32, lr=3e-3, seed=4, controls_interval=0,
                         metrics_interval=0)  # fmt: skip
    plain_events: list[dict] = []
    model, task = fresh()
    plain = train(model, data, config, on_event=plain_events.append, task=task)
    events: list[dict] = []
    model, task = fresh()
    with pytest.raises(TrainingPaused) as paused:
        train(model, data, config, on_event=events.append, task=task,
              controls=Script({5: [{"command": "pause"}]}))  # fmt: skip
    model, task = fresh()
    resumed = train(model, data, config, on_event=events.append, task=task,
                    resume=through_storage(paused.value.checkpoint))  # fmt: skip
    assert losses_per_step(events) == losses_per_step(plain_events)
    strip = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h]  # noqa: E731
    assert strip(resumed.history) == strip(plain.history)


def test_the_task_registry_says_which_datasets_each_task_takes_and_loads_them():
    """Forms, worker and command ask taskcatalogue.TASK_DATA and scenes.task_dataset: a
    task loads its own scenes or zips, classification its picture folders."""
    import io
    import zipfile

    from PIL import Image

    from playground.classfolders import UPLOAD
    from playground.scenes import task_dataset
    from playground.taskcatalogue import TASK_DATA, TASKS, task_scenes
    from webapp.tools import upload_limits

    assert set(TASK_DATA) == set(TASKS)
    limits = upload_limits()
    for task in TASKS:
        ours = task_scenes(task)
        assert bool(ours) == (TASK_DATA[task] == "scenes"), task
        for name in ours[:1]:
            data = task_dataset(task, name, read_zip=bytes, zip_limits=limits, max_samples=40)
            assert data.input_shape == SCENE_SHAPES[name][0], name
    stripes = task_dataset("classify", "stripes", read_zip=bytes, zip_limits=limits)
    assert stripes.input_shape[0] == 1 and len(stripes.classes) >= 2
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for label in ("red", "blue"):
            for i in range(3):
                out = io.BytesIO()
                Image.new("RGB", (8, 8), label).save(out, "PNG")
                z.writestr(f"{label}/{i}.png", out.getvalue())
    read = []
    zipped = task_dataset("classify", UPLOAD, read_zip=lambda: read.append(1) or buffer.getvalue(),
                          zip_limits=limits, image_size=8)  # fmt: skip
    assert read == [1] and sorted(zipped.classes) == ["blue", "red"]
    assert zipped.input_shape == (3, 8, 8)
