"""Spec -> summary -> module: the summary computed from the spec must match the real net."""

import pytest
import torch
from torch import nn

from playground.netspec import SpecError, build, spec_from_json, summarize
from playground.presets import PRESETS, preset

EVERY_LAYER = [
    {"type": "conv2d", "filters": 8, "kernel": 3, "stride": 1, "padding": 1},
    {"type": "batchnorm"},
    {"type": "leakyrelu", "slope": 0.1},
    {"type": "maxpool", "kernel": 2},
    {"type": "residual", "filters": 12, "stride": 2},
    {
        "type": "inception",
        "c1": 4,
        "c3_reduce": 4,
        "c3": 6,
        "c5_reduce": 2,
        "c5": 3,
        "pool_proj": 2,
    },
    {"type": "avgpool", "kernel": 3, "stride": 1, "padding": 1},
    {"type": "sigmoid"},
    {"type": "residual", "filters": 15},
    {"type": "tanh"},
    {"type": "relu"},
    {"type": "dropout", "p": 0.2},
    {"type": "flatten"},
    {"type": "linear", "units": 20},
    {"type": "batchnorm"},
    {"type": "relu"},
]


def real_shapes(model, input_shape):
    """Output shape of every spec layer and of the head, from an actual forward pass."""
    shapes = []
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: shapes.append(list(out.shape[1:])))
        for m in [*model.layers, model.head]
    ]
    model.eval()(torch.rand(2, *input_shape))
    for h in hooks:
        h.remove()
    return shapes


def check_against_module(spec, input_shape, num_classes=10):
    summary = summarize(spec, input_shape, num_classes)
    model = build(spec, input_shape, num_classes)
    assert real_shapes(model, input_shape) == [row.output_shape for row in summary.rows]
    for row, layer in zip(summary.rows, [*model.layers, model.head], strict=True):
        assert row.params == sum(p.numel() for p in layer.parameters()), row
    assert summary.total_params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("input_shape", [(1, 8, 8), (3, 17, 13)])
def test_every_layer_type_summary_matches_module(input_shape):
    check_against_module(EVERY_LAYER, input_shape)


@pytest.mark.parametrize("name", sorted(PRESETS))
@pytest.mark.parametrize("input_shape", [(1, 8, 8), (1, 16, 16), (1, 28, 28), (3, 32, 32)])
def test_every_preset_summary_matches_module(name, input_shape):
    check_against_module(preset(name, input_shape), input_shape)


