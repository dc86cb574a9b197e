"""bfloat16 on a CPU that has it natively: the boxes of float32, within its rounding."""

from __future__ import annotations

import pytest
import torch

from detection.yolo import Detector, bf16_supported, box_iou

from .test_xray import flower

pytestmark = [
    pytest.mark.weights,
    pytest.mark.skipif(not bf16_supported(), reason="this CPU has no native bfloat16"),
]


def test_bfloat16_finds_what_float32_finds(real_files):
    fp32 = Detector.from_files(*real_files)
    bf16 = Detector.from_files(*real_files, bf16=True)
    assert bf16.dtype == torch.bfloat16
    a, b = fp32.detect([flower()], 0.25, 0.45)[0], bf16.detect([flower()], 0.25, 0.45)[0]
    assert len(a) >= 2 and [d.class_name for d in a] == [d.class_name for d in b]
    for p, q in zip(a, b, strict=True):
        assert abs(p.score - q.score) < 0.02
        assert box_iou(torch.tensor([p.box]), torch.tensor([q.box]))[0, 0] > 0.95


@pytest.mark.parametrize("lower", [{"bf16": True}, {"half": True}])
def test_anchors_stay_float32_when_the_net_runs_in_a_lower_precision(real_files, lower):
    exact = [h.anchors.clone() for h in Detector.from_files(*real_files).model.modules()
             if hasattr(h, "anchors")]  # fmt: skip
    low = [h.anchors for h in Detector.from_files(*real_files, **lower).model.modules()
           if hasattr(h, "anchors")]  # fmt: skip
    assert len(low) == 2
    for a, b in zip(exact, low, strict=True):
        assert b.dtype == torch.float32 and torch.equal(a, b)


def test_bfloat16_is_not_used_off_the_cpu():
    assert not bf16_supported("cuda")
