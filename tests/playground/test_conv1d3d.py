"""1D and 3D convolutions in the spec: the course's shape arithmetic by hand (a 14-sample
signal: 14×1 → 10×16 → 6×32; a 14³ volume through 16 filters of 5³), against the module."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from playground.export import model_load, model_save
from playground.netspec import SpecError, build, summarize
from tests.playground.test_netspec import check_against_module

SIGNAL = [{"type": "conv1d", "filters": 16, "kernel": 5}, {"type": "relu"},
          {"type": "conv1d", "filters": 32, "kernel": 5}, {"type": "relu"},
          {"type": "flatten"}]  # fmt: skip
VOLUME = [{"type": "conv3d", "filters": 16, "kernel": 5}, {"type": "batchnorm"},
          {"type": "relu"}, {"type": "conv3d", "filters": 8, "kernel": 3, "stride": 2,
                             "padding": 1},
          {"type": "globalavgpool"}]  # fmt: skip


def conv_macs(model: nn.Module, input_shape) -> int:
    """Multiply-adds of every Conv1d/Conv3d and Linear, counted by hooks on the modules."""
    total = 0

    def hook(m, _inputs, out):
        nonlocal total
        if isinstance(m, nn.Linear):
            total += m.in_features * m.out_features
        else:
            total += out[0].numel() * m.in_channels * m.weight[0, 0].numel()

    kinds = nn.Conv1d | nn.Conv3d | nn.Linear
    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, kinds)]
    model.eval()(torch.rand(1, *input_shape))
    for h in hooks:
        h.remove()
    return total


def test_the_courses_signal_goes_14_to_10x16_to_6x32():
    summary = summarize(SIGNAL, (1, 14), 3)
    first, _, second, _, flat, head = summary.rows
    assert first.output_shape == [16, 10] and second.output_shape == [32, 6]
    assert first.arithmetic == "floor((14+2*0-5)/1)+1 = 10"
    assert second.arithmetic == "floor((10+2*0-5)/1)+1 = 6"
    assert first.params == 16 * (1 * 5 + 1) == 96
    assert second.params == 32 * (16 * 5 + 1) == 2592
    assert first.mult_adds == 10 * 16 * 1 * 5 and second.mult_adds == 6 * 32 * 16 * 5
    assert (first.receptive_field, second.receptive_field) == (5, 9)  # 5, then 5 + 4
    assert flat.output_shape == [192] and flat.arithmetic == "32*6 = 192"
    assert head.params == 192 * 3 + 3
    check_against_module(SIGNAL, (1, 14), 3)
    assert summary.total_mult_adds == conv_macs(build(SIGNAL, (1, 14), 3), (1, 14))


def test_a_volume_through_16_filters_of_5_cubed_is_10_cubed_by_16():
    summary = summarize(VOLUME, (1, 14, 14, 14), 4)
    first, bn, _, second, pooled, _ = summary.rows
    assert first.output_shape == [16, 10, 10, 10]
    assert first.arithmetic == "floor((14+2*0-5)/1)+1 = 10"
    assert first.params == 16 * (5**3 + 1) == 2016
    assert bn.params == 32
    assert second.output_shape == [8, 5, 5, 5]  # floor((10 + 2 − 3)/2) + 1 = 5
    assert second.params == 8 * (16 * 27 + 1) == 3464
    assert second.mult_adds == 8 * 125 * 16 * 27
    assert pooled.output_shape == [8] and pooled.arithmetic == "mean over 5×5×5"
    check_against_module(VOLUME, (1, 14, 14, 14), 4)
    model = build(VOLUME, (1, 14, 14, 14), 4)
    assert isinstance(model.layers[1], nn.BatchNorm3d)
    assert summary.total_mult_adds == conv_macs(model, (1, 14, 14, 14))


def test_uneven_volume_sides_each_get_their_arithmetic():
    row = summarize([{"type": "conv3d", "filters": 2, "kernel": 3}], (2, 4, 8, 6), 2).rows[0]
    assert row.output_shape == [2, 2, 6, 4]
    assert row.arithmetic == ("floor((4+2*0-3)/1)+1 = 2; floor((8+2*0-3)/1)+1 = 6; "
                              "floor((6+2*0-3)/1)+1 = 4")  # fmt: skip


@pytest.mark.parametrize(("spec", "shape", "words"), [
    ([{"type": "conv1d", "filters": 4}], (1, 8, 8), "layer 0 (conv1d): needs a C×L signal but "
                                                    "gets 8×8"),
    ([{"type": "conv3d", "filters": 4}], (1, 14), "needs a C×D×H×W volume but gets 1×14 signals"),
    ([{"type": "conv1d", "filters": 4}, {"type": "maxpool"}], (1, 14),
     "layer 1 (maxpool): needs a C×H×W input but gets 4×12 signals"),
    ([{"type": "conv1d", "filters": 4}, {"type": "linear", "units": 3}], (1, 14),
     "needs a flat input but gets 4×12"),
    ([{"type": "conv1d", "filters": 4, "kernel": 9}], (1, 6),
     "kernel 9 is larger than the 6 input"),
    ([{"type": "conv2d", "filters": 4}, {"type": "conv1d", "filters": 2}], (1, 8, 8),
     "layer 1 (conv1d): needs a C×L signal"),
])  # fmt: skip
def test_convs_of_the_wrong_rank_are_refused_naming_the_layer(spec, shape, words):
    with pytest.raises(SpecError, match=re.escape(words)):
        summarize(spec, shape, 3)


def test_a_signal_net_trains_and_exports(tmp_path):
    model = build(SIGNAL, (2, 14), 3)
    assert model.mean.shape == (2, 1)  # the dataset's mean per channel, broadcast along L
    x, y = torch.rand(8, 2, 14), torch.randint(0, 3, (8,))
    torch.nn.functional.cross_entropy(model(x), y).backward()
    assert model.layers[0].weight.grad.shape == (16, 2, 5)
    paths = model_save(model, ["a", "b", "c"], tmp_path)
    loaded, classes = model_load(paths["checkpoint"])
    assert classes == ["a", "b", "c"]
    model.eval(), loaded.eval()
    assert torch.allclose(loaded(x), model(x))
    assert torch.allclose(torch.jit.load(str(paths["torchscript"]))(x), model(x))
