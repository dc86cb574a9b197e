"""The X-ray: cell/anchor attribution reproduces the decoder's boxes; NMS by steps ends
with the kept set of our NMS and of torchvision's."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
from PIL import Image, ImageOps
from sklearn.datasets import load_sample_image

from detection.xray import candidates, decode, look, nms_steps, where, xray
from detection.yolo import Detector, batched_nms

from .test_yolo import random_boxes


def flower() -> Image.Image:
    """Where YOLOv3-tiny sees oranges (tests.detection.test_worker.oranges_png)."""
    photo = ImageOps.mirror(Image.fromarray(load_sample_image("flower.jpg")))
    return photo.crop((240, 0, 400, 160))


def tiny_detector(tiny_files) -> Detector:
    return Detector.from_files(*tiny_files, _names(tiny_files))


def _names(tiny_files):
    path = tiny_files[0].with_name("tiny.names")
    path.write_text("cat\ndog\n")
    return path


def attributed_detections(detector: Detector, picture: Image.Image, conf: float, iou: float):
    """Final boxes rebuilt from the X-ray alone: candidates >= conf, NMS by steps, then
    each kept box decoded again from its head, cell, anchor and raw values."""
    seen = look(detector, picture)
    doc = xray(detector, seen, floor=conf, limit=10_000)
    cands = doc["candidates"]
    boxes = torch.tensor([c["net_box"] for c in cands], dtype=torch.float64)
    scores = torch.tensor([c["score"] for c in cands], dtype=torch.float64)
    classes = torch.tensor([c["class_id"] for c in cands])
    out = []
    for step in nms_steps(boxes, scores, classes, iou):
        c = cands[step.keep]
        head = seen.heads[c["head"]]
        net_box = decode(head, c["row"], c["col"], c["anchor"], seen.net_size)
        picture_box = seen.letterbox.to_picture(torch.tensor([net_box]))[0].tolist()
        out.append((c["class_id"], c["score"], picture_box))
    return out, doc


def assert_same_detections(ours, theirs):
    assert len(ours) == len(theirs) > 0
    for (class_id, score, box), d in zip(ours, theirs, strict=True):
        assert class_id == d.class_id and score == round(d.score, 4)
        torch.testing.assert_close(torch.tensor(box), torch.tensor(d.box), atol=1e-3, rtol=0)


def test_every_candidate_decodes_from_its_cell_and_anchor(tiny_files):
    """All anchor boxes of both heads (scale_x_y 1.05 on one): the row index -> (head, row,
    column, anchor) mapping and the decoder's arithmetic give back each decoded box."""
    detector = tiny_detector(tiny_files)
    seen = look(detector, Image.new("RGB", (50, 30), "orange"))
    assert seen.heads[0].scale_x_y == 1.05 and len(seen.heads) == 2
    w, h = seen.net_size
    for index in range(seen.rows.shape[0]):
        head, row, col, anchor = where(seen, index)
        cx, cy, bw, bh = seen.rows[index, :4].tolist()
        expected = [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
        got = decode(seen.heads[head], row, col, anchor, seen.net_size)
        assert got == pytest.approx(expected, abs=1e-4), (index, head, row, col, anchor)
    with pytest.raises(IndexError):
        where(seen, seen.rows.shape[0])


@pytest.mark.parametrize(("conf", "iou"), [(0.3, 0.45), (0.15, 0.2)])
def test_attribution_reproduces_the_detectors_boxes_on_the_tiny_model(tiny_files, conf, iou):
    detector = tiny_detector(tiny_files)
    picture = Image.new("RGB", (70, 40), "teal")
    ours, _ = attributed_detections(detector, picture, conf, iou)
    assert_same_detections(ours, detector.detect([picture], conf, iou)[0])


@pytest.mark.weights
@pytest.mark.parametrize(("conf", "iou"), [(0.1, 0.45), (0.05, 0.3)])
def test_attribution_reproduces_the_detectors_boxes_on_yolov3_tiny(real_files, conf, iou):
    detector = Detector.from_files(*real_files)
    ours, doc = attributed_detections(detector, flower(), conf, iou)
    assert_same_detections(ours, detector.detect([flower()], conf, iou)[0])
    assert [hd["grid"] for hd in doc["heads"]] == [[13, 13], [26, 26]]
    assert doc["heads"][0]["anchors"] == [[81, 82], [135, 169], [344, 319]]
    assert len(doc["heads"][1]["objectness"]) == 26 * 26
    json.dumps(doc, allow_nan=False)  # the stored document is plain JSON


@pytest.mark.weights
def test_one_pass_gives_the_detectors_candidates(real_files):
    detector = Detector.from_files(*real_files)
    assert candidates(detector, look(detector, flower())) == detector.candidates([flower()])[0]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("iou", [0.0, 0.3, 0.5, 0.8])
def test_nms_by_steps_ends_with_our_and_torchvisions_kept_set(seed, iou):
    boxes, scores = random_boxes(60, seed)
    classes = torch.randint(0, 3, (60,), generator=torch.Generator().manual_seed(seed))
    steps = nms_steps(boxes, scores, classes, iou)

    kept = [s.keep for s in steps]
    assert kept == batched_nms(boxes, scores, classes, iou).tolist()
    assert kept == torchvision.ops.batched_nms(boxes, scores, classes, iou).tolist()
    # Every box is kept or suppressed exactly once, by a better box of its class, IoU > iou.
    gone = [j for s in steps for j, _ in s.suppressed]
    assert sorted(kept + gone) == list(range(60))
    for s in steps:
        for j, overlap in s.suppressed:
            assert classes[j] == classes[s.keep] and scores[j] <= scores[s.keep]
            assert overlap > iou
            theirs = torchvision.ops.box_iou(boxes[[s.keep]], boxes[[j]]).item()
            assert overlap == pytest.approx(theirs)


def test_nms_by_steps_of_nothing():
    assert nms_steps(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5) == []
