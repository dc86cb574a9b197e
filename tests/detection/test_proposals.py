"""Region proposals (graph segmentation + hierarchical grouping) and the two-stage detector
beside YOLO's one pass, checked on pictures whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from detection.proposals import CROP, compare, group, propose, segment
from detection.windows import conv_macs
from detection.yolo import Detector, box_iou

from .test_xray import flower, tiny_detector

RED, BLUE = (220, 30, 30), (30, 40, 200)
RED_BOX, BLUE_BOX = (15, 10, 70, 60), (90, 50, 150, 110)  # x1, y1, x2, y2 (exclusive)


def two_rectangles() -> np.ndarray:
    """160 × 120 light grey with a red and a blue flat rectangle (they overlap no pixel)."""
    picture = np.full((120, 160, 3), 200, np.uint8)
    for (x1, y1, x2, y2), colour in ((RED_BOX, RED), (BLUE_BOX, BLUE)):
        picture[y1:y2, x1:x2] = colour
    return picture


def test_segmentation_of_flat_colours_follows_their_edges():
    flat = np.full((20, 30, 3), 90.0)
    assert segment(flat).max() == 0  # one colour, one region
    halves = np.zeros((20, 30, 3))
    halves[:, 15:] = 255
    labels = segment(halves, sigma=0)
    assert labels.max() == 1
    assert (labels[:, :15] == labels[0, 0]).all() and (labels[:, 15:] == labels[0, -1]).all()
    # k is the scale: a faint step (distance 10) splits at a small k and not at a large one
    faint = np.zeros((20, 30, 3))
    faint[:, 15:] = 10 / np.sqrt(3)
    assert segment(faint, k=1, sigma=0, min_size=1).max() == 1
    assert segment(faint, k=10_000, sigma=0, min_size=1).max() == 0


def test_grouping_merges_neighbours_until_one_region_is_left():
    picture = two_rectangles().astype(np.float64)
    labels = segment(picture, sigma=0)
    n = labels.max() + 1
    assert n == 3  # grey, red, blue
    regions = group(picture, labels)
    assert len(regions) == 2 * n - 1  # each merge makes one region of two
    assert regions[-1].box == (0, 0, 160, 120) and regions[-1].size == 160 * 120
    boxes = {r.box for r in regions[:n]}
    assert {RED_BOX, BLUE_BOX} <= boxes  # the rectangles are segments with their own boxes


def test_proposals_cover_both_rectangles():
    boxes = propose(Image.fromarray(two_rectangles()))
    assert boxes.shape[1] == 4 and 3 <= len(boxes) <= 100
    overlap = box_iou(torch.tensor([RED_BOX, BLUE_BOX], dtype=torch.float64),
                      torch.from_numpy(boxes))  # fmt: skip
    assert (overlap.max(dim=1).values > 0.7).all()
    assert boxes[0].tolist() == [0, 0, 160, 120]  # the top of the hierarchy comes first
    assert (boxes[:, 2:] - boxes[:, :2]).min() >= 8  # no sliver


def test_a_large_picture_is_segmented_small_and_its_boxes_scaled_back():
    big = Image.fromarray(two_rectangles()).resize((640, 480), Image.NEAREST)
    overlap = box_iou(torch.tensor([[60, 40, 280, 240], [360, 200, 600, 440]],
                                   dtype=torch.float64),
                      torch.from_numpy(propose(big)))  # fmt: skip
    assert (overlap.max(dim=1).values > 0.7).all()


@pytest.mark.weights
def test_two_stages_count_one_pass_per_region_beside_yolos_single_pass(real_files):
    detector = Detector.from_files(*real_files)
    doc = compare(detector, flower())
    two, one = doc["two_stage"], doc["one_pass"]
    assert two["passes"] == len(doc["proposals"]) > 10 and one["passes"] == 1
    assert two["macs"] == two["passes"] * conv_macs(detector, CROP, CROP)
    assert one["macs"] == conv_macs(detector, 416, 416)
    assert doc["mac_ratio"] == pytest.approx(two["macs"] / one["macs"]) and doc["mac_ratio"] > 5
    assert two["seconds"] == pytest.approx(two["propose_seconds"] + two["classify_seconds"])
    # YOLO sees oranges here; so does the classifier on the regions it was shown
    assert "orange" in {d["class"] for d in one["detections"]}
    assert "orange" in {d["class"] for d in two["detections"]}
    assert 0 <= doc["yolo_found"] <= len(one["detections"])


def test_a_picture_too_small_for_any_proposal_gives_none_and_a_clean_comparison(tiny_files):
    """Every region of a 6 × 6 picture is under the 8-pixel side: no proposal, no pass."""
    picture = Image.fromarray(two_rectangles()).resize((6, 6), Image.NEAREST)
    assert propose(picture).shape == (0, 4)
    doc = compare(tiny_detector(tiny_files), picture)
    assert doc["proposals"] == [] and doc["two_stage"]["passes"] == 0
    assert doc["two_stage"]["detections"] == [] and doc["two_stage"]["macs"] == 0
    assert doc["one_pass"]["passes"] == 1 and doc["mac_ratio"] == 0
