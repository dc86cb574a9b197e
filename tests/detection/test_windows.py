"""Sliding windows vs the convolutional pass, on YOLOv3-tiny."""

from __future__ import annotations

import pytest
from PIL import Image

from detection.windows import compare, conv_macs
from detection.yolo import Detector

from .test_xray import flower

pytestmark = pytest.mark.weights


@pytest.fixture(scope="module")
def detector(real_files):
    return Detector.from_files(*real_files)


def test_multiply_adds_are_darknets_published_count(detector):
    """Darknet prints 5.56 BFLOPs for YOLOv3-tiny at 416: 2 FLOPs per multiply-add."""
    assert conv_macs(detector, 416, 416) * 2 / 1e9 == pytest.approx(5.56, rel=0.01)
    assert conv_macs(detector, 96, 96) < conv_macs(detector, 416, 416) / 16


def test_both_ways_cover_the_grid_and_agree_more_with_wider_windows(detector):
    picture = flower()
    narrow = compare(detector, picture, window=96)
    wide = compare(detector, picture, window=224)
    for doc in (narrow, wide):
        assert doc["grid"] == [13, 13] and doc["windows"] == 169
        assert len(doc["sliding"]["objectness"]) == len(doc["conv"]["class"]) == 169
        assert doc["mac_ratio"] == pytest.approx(
            169 * conv_macs(detector, doc["window"], doc["window"]) / conv_macs(detector, 416, 416)
        )
        assert doc["mac_ratio"] > 8 and doc["speedup"] > 1
    assert narrow["conv"]["objectness"] == wide["conv"]["objectness"]  # the same one pass
    assert wide["max_objectness_gap"] < narrow["max_objectness_gap"]
    assert wide["same_best"] >= narrow["same_best"] and wide["same_best"] > 0.9


def test_a_window_must_fit_the_grid(detector):
    with pytest.raises(ValueError, match="odd multiple of 32"):
        compare(detector, Image.new("RGB", (64, 64)), window=128)
