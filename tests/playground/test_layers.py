"""The layers that undo pooling and join skips (issue 12): the summary table computed from
the spec must match the real modules, and bad specs are refused naming the layer."""

import pytest
import torch

from playground.netspec import SpecError, build, summarize
from playground.taskcatalogue import TASK_PRESETS

UNET = [
    {"type": "conv2d", "filters": 4, "padding": 1, "name": "e1"},
    {"type": "maxpool", "kernel": 2, "name": "p1"},
    {"type": "conv2d", "filters": 4, "padding": 1},
    {"type": "maxunpool", "pool": "p1"},
    {"type": "concat", "from": "e1"},
    {"type": "upsample", "scale": 2, "mode": "bilinear"},
    {"type": "convtranspose2d", "filters": 5, "kernel": 3, "stride": 2, "padding": 1,
     "output_padding": 1},
    {"type": "upsample", "scale": 3},
]  # fmt: skip


def real_outputs(model, x):
    """Every spec layer's output (a max pool's values without its indices)."""
    outputs = []

    def keep(_m, _i, out):
        outputs.append(out[0] if isinstance(out, tuple) else out)

    hooks = [m.register_forward_hook(keep) for m in model.layers]
    model.eval()(x)
    for h in hooks:
        h.remove()
    return outputs


@pytest.mark.parametrize("input_shape", [(1, 8, 8), (3, 10, 6)])
def test_new_layers_summary_matches_module(input_shape):
    summary = summarize(UNET, input_shape, 4)
    model = build(UNET, input_shape, 4)
    outputs = real_outputs(model, torch.rand(2, *input_shape))
    assert [list(o.shape[1:]) for o in outputs] == [r.output_shape for r in summary.rows[:-1]]
    for row, layer in zip(summary.rows, [*model.layers, model.head], strict=True):
        assert row.params == sum(p.numel() for p in layer.parameters()), row
    assert summary.total_params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", [n for n, (task, *_) in TASK_PRESETS.items()])
@pytest.mark.parametrize("input_shape", [(1, 32, 32), (1, 8, 8), (3, 28, 28)])
def test_task_presets_build_and_match_the_table(name, input_shape):
    task, _, make = TASK_PRESETS[name]
    spec = make(input_shape)
    head = {"segment": "mask", "verify": "siamese", "localise": "box"}.get(task, "points")
    summary = summarize(spec, input_shape, 6, head=head)
    model = build(spec, input_shape, 6, head=head)
    out = model.eval()(torch.rand(2, *input_shape))
    assert list(out.shape[1:]) == summary.rows[-1].output_shape
    assert summary.total_params == sum(p.numel() for p in model.parameters())
    if task == "segment":
        assert list(out.shape[2:]) == list(input_shape[1:])


def test_max_unpool_puts_each_value_back_where_the_pools_maximum_was():
    spec = [{"type": "maxpool", "kernel": 2, "name": "p"}, {"type": "maxunpool", "pool": "p"}]
    model = build(spec, (1, 4, 4), 2)
    x = torch.tensor([[[[1., 5., 0., 2.],
                        [3., 4., 7., 1.],
                        [9., 0., 6., 6.],
                        [2., 8., 1., 0.5]]]])  # fmt: skip
    pooled, unpooled = real_outputs(model, x)
    assert pooled.tolist() == [[[[5.0, 7.0], [9.0, 6.0]]]]
    expected = torch.tensor([[[[0., 5., 0., 0.],
                               [0., 0., 7., 0.],
                               [9., 0., 6., 0.],
                               [0., 0., 0., 0.]]]])  # fmt: skip
    assert torch.equal(unpooled, expected)


def test_max_unpool_follows_the_maxima_through_layers_between():
    """The values unpooled are the ones that arrive (here doubled), the places the pool's."""
    spec = [
        {"type": "maxpool", "kernel": 2, "name": "p"},
        {"type": "upsample", "scale": 1},
        {"type": "maxunpool", "pool": "p"},
    ]
    x = torch.rand(3, 2, 6, 6)
    model = build(spec, (2, 6, 6), 2)
    pooled, _, unpooled = real_outputs(model, x)
    reference_values, indices = torch.nn.functional.max_pool2d(x, 2, return_indices=True)
    assert torch.equal(pooled, reference_values)
    flat = torch.zeros(3, 2, 36).scatter_(2, indices.flatten(2), pooled.flatten(2))
    assert torch.equal(unpooled, flat.reshape(3, 2, 6, 6))
    assert ((unpooled != 0).sum(dim=(2, 3)) == 9).all()  # one value per 2×2 window


CASES = [(n, f, s, p) for n in (1, 2, 5, 7, 8, 13) for f in (1, 2, 3, 4, 5)
         for s in (1, 2, 3) for p in (0, 1, 2)]  # fmt: skip


