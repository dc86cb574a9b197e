"""The engines on CUDA agree with the CPU (the checks of `make gpu-check`, as tests).

Marked `cuda`: on a machine without a CUDA device they are skipped with the reason shown,
so the README's test command stays green there; on a GPU machine
`python -m pytest tests/gpu -m cuda -ra` runs them. Tolerances are bench/gpu_check.py's.
"""

from __future__ import annotations

import pytest
import torch

from bench.gpu_check import QUICK, detection_rows, playground_rows, style_rows
from tests.conftest import require_model_file

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="no CUDA device here: these agreement checks run on a GPU machine "
        "(docs/benchmarks.md, 'GPU')",
    ),
]


def assert_agree(rows) -> None:
    checks = [r for r in rows if r.ok is not None]
    assert checks, "no agreement check ran"
    failed = [f"{r.what}: {r.cuda} (limit {r.limit})" for r in checks if not r.ok]
    assert not failed, "\n".join(failed)


@pytest.mark.weights
def test_style_losses_on_cuda_match_the_cpu_in_bfloat16_and_float32():
    require_model_file("vgg19_caffe_q.bin")
    assert_agree(style_rows(QUICK, timing=False))


@pytest.mark.weights
def test_detection_raw_outputs_and_boxes_on_cuda_match_the_cpu():
    require_model_file("yolov3-tiny.weights")
    assert_agree(detection_rows(QUICK, timing=False))


def test_a_training_step_on_cuda_matches_the_cpu():
    assert_agree(playground_rows(QUICK, timing=False))
