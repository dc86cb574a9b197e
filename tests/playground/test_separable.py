"""Grouped and depthwise-separable convolutions in the spec: the summary against hand
computations (the course's 6×6×3 example) and against the real module."""

from __future__ import annotations

import pytest
import torch

from playground.netspec import SpecError, build, normalize, summarize
from tests.playground.test_netspec import check_against_module, count_macs

DEPTHWISE = {"type": "conv2d", "filters": 3, "kernel": 3, "groups": 3}
POINTWISE = {"type": "conv2d", "filters": 5, "kernel": 1}


def test_the_courses_separable_example_costs_432_plus_240_against_2160():
    # 6×6×3 input, 3×3 kernels, 5 output channels, valid padding: output 4×4×5
    summary = summarize([DEPTHWISE, POINTWISE], (3, 6, 6), 10)
    depthwise, pointwise = summary.rows[:2]
    assert depthwise.output_shape == [3, 4, 4] and pointwise.output_shape == [5, 4, 4]
    assert depthwise.mult_adds == 4 * 4 * 3 * 3 * 3 == 432  # one 3×3 filter per channel
    assert pointwise.mult_adds == 4 * 4 * 3 * 5 == 240
    assert depthwise.params == 3 * (1 * 9 + 1) == 30
    assert pointwise.params == 5 * (3 + 1) == 20
    assert "3 groups of 1 channels: 1/3 of a plain conv's multiply-adds" in depthwise.arithmetic
    # a plain 3×3 conv to 5 channels: 4·4·5·3·3·3 = 2160; (432 + 240)/2160 = 1/5 + 1/9
    assert "432 + 240 = 672 multiply-adds against 2,160 for a plain conv" in pointwise.arithmetic
    assert f"{1 / 5 + 1 / 9:.3f} = 1/5 + 1/9" in pointwise.arithmetic


def test_batch_norm_and_relu_between_keep_the_pair_a_separable_conv():
    spec = [DEPTHWISE, {"type": "batchnorm"}, {"type": "relu"}, POINTWISE]
    assert "against 2,160" in summarize(spec, (3, 6, 6), 10).rows[3].arithmetic
    pooled = [DEPTHWISE, {"type": "maxpool", "kernel": 2}, POINTWISE]
    assert "plain conv" not in summarize(pooled, (3, 6, 6), 10).rows[2].arithmetic


@pytest.mark.parametrize("input_shape", [(4, 8, 8), (8, 11, 9)])
def test_grouped_and_separable_summaries_match_the_module(input_shape):
    c = input_shape[0]
    spec = [{"type": "conv2d", "filters": c, "kernel": 3, "padding": 1, "groups": c},
            {"type": "batchnorm"}, {"type": "relu"},
            {"type": "conv2d", "filters": 8, "kernel": 1},
            {"type": "conv2d", "filters": 12, "kernel": 3, "stride": 2, "groups": 4},
            {"type": "relu"}, {"type": "globalavgpool"}]  # fmt: skip
    check_against_module(spec, input_shape)
    model = build(spec, input_shape, 10)
    assert model.layers[0].groups == c and model.layers[4].groups == 4
    # count_macs counts a conv as if ungrouped: divide each grouped conv's share by hand
    plain = count_macs(model, input_shape)
    summary = summarize(spec, input_shape, 10)
    grouped = summary.rows[0].mult_adds * (c - 1) + summary.rows[4].mult_adds * 3
    assert summary.total_mult_adds == plain - grouped


def test_a_plain_conv_reads_as_before_and_bad_groups_are_refused_naming_the_layer():
    assert normalize([{"type": "conv2d", "filters": 4, "groups": 1}])[0] == {
        "type": "conv2d", "filters": 4, "kernel": 3, "stride": 1, "padding": 0}
    with pytest.raises(SpecError, match=r"layer 0 \(conv2d\): groups 2 must divide both the 3"):
        summarize([{"type": "conv2d", "filters": 4, "groups": 2}], (3, 8, 8), 10)
    with pytest.raises(SpecError, match="groups 0 is outside"):
        normalize([{"type": "conv2d", "filters": 4, "groups": 0}])
    with pytest.raises(SpecError, match="groups must be a whole number"):
        normalize([{"type": "conv2d", "filters": 4, "groups": 1.5}])


def test_a_depthwise_conv_trains():
    spec = [DEPTHWISE, {"type": "relu"}, POINTWISE, {"type": "globalavgpool"}]
    model = build(spec, (3, 6, 6), 2)
    x, y = torch.rand(8, 3, 6, 6), torch.randint(0, 2, (8,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    assert model.layers[0].weight.grad.shape == (3, 1, 3, 3)