@pytest.mark.parametrize(("n", "f", "s", "p"), CASES)
def test_transposed_conv_output_size_follows_the_tables_formula(n, f, s, p):
    expected = (n - 1) * s - 2 * p + f
    layer = {"type": "convtranspose2d", "filters": 2, "kernel": f, "stride": s, "padding": p}
    if expected < 1:
        with pytest.raises(SpecError, match="layer 0 \\(convtranspose2d\\)"):
            summarize([layer], (1, n, n), 3)
        return
    row = summarize([layer], (1, n, n), 3).rows[0]
    assert row.output_shape == [2, expected, expected]
    assert row.arithmetic == f"({n}-1)*{s}-2*{p}+{f} = {expected}"
    out = build([layer], (1, n, n), 3).features(torch.rand(1, 1, n, n))
    assert list(out.shape[1:]) == row.output_shape


def test_receptive_field_and_jump_through_upsampling():
    spec = [
        {"type": "conv2d", "filters": 2, "kernel": 3, "padding": 1},  # rf 3, jump 1
        {"type": "maxpool", "kernel": 2, "name": "p"},  # rf 4, jump 2
        {"type": "conv2d", "filters": 2, "kernel": 3, "padding": 1},  # rf 8, jump 2
        {"type": "upsample", "scale": 2, "mode": "bilinear"},  # rf 8 + 2, jump 1
        {"type": "convtranspose2d", "filters": 2, "kernel": 4, "stride": 2, "padding": 1},
    ]
    rows = summarize(spec, (1, 16, 16), 2).rows
    assert [(r.receptive_field, r.jump) for r in rows[:5]] == [
        (3, 1), (4, 2), (8, 2), (10, 1), (11, 0.5),  # ceil(4/2) - 1 = 1 more input unit
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "head", "words"),
    [
        ([{"type": "maxunpool", "pool": "p1"}], "classifier",
         ["layer 0 (maxunpool)", '"p1" is no layer\'s name']),
        ([{"type": "maxunpool", "pool": "p1"}, {"type": "maxpool", "name": "p1"}], "classifier",
         ["layer 0 (maxunpool)", "a later layer"]),
        ([{"type": "avgpool", "name": "a"}, {"type": "maxunpool", "pool": "a"}], "classifier",
         ["layer 1 (maxunpool)", "not a maxpool"]),
        ([{"type": "maxpool", "name": "p"}, {"type": "conv2d", "filters": 3},
          {"type": "maxunpool", "pool": "p"}], "classifier",
         ["layer 2 (maxunpool)", "gets 3×2×2", "gave 1×4×4"]),
        ([{"type": "conv2d", "filters": 2, "name": "c"}, {"type": "maxpool"},
          {"type": "concat", "from": "c"}], "classifier",
         ["layer 2 (concat)", "6×6 maps but this layer gets 3×3", "same H×W"]),
        ([{"type": "relu", "name": "x"}, {"type": "relu", "name": "x"}], "classifier",
         ["layer 1 (relu)", "already layer 0's"]),
        ([{"type": "concat", "from": "9lives"}], "classifier", ["layer 0 (concat)", "from must"]),
        ([{"type": "concat"}], "classifier", ['"from" is required']),
        ([{"type": "upsample", "mode": "bicubic"}], "classifier", ["mode must be nearest or"]),
        ([{"type": "convtranspose2d", "filters": 2, "stride": 2, "output_padding": 2}],
         "classifier", ["layer 0 (convtranspose2d)", "smaller than the stride"]),
        ([{"type": "conv2d", "filters": 2}, {"type": "maxpool"}], "mask",
         ["layer 1 (maxpool)", "must end at the pictures' 8×8 maps", "ends at 3×3"]),
        ([{"type": "flatten"}, {"type": "upsample"}], "classifier",
         ["layer 1 (upsample)", "flat"]),
    ],
)  # fmt: skip
def test_bad_specs_are_refused_naming_the_layer(spec, head, words):
    with pytest.raises(SpecError) as err:
        build(spec, (1, 8, 8), 4, head=head)
    for word in words:
        assert word in str(err.value)


def test_torchscript_export_of_a_net_with_skips_and_unpooling(tmp_path):
    from playground.export import model_load, model_save

    spec = UNET[:5]
    model = build(spec, (1, 8, 8), 3, head="mask")
    paths = model_save(model, ["a", "b", "c"], tmp_path)
    loaded, _ = model_load(paths["checkpoint"])
    scripted = torch.jit.load(str(paths["torchscript"]))
    x = torch.rand(2, 1, 8, 8)
    assert torch.allclose(loaded(x), model.eval()(x))
    assert torch.allclose(scripted(x), model(x), atol=1e-6)
    assert loaded(x).shape == (2, 3, 8, 8)