def count_macs(model, input_shape):
    """Multiply-adds of every Conv2d and Linear, counted by hooks on the real modules."""
    total = 0

    def hook(m, _inputs, out):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += out[0].numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1]
        else:
            total += m.in_features * m.out_features

    hooks = [
        m.register_forward_hook(hook)
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    model.eval()(torch.rand(1, *input_shape))
    for h in hooks:
        h.remove()
    return total


@pytest.mark.parametrize("name", ["lenet5", "resnet_small", "inception_small"])
def test_mult_adds_match_hooked_modules(name):
    shape = (3, 32, 32)
    spec = preset(name, shape)
    assert summarize(spec, shape, 10).total_mult_adds == count_macs(build(spec, shape, 10), shape)


def test_lenet5_on_32x32_has_the_textbook_61706_parameters():
    # conv 6@5x5: 156, conv 16@6x5x5: 2416, 400->120: 48120, 120->84: 10164, 84->10: 850
    summary = summarize(preset("lenet5", (1, 32, 32)), (1, 32, 32), 10)
    assert [r.params for r in summary.rows if r.params] == [156, 2416, 48120, 10164, 850]
    assert summary.total_params == 61706
    assert summary.rows[5].output_shape == [16, 5, 5]
    assert summary.rows[0].arithmetic == "floor((32+2*0-5)/1)+1 = 28"


def test_receptive_field_of_three_3x3_convs_is_7_and_pooling_doubles_the_jump():
    conv = {"type": "conv2d", "filters": 4, "kernel": 3}
    spec = [conv, conv, conv, {"type": "maxpool", "kernel": 2}, conv]
    rows = summarize(spec, (1, 16, 16), 2).rows
    assert [r.receptive_field for r in rows[:5]] == [3, 5, 7, 8, 12]
    assert [r.jump for r in rows[:5]] == [1, 1, 1, 2, 2]
    assert rows[-1].receptive_field is None  # the classifier sees everything


def test_inception_branch_of_two_3x3_sees_like_a_5x5_and_strided_residual_grows_rf():
    inception = {
        "type": "inception",
        "c1": 1,
        "c3_reduce": 1,
        "c3": 1,
        "c5_reduce": 1,
        "c5": 1,
        "pool_proj": 1,
    }
    rows = summarize(
        [inception, {"type": "residual", "filters": 2, "stride": 2}], (1, 8, 8), 2
    ).rows
    assert rows[0].receptive_field == 5
    assert (rows[1].receptive_field, rows[1].jump) == (5 + 2 + 2 * 2, 2)


@pytest.mark.parametrize(
    ("spec", "input_shape", "words"),
    [
        (
            [{"type": "relu"}, {"type": "conv2d", "filters": 4, "kernel": 5}],
            (1, 3, 3),
            ["layer 1 (conv2d)", "kernel 5 is larger than the 3×3 input"],
        ),
        (
            [{"type": "conv2d", "filters": 4, "kernel": 3}] * 3
            + [{"type": "maxpool", "kernel": 4}],
            (1, 8, 8),
            ["layer 3 (maxpool)", "2×2"],
        ),
        ([{"type": "conv2d", "filters": -3}], (1, 8, 8), ["layer 0 (conv2d)", "filters -3"]),
        ([{"type": "conv2d", "filters": 100000}], (1, 8, 8), ["layer 0", "filters 100000"]),
        ([{"type": "conv2d", "filters": 4, "kernel": 2.5}], (1, 8, 8), ["layer 0", "whole number"]),
        ([{"type": "relu"}, {"type": "transformer"}], (1, 8, 8), ["layer 1", "unknown layer type"]),
        (
            [{"type": "relu", "layers": [{"type": "relu"}]}],
            (1, 8, 8),
            ["layer 0 (relu)", "'layers'"],
        ),
        ([{"type": "linear", "units": 10}], (1, 8, 8), ["layer 0 (linear)", "add a flatten"]),
        (
            [{"type": "flatten"}, {"type": "conv2d", "filters": 2}],
            (1, 8, 8),
            ["layer 1 (conv2d)", "flat"],
        ),
        ([{"type": "dropout", "p": 1.5}], (1, 8, 8), ["layer 0 (dropout)", "p must be"]),
        ([{"type": "conv2d"}], (1, 8, 8), ["layer 0 (conv2d)", '"filters" is required']),
        ([{"type": "relu"}] * 100, (1, 8, 8), ["100 layers"]),
        (
            [
                {"type": "conv2d", "filters": 512, "padding": 1},
                {"type": "conv2d", "filters": 512, "padding": 1},
                {"type": "flatten"},
                {"type": "linear", "units": 4096},
            ],
            (1, 32, 32),
            ["parameters", "layer 3 (linear)"],
        ),
        (
            [{"type": "conv2d", "filters": 512, "kernel": 1}] * 2 + [{"type": "globalavgpool"}],
            (1, 128, 128),
            ["MB per picture"],
        ),
        ({"type": "relu"}, (1, 8, 8), ["list of layers"]),
    ],
)
def test_hostile_specs_are_refused_naming_the_layer(spec, input_shape, words):
    with pytest.raises(SpecError) as err:
        build(spec, input_shape, 10)
    for word in words:
        assert word in str(err.value)


def test_deeply_nested_or_broken_json_is_refused():
    with pytest.raises(SpecError, match="nested deeper"):
        spec_from_json('[{"type": "relu", "x": ' + "[" * 50 + "]" * 50 + "}]")
    with pytest.raises(SpecError, match="not valid JSON"):
        spec_from_json("[" * 100_000)
    assert spec_from_json('[{"type": "relu"}]') == [{"type": "relu"}]
