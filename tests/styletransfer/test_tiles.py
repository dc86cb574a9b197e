"""Print sizes: tiles that agree with the whole picture and leave no seam; recipes that
repeat bit for bit; refining from an earlier result. Tiny random VGG-shaped net."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from styletransfer.engine import (
    ALIGN,
    GatysLoss,
    StyleConfig,
    _autocast_for,
    feather,
    pass_shifts,
    plan,
    seam_ratio,
    style_targets,
    stylize,
    tile_grid,
    to_tensor,
)
from tests.styletransfer.conftest import _picture

CPU = torch.device("cpu")
BASE = {"size": 160, "levels": 1, "steps": 8, "device": "cpu", "style_weight": 20.0}
TILED = {"tile_size": 96, "tile_overlap": 16}  # 160x128 -> 3 x 2 tiles, two shifted passes


def _array(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture, dtype=np.float64) / 255


@pytest.fixture(scope="module")
def pair():
    """(photo, painting, untiled result, tiled result, tiled config) at a size both fit."""
    torch.manual_seed(0)
    from styletransfer.vgg import VGGFeatures

    net = VGGFeatures("relu5_1", widths=(8, 16, 16, 32, 32))
    photo = _picture(1, (70, 150, 90), (160, 128))
    painting = _picture(2, (200, 50, 40), (64, 64))
    whole = stylize(photo, [painting], StyleConfig(**BASE), net=net).image
    config = StyleConfig(**BASE, **TILED)
    assert plan(photo.size, config)[0].grids is not None  # really tiled
    tiled = stylize(photo, [painting], config, net=net).image
    return net, photo, painting, whole, tiled, config


def _whole_loss(net, photo, painting, picture, config) -> float:
    """The untiled loss of a finished picture: what both runs minimise."""
    autocast = _autocast_for(CPU, "float32")
    targets = style_targets(
        net, [to_tensor(painting, (160, 160), CPU)], [1.0], None, config, autocast
    )
    loss = GatysLoss(
        net, config, autocast, targets, [1.0], to_tensor(photo, picture.size, CPU), None, None
    )
    with torch.no_grad():
        return float(loss(to_tensor(picture, picture.size, CPU))["total"])


def test_tiled_and_untiled_results_agree(pair):
    net, photo, painting, whole, tiled, config = pair
    p, w, t = _array(photo), _array(whole), _array(tiled)
    change = np.abs(w - p).mean()  # how far painting moved the picture
    # measured: the tiled result is 0.39 of the change away from the untiled one (bound 0.5)
    assert np.abs(w - t).mean() < 0.5 * change
    # and it reaches nearly the same loss (measured 3.4 % higher; bound 10 %), far below
    # the photo's own (about 15 times the result's)
    loss_whole = _whole_loss(net, photo, painting, whole, config)
    loss_tiled = _whole_loss(net, photo, painting, tiled, config)
    assert loss_tiled < 1.10 * loss_whole
    assert loss_tiled < 0.2 * _whole_loss(net, photo, painting, photo, config)


def test_no_seam_along_tile_borders(pair):
    _, photo, _, _, tiled, config = pair
    # not above the interior's (measured 0.989; the untiled result 0.987, the photo 1.04);
    # 2 % of slack for other CPUs' rounding
    assert seam_ratio(_array(tiled), config) <= 1.02
    # the figure does see a seam: the picture brightened by 8 % past each border
    stepped = _array(tiled).copy()
    for tile in tile_grid(128, 160, config, 0):
        top, _, left, _ = tile.core
        stepped[top:, left:] = np.clip(stepped[top:, left:] + 0.08, 0, 1)
    assert seam_ratio(stepped, config) > 1.2


def test_tile_grid_partitions_the_picture_and_shifts_between_passes():
    config = StyleConfig(tile_size=256, tile_overlap=32, tile_passes=3)
    grids = [tile_grid(700, 1000, config, s) for s in pass_shifts(config)]
    for grid in grids:
        cover = np.zeros((700, 1000), int)
        for tile in grid:
            top, bottom, left, right = tile.core
            cover[top:bottom, left:right] += 1
            wt, wb, wl, wr = tile.window
            assert wb - wt <= 256 and wr - wl <= 256  # never larger than a tile
            assert wt <= top and wb >= bottom and wl <= left and wr >= right
            assert all(v % ALIGN == 0 for v in (wt, wl, top, left))  # layer grids line up
        assert (cover == 1).all()  # the cores partition the picture
    borders = [{t.core[2] for t in grid} - {0} for grid in grids]
    assert not borders[0] & borders[1] and not borders[1] & borders[2]


def test_feather_is_one_on_the_core_and_fades_to_the_window_edge():
    config = StyleConfig(tile_size=96, tile_overlap=16)
    inner = next(t for t in tile_grid(300, 300, config) if t.window[0] > 0 and t.window[2] > 0)
    weight = feather(inner, CPU)[0, 0]
    top, _, left, _ = inner.window
    core = weight[
        inner.core[0] - top : inner.core[1] - top, inner.core[2] - left : inner.core[3] - left
    ]
    assert torch.all(core == 1)
    assert weight[0, 0] < 0.05 and weight[0].max() < 0.1  # the window's edge hardly changes


def test_a_recipe_repeats_bit_for_bit(tiny_net, photo, red_painting):
    config = StyleConfig(
        size=40, levels=2, coarse_steps=3, steps=3, init="noise", seed=7, device="cpu"
    )
    first = stylize(photo, [red_painting], config, net=tiny_net).image
    again = stylize(photo, [red_painting], config, net=tiny_net).image
    other = stylize(
        photo, [red_painting], StyleConfig(**{**config.__dict__, "seed": 8}), net=tiny_net
    ).image
    assert first.tobytes() == again.tobytes()
    assert first.tobytes() != other.tobytes()


def test_refining_starts_from_the_earlier_result(tiny_net, photo, red_painting):
    earlier = Image.new("RGB", (48, 32), (250, 0, 250))  # nothing like the photo
    config = StyleConfig(
        size=48, levels=1, steps=1, device="cpu", optimizer="adam", learning_rate=0.001
    )
    refined = _array(stylize(photo, [red_painting], config, net=tiny_net, init=earlier).image)
    fresh = _array(stylize(photo, [red_painting], config, net=tiny_net).image)
    magenta = np.array([250, 0, 250]) / 255
    assert np.abs(refined - magenta).mean() < 0.02
    assert np.abs(fresh - magenta).mean() > 0.2
