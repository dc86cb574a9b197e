"""Behaviour of the Gatys engine, on a tiny random VGG-shaped net and small pictures."""

import numpy as np
import pytest
import torch
from PIL import Image

from styletransfer.engine import (
    PRESETS,
    STYLE_LAYERS,
    StyleConfig,
    fit,
    gram_matrix,
    match_color,
    pick_device,
    plan,
    rgb_to_yiq,
    stylize,
    to_tensor,
)

CPU = torch.device("cpu")


def small(**changes) -> StyleConfig:
    """A fast configuration: 32 px, one level, a few steps, on the CPU."""
    return StyleConfig(**{"size": 32, "levels": 1, "steps": 8, "device": "cpu", **changes})


def style_distance(net, image: Image.Image, painting: Image.Image) -> float:
    """Mean relative Gram distance over the style layers, measured independently of the loss."""
    with torch.no_grad():
        a = net(to_tensor(image, image.size, CPU), STYLE_LAYERS)
        b = net(to_tensor(painting, painting.size, CPU), STYLE_LAYERS)
    return float(
        np.mean(
            [
                (gram_matrix(a[k]) - gram_matrix(b[k])).norm() / gram_matrix(b[k]).norm()
                for k in STYLE_LAYERS
            ]
        )
    )


def chroma(image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """The I and Q (colour) channels of an image resized to `size`."""
    return rgb_to_yiq(to_tensor(image, size, CPU))[:, 1:]


def test_gram_matrix_matches_hand_computation():
    features = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])  # (1, 2, 2, 2)
    # channel 0 = (1, 2, 3, 4), channel 1 = (0, 1, 0, 1); products summed over 4 positions / 4
    expected = torch.tensor([[[30 / 4, 6 / 4], [6 / 4, 2 / 4]]])
    assert torch.allclose(gram_matrix(features), expected)


def test_gram_matrix_matches_loop_over_positions():
    features = torch.randn(2, 3, 4, 5)
    expected = torch.zeros(2, 3, 3)
    for b in range(2):
        for i in range(3):
            for j in range(3):
                expected[b, i, j] = (
                    sum(
                        features[b, i, y, x] * features[b, j, y, x]
                        for y in range(4)
                        for x in range(5)
                    )
                    / 20
                )
    assert torch.allclose(gram_matrix(features), expected, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_loss_falls(tiny_net, photo, red_painting, optimizer):
    config = small(optimizer=optimizer, steps=15, learning_rate=0.05)
    result = stylize(photo, [red_painting], config, net=tiny_net)
    assert result.steps == 15 and not result.stopped
    assert result.losses[-1]["total"] < 0.5 * result.losses[0]["total"]
    assert result.losses[-1]["style"] < result.losses[0]["style"]


def test_output_has_requested_size_and_mode(tiny_net, photo, red_painting):
    result = stylize(photo, [red_painting], small(size=40, steps=2), net=tiny_net)
    assert result.image.mode == "RGB"
    assert result.image.size == (40, 27)  # 48x32 scaled so the longest side is 40
    assert result.device.startswith("cpu")


def test_coarse_to_fine_reports_every_level(tiny_net, photo, red_painting):
    events = []
    config = small(size=128, levels=2, coarse_steps=3, steps=2)
    result = stylize(photo, [red_painting], config, net=tiny_net, on_progress=events.append)
    assert [e.size for e in events] == [(64, 43)] * 3 + [(128, 85)] * 2
    assert [e.step for e in events] == [1, 2, 3, 4, 5]
    assert all(e.total_steps == 5 for e in events)
    assert set(events[-1].losses) == {"content", "style", "tv", "total"}
    assert events[0].preview().size == (64, 43)
    assert result.image.size == (128, 85)


def test_cancel_stops_within_one_step(tiny_net, photo, red_painting):
    events = []
    result = stylize(
        photo,
        [red_painting],
        small(steps=50),
        net=tiny_net,
        on_progress=events.append,
        should_stop=lambda: len(events) >= 3,
    )
    assert result.stopped
    assert result.steps == 3 and len(events) == 3
    assert result.image.size == (32, 21)


class LayerCounter:
    """Counts the net's convolutions run forwards and backwards (hooks registered before
    the engine's own, so they run first)."""

    def __init__(self, net) -> None:
        self.forward = self.backward = 0
        for conv in (m for m in net.modules() if isinstance(m, torch.nn.Conv2d)):
            conv.register_forward_pre_hook(self._forward)
            conv.register_forward_hook(self._output)

    def _forward(self, *_) -> None:
        self.forward += 1

    def _output(self, _module, _inputs, output) -> None:
        if output.requires_grad:
            output.register_hook(self._backward)

    def _backward(self, _grad) -> None:
        self.backward += 1


def test_cancel_in_a_sweep_over_the_tiles_stops_at_the_next_layer(tiny_net, photo, red_painting):
    """A print's level first reads every tile of the painting and the photo (no step in
    between): a cancel there used to wait for the whole sweep (issue 21: 160-182 s)."""
    layers = LayerCounter(tiny_net)
    config = small(size=96, tile_size=48, tile_overlap=16, steps=4)
    assert plan(photo.size, config)[0].grids is not None, "the level is tiled"
    result = stylize(photo, [red_painting], config, net=tiny_net,
                     should_stop=lambda: layers.forward >= 5)  # fmt: skip
    assert result.stopped and result.steps == 0
    assert layers.forward == 5, "no convolution ran after the cancel"
    assert result.image.size == fit(photo.size, 96)


def test_cancel_inside_a_step_stops_within_one_layer_backwards(tiny_net, photo, red_painting):
    layers = LayerCounter(tiny_net)
    events = []
    stop = {}

    def step_done(event) -> None:
        events.append(event)
        stop["backward"] = layers.backward  # the cancel comes in step 2's backward pass

    result = stylize(photo, [red_painting], small(steps=6), net=tiny_net, on_progress=step_done,
                     should_stop=lambda: bool(stop) and layers.backward > stop["backward"])
    assert result.stopped and result.steps == 1 and len(events) == 1
    assert layers.backward == stop["backward"] + 1, "no layer's gradient after the cancel"


def test_style_blend_moves_towards_the_heavier_style(tiny_net, photo, red_painting, blue_painting):
    def distances(blend):
        config = small(steps=25, style_weight=20.0, style_blend=blend)
        out = stylize(photo, [red_painting, blue_painting], config, net=tiny_net).image
        return (
            style_distance(tiny_net, out, red_painting.resize(out.size)),
            style_distance(tiny_net, out, blue_painting.resize(out.size)),
        )

    red_heavy, blue_heavy = distances((0.9, 0.1)), distances((0.1, 0.9))
    assert red_heavy[0] < blue_heavy[0]  # closer to the red painting when it weighs more
    assert blue_heavy[1] < red_heavy[1]


@pytest.mark.parametrize("mode", ["luminance", "match"])
def test_preserve_color_keeps_the_photos_colours(tiny_net, photo, red_painting, mode):
    config = small(steps=25, style_weight=20.0)
    plain = stylize(photo, [red_painting], config, net=tiny_net).image
    kept = stylize(
        photo, [red_painting], small(steps=25, style_weight=20.0, preserve_color=mode), net=tiny_net
    ).image
    target = chroma(photo, plain.size)
    error_plain = (chroma(plain, plain.size) - target).abs().mean()
    error_kept = (chroma(kept, kept.size) - target).abs().mean()
    assert error_kept < 0.5 * error_plain


def test_match_color_gives_the_reference_mean_and_covariance():
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.uniform(0.3, 0.6, (1, 3, 20, 20))).float()
    mixing = np.array([[1.0, 0.5, 0.0], [0.2, 1.0, 0.3], [0.0, -0.4, 1.0]])
    spread = np.einsum("ij,bjhw->bihw", mixing, rng.uniform(-1, 1, (1, 3, 30, 10)))
    reference = torch.from_numpy(0.5 + 0.1 * spread).float()  # correlated, inside 0..1
    out = match_color(image, reference)
    got, want = out[0].reshape(3, -1).numpy(), reference[0].reshape(3, -1).numpy()
    assert np.allclose(got.mean(1), want.mean(1), atol=1e-3)
    assert np.allclose(np.cov(got, bias=True), np.cov(want, bias=True), atol=1e-3)


