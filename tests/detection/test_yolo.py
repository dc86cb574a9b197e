"""Letterbox, NMS, decoding and the Detector, checked against torchvision and OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torchvision
from PIL import Image, ImageDraw
from sklearn.datasets import load_sample_image

from detection.darknet import load_darknet
from detection.yolo import (
    CANDIDATE_FLOOR,
    Detection,
    Detector,
    batched_nms,
    letterbox,
    nms,
    refilter,
    select,
)


def random_boxes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 40 + 1
    return torch.cat([xy, xy + wh], dim=1), torch.rand(n, generator=g)


# ----------------------------------------------------------------------------- letterbox


def test_letterbox_puts_the_picture_centred_on_grey():
    picture = Image.new("RGB", (640, 320), (255, 0, 0))
    x, lb = letterbox(picture, 416, 416)

    assert x.shape == (3, 416, 416)
    assert (lb.pad_x, lb.pad_y) == (0, 104)  # 640x320 -> 416x208, centred vertically
    assert torch.all(x[:, :104] == 0.5) and torch.all(x[:, 312:] == 0.5)
    assert torch.allclose(x[:, 104:312], torch.tensor([1.0, 0, 0]).view(3, 1, 1))


def test_a_drawn_box_lands_where_the_mapping_says_and_maps_back():
    picture = Image.new("RGB", (300, 500), (0, 0, 0))
    ImageDraw.Draw(picture).rectangle((60, 100, 179, 299), fill=(255, 255, 255))
    box = torch.tensor([[60.0, 100.0, 180.0, 300.0]])  # pixel edges of the white rectangle
    x, lb = letterbox(picture, 416, 416)

    x1, y1, x2, y2 = lb.to_net(box)[0].round().int().tolist()
    inside = x[0, y1 + 1 : y2 - 1, x1 + 1 : x2 - 1]
    assert inside.min() > 0.9  # white where the mapping puts it
    assert x[0, y1 - 2, x1:x2].max() < 0.1 and x[0, y1:y2, x1 - 2].max() < 0.1
    torch.testing.assert_close(lb.to_picture(lb.to_net(box)), box)


def test_letterbox_resizes_like_opencv():
    photo = load_sample_image("china.jpg")  # 427x640 RGB
    x, lb = letterbox(Image.fromarray(photo), 416, 416)
    expected = cv2.resize(photo, (416, 277), interpolation=cv2.INTER_LINEAR) / 255
    ours = x[:, lb.pad_y : lb.pad_y + 277].permute(1, 2, 0).numpy()
    assert lb.pad_y == (416 - 277) // 2
    np.testing.assert_allclose(ours, expected, atol=1.01 / 255)  # uint8 rounding


def test_boxes_mapped_back_are_clipped_to_the_picture():
    _, lb = letterbox(Image.new("RGB", (200, 100)), 416, 416)
    out = lb.to_picture(torch.tensor([[-50.0, -50.0, 500.0, 500.0]]))
    assert out.tolist() == [[0.0, 0.0, 200.0, 100.0]]


# ----------------------------------------------------------------------------- NMS


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("iou", [0.1, 0.45, 0.9])
def test_nms_matches_torchvision(seed, iou):
    boxes, scores = random_boxes(300, seed)
    assert nms(boxes, scores, iou).tolist() == torchvision.ops.nms(boxes, scores, iou).tolist()


@pytest.mark.parametrize("seed", range(3))
def test_batched_nms_matches_torchvision(seed):
    boxes, scores = random_boxes(300, seed)
    classes = torch.randint(0, 4, (300,), generator=torch.Generator().manual_seed(seed))
    ours = batched_nms(boxes, scores, classes, 0.3).tolist()
    assert ours == torchvision.ops.batched_nms(boxes, scores, classes, 0.3).tolist()


def test_nms_of_nothing_is_nothing():
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0


# ----------------------------------------------------------------------------- decoding


def row(cx, cy, w, h, obj, *probs):
    return [cx, cy, w, h, obj, *probs]


def test_select_scores_best_class_times_objectness_and_suppresses_per_class():
    rows = torch.tensor(
        [
            row(0.5, 0.5, 0.2, 0.2, 0.9, 0.1, 0.8),  # class 1, 0.72
            row(0.51, 0.5, 0.2, 0.2, 0.8, 0.1, 0.8),  # class 1, 0.64, overlaps the first
            row(0.51, 0.5, 0.2, 0.2, 0.8, 0.9, 0.1),  # class 0, 0.72 -> kept: other class
            row(0.1, 0.1, 0.1, 0.1, 0.3, 0.5, 0.1),  # class 0, 0.15 -> below conf
        ]
    )
    boxes, scores, classes = select(rows, net_size=(100, 200), conf=0.25, iou=0.45)

    assert classes.tolist() == [1, 0]
    torch.testing.assert_close(scores, torch.tensor([0.72, 0.72]))
    torch.testing.assert_close(boxes[0], torch.tensor([40.0, 80.0, 60.0, 120.0]))

    _, _, only = select(rows, net_size=(100, 200), conf=0.1, iou=0.45, class_ids=[0])
    assert only.tolist() == [0, 0]


def test_detector_on_the_tiny_model(tiny_files):
    cfg, weights = tiny_files
    detector = Detector(load_darknet(cfg, weights), ["cat", "dog"])
    pictures = [Image.new("RGB", (64, 40), (200, 30, 30)), Image.new("RGB", (20, 90))]

    results = detector.detect(pictures, conf=0.01, iou=0.5, batch_size=1)

    assert len(results) == 2
    for picture, found in zip(pictures, results, strict=True):
        assert found, "random weights with a 0.01 floor find something"
        scores = [d.score for d in found]
        assert scores == sorted(scores, reverse=True)
        for d in found:
            x1, y1, x2, y2 = d.box
            assert 0 <= x1 <= x2 <= picture.width and 0 <= y1 <= y2 <= picture.height
            assert d.class_name == ["cat", "dog"][d.class_id]
    dogs = detector.detect(pictures, conf=0.01, iou=0.5, classes=["dog"])
    assert all(d.class_name == "dog" for found in dogs for d in found)
    with pytest.raises(ValueError, match="unknown class name.*horse"):
        detector.detect(pictures, classes=["horse"])


def test_batching_does_not_change_the_raw_output(tiny_files):
    detector = Detector(load_darknet(*tiny_files), ["cat", "dog"])
    pictures = [Image.new("RGB", (64, 40), (200, 30, 30)), Image.new("RGB", (20, 90), "blue")]
    batch, _ = detector.preprocess(pictures)
    together = detector.forward(batch)
    alone = torch.cat([detector.forward(batch[i : i + 1]) for i in range(2)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_wrong_number_of_class_names_is_refused(tiny_files):
    with pytest.raises(ValueError, match="3 class names for a model with 2 classes"):
        Detector(load_darknet(*tiny_files), ["a", "b", "c"])


def test_refilter_reproduces_filter_and_nms():
    a = Detection(0, "cat", 0.9, (0.0, 0.0, 10.0, 10.0))
    b = Detection(0, "cat", 0.6, (1.0, 0.0, 11.0, 10.0))  # IoU 0.82 with a
    c = Detection(1, "dog", 0.5, (1.0, 0.0, 11.0, 10.0))
    assert refilter([a, b, c], conf=0.1, iou=0.45) == [a, c]
    assert refilter([a, b, c], conf=0.1, iou=0.85) == [a, b, c]
    assert refilter([a, b, c], conf=0.55, iou=0.85) == [a, b]
    assert refilter([a, b, c], conf=0.1, iou=0.45, classes=["dog"]) == [c]


# ----------------------------------------------------------------------------- real model


def opencv_detections(cfg, weights, x: torch.Tensor, conf: float, iou: float):
    """OpenCV's net and OpenCV's NMS on the same letterboxed input: (class, score, box)."""
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    net.setInput(x[None].numpy())
    rows = np.concatenate(net.forward(net.getUnconnectedOutLayersNames()), axis=0)
    classes, scores = rows[:, 5:].argmax(1), rows[:, 5:].max(1)
    xywh = np.stack(
        [rows[:, 0] - rows[:, 2] / 2, rows[:, 1] - rows[:, 3] / 2, rows[:, 2], rows[:, 3]], 1
    )
    xywh *= 416
    kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), classes.tolist(), conf, iou)
    kept = sorted(np.asarray(kept).ravel().tolist(), key=lambda i: -scores[i])
    xyxy = xywh[:, :2], xywh[:, :2] + xywh[:, 2:]
    return [
        (int(classes[i]), float(scores[i]), np.concatenate([xyxy[0][i], xyxy[1][i]])) for i in kept
    ]


@pytest.mark.weights
@pytest.mark.parametrize("name", ["china.jpg", "flower.jpg"])
def test_final_detections_agree_with_opencv(each_model, tmp_path, name):
    _, (cfg, weights, names) = each_model
    cfg_all = tmp_path / "all.cfg"  # OpenCV zeroes class scores under its `thresh` (0.2)
    cfg_all.write_text(cfg.read_text().replace("[yolo]", "[yolo]\nthresh=0"))
    picture = Image.fromarray(load_sample_image(name))
    detector = Detector.from_files(cfg, weights, names)
    x, lb = letterbox(picture, 416, 416)

    ours = detector.detect([picture], conf=0.02, iou=0.45)[0]
    ref = opencv_detections(cfg_all, weights, x, conf=0.02, iou=0.45)

    assert len(ours) == len(ref) > 0
    for d, (cls, score, box) in zip(ours, ref, strict=True):
        assert d.class_id == cls
        assert d.score == pytest.approx(score, abs=1e-4)
        expected = lb.to_picture(torch.tensor(box[None], dtype=torch.float32))[0]
        np.testing.assert_allclose(d.box, expected.numpy(), atol=0.05)


@pytest.mark.weights
def test_page_refiltering_of_candidates_gives_the_detections(real_files):
    detector = Detector.from_files(*real_files)
    pictures = [Image.fromarray(load_sample_image(n)) for n in ("china.jpg", "flower.jpg")]
    candidates = detector.candidates(pictures)
    assert all(d.score >= CANDIDATE_FLOOR for found in candidates for d in found)
    for conf, iou in [(0.05, 0.45), (0.08, 0.3), (0.1, 0.7)]:
        direct = detector.detect(pictures, conf=conf, iou=iou)
        assert [refilter(c, conf=conf, iou=iou) for c in candidates] == direct
