"""Regions: masked Gram matrices (Gatys et al. 2017, spatial control), one style per
painted region, regions that keep the photo. Tiny random VGG-shaped net."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from styletransfer.engine import (
    MAX_REGIONS,
    RegionSpec,
    StyleConfig,
    gram_matrix,
    region_masks,
    stylize,
)


def small(**changes) -> StyleConfig:
    return StyleConfig(
        **{"size": 48, "levels": 1, "steps": 12, "device": "cpu", "style_weight": 20.0, **changes}
    )


def halves(size=(48, 32)) -> Image.Image:
    """A label map: region 0 on the left half, region 1 on the right."""
    labels = np.zeros((size[1], size[0]), np.uint8)
    labels[:, size[0] // 2 :] = 1
    return Image.fromarray(labels, "L")


def test_masked_gram_with_an_all_ones_mask_is_the_plain_gram():
    features = torch.randn(1, 6, 7, 9)
    ones = torch.ones(1, 1, 7, 9)
    assert torch.allclose(gram_matrix(features, ones), gram_matrix(features), atol=1e-6)


def test_masked_gram_counts_only_the_masked_positions():
    features = torch.randn(1, 4, 6, 8)
    mask = torch.zeros(1, 1, 6, 8)
    mask[..., :, :3] = 1
    assert torch.allclose(gram_matrix(features, mask), gram_matrix(features[..., :3]), atol=1e-6)


def test_region_masks_are_soft_at_the_border_and_sum_to_one():
    masks = region_masks(halves((40, 20)), 2, (25, 10))  # 40 -> 25 columns: edge between pixels
    assert masks.shape == (2, 1, 10, 25)
    assert torch.allclose(masks.sum(0), torch.ones(1, 10, 25))
    assert masks[0, 0, :, 0].min() == 1 and masks[1, 0, :, -1].min() == 1
    assert 0 < masks[0, 0, 0, 12] < 1  # the middle column is shared


def test_a_region_with_no_style_keeps_the_photo(tiny_net, photo, red_painting):
    regions = [RegionSpec(style=None), RegionSpec(style=0, strength=1.0)]
    out = stylize(photo, [red_painting], small(), net=tiny_net, labels=halves(), regions=regions)
    result = np.asarray(out.image, dtype=np.float64)
    original = np.asarray(photo, dtype=np.float64)
    left, right = slice(0, 22), slice(26, 48)  # away from the soft edge
    assert np.abs(result[:, left] - original[:, left]).max() <= 1  # rounding only
    assert np.abs(result[:, right] - original[:, right]).mean() > 5  # painted


def test_each_region_moves_towards_its_own_style(tiny_net, photo, red_painting, blue_painting):
    regions = [RegionSpec(style=0), RegionSpec(style=1)]
    out = stylize(
        photo,
        [red_painting, blue_painting],
        small(steps=20),
        net=tiny_net,
        labels=halves(),
        regions=regions,
    )
    result = np.asarray(out.image, dtype=np.float64)
    left, right = result[:, :20].reshape(-1, 3).mean(0), result[:, 28:].reshape(-1, 3).mean(0)
    assert left[0] - left[2] > right[0] - right[2]  # redder on the left, bluer on the right


def test_strength_zero_leaves_a_region_near_the_photo(tiny_net, photo, red_painting):
    def change(strength: float) -> float:
        regions = [RegionSpec(style=0, strength=strength), RegionSpec(style=0, strength=1.0)]
        out = stylize(
            photo, [red_painting], small(), net=tiny_net, labels=halves(), regions=regions
        )
        diff = np.asarray(out.image, np.float64)[:, :20] - np.asarray(photo, np.float64)[:, :20]
        return float(np.abs(diff).mean())

    assert change(0.0) < 0.5 * change(1.0)


@pytest.mark.parametrize(
    ("labels", "regions", "message"),
    [
        (halves(), None, "label map and one entry"),
        (None, [RegionSpec(style=0)], "label map and one entry"),
        (halves(), [RegionSpec(style=0)], "has region 2; only 1"),
        (halves(), [RegionSpec(style=0), RegionSpec(style=3)], "style 4, but there are 1"),
        (halves(), [RegionSpec(style=0), RegionSpec(style=0, strength=float("nan"))], "finite"),
        (halves(), [RegionSpec(style=0)] * (MAX_REGIONS + 1), f"at most {MAX_REGIONS} regions"),
    ],
)
def test_bad_regions_are_refused(tiny_net, photo, red_painting, labels, regions, message):
    with pytest.raises(ValueError, match=message):
        stylize(photo, [red_painting], small(steps=1), net=tiny_net, labels=labels, regions=regions)


def test_regions_work_in_tiles_too(tiny_net, red_painting):
    from tests.styletransfer.conftest import _picture

    photo = _picture(1, (70, 150, 90), (160, 128))
    regions = [RegionSpec(style=None), RegionSpec(style=0)]
    config = small(size=160, steps=4, tile_size=96, tile_overlap=16)
    out = stylize(
        photo, [red_painting], config, net=tiny_net, labels=halves((160, 128)), regions=regions
    )
    result, original = np.asarray(out.image, np.float64), np.asarray(photo, np.float64)
    assert np.abs(result[:, :76] - original[:, :76]).max() <= 1
    assert np.abs(result[:, 84:] - original[:, 84:]).mean() > 3