@pytest.mark.parametrize("init", ["noise", "style-colors"])
def test_other_initialisations_run(tiny_net, photo, red_painting, init):
    result = stylize(photo, [red_painting], small(init=init, steps=3), net=tiny_net)
    assert result.steps == 3 and np.isfinite(result.losses[-1]["total"])


def test_one_pixel_photo_is_upscaled(tiny_net, red_painting):
    one = Image.new("RGB", (1, 1), (10, 200, 30))
    result = stylize(one, [red_painting], small(steps=2), net=tiny_net)
    assert result.image.size == (32, 32)


def test_bad_requests_are_refused(tiny_net, photo, red_painting):
    with pytest.raises(ValueError, match="style picture"):
        stylize(photo, [], small(), net=tiny_net)
    with pytest.raises(ValueError, match="style_blend"):
        stylize(photo, [red_painting], small(style_blend=(1.0, 1.0)), net=tiny_net)
    with pytest.raises(ValueError, match="optimizer"):
        StyleConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        StyleConfig(content_layers=("conv9_9",))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_missing_cuda_is_an_error_not_a_fallback():
    with pytest.raises(RuntimeError, match="CUDA"):
        pick_device("cuda")


def test_presets_grow_in_size_and_use_the_pyramid():
    sizes = [PRESETS[name].size for name in ("quick", "standard", "fine")]
    assert sizes == sorted(sizes)
    assert all(len(config.level_sizes()) > 1 for config in PRESETS.values())
    assert StyleConfig() == PRESETS["standard"]
    # the smallest preset is a newcomer's first try: big enough to see the style in (a
    # 256 px, two-level quick preset came out 256×170 and barely styled), with the
    # standard's levels and steps
    quick = PRESETS["quick"]
    assert quick.size >= 384 and quick.total_steps == PRESETS["standard"].total_steps


def test_gram_matrices_stay_float32_inside_a_bfloat16_autocast():
    """The GPU path paints under bfloat16 autocast; the Gram targets and the picture's own
    Grams must both be float32 products, or their difference is rounding noise."""
    torch.manual_seed(0)
    features = torch.randn(1, 8, 6, 5)
    mask = torch.rand(1, 1, 6, 5)
    plain = gram_matrix(features), gram_matrix(features, mask)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = gram_matrix(features), gram_matrix(features, mask)
    for a, b in zip(plain, inside, strict=True):
        assert b.dtype == torch.float32 and torch.equal(a, b)

