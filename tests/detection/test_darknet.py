"""Our Darknet loader against OpenCV's independent Darknet importer, and its bad inputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.datasets import load_sample_image

from detection.darknet import DarknetError, YoloHead, load_darknet, parse_cfg
from detection.modelcard import MODELS
from detection.yolo import letterbox
from tests.detection.conftest import FULL_CFG, FULL_CONVS, TINY_CFG, TINY_CONVS, write_weights
from webapp.modelfiles import MODEL_FILES, verify


def opencv_rows(cfg: Path, weights: Path, x: torch.Tensor) -> np.ndarray:
    """OpenCV's decoded YOLO rows for a (1, 3, H, W) input: (N, 5 + C), class = obj x p."""
    net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    net.setInput(x.numpy())
    return np.concatenate(net.forward(net.getUnconnectedOutLayersNames()), axis=0)


def our_rows(cfg: Path, weights: Path, x: torch.Tensor) -> np.ndarray:
    """Our rows in OpenCV's form: class columns multiplied by objectness."""
    with torch.inference_mode():
        rows = load_darknet(cfg, weights)(x)[0].numpy()
    return np.concatenate([rows[:, :5], rows[:, 5:] * rows[:, 4:5]], axis=1)


def load_darknet_text(tmp_path: Path, cfg: str):
    """Build the model for cfg text, without weights."""
    path = tmp_path / "m.cfg"
    path.write_text(cfg)
    return load_darknet(path)


@pytest.mark.parametrize("version", [(0, 2, 0), (0, 1, 0)], ids=["seen-int64", "seen-int32"])
def test_tiny_model_matches_opencv(tmp_path, version):
    cfg, weights = tmp_path / "tiny.cfg", tmp_path / "tiny.weights"
    cfg.write_text(TINY_CFG)
    write_weights(weights, TINY_CONVS, seed=1, version=version)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))

    ours, ref = our_rows(cfg, weights, x), opencv_rows(cfg, weights, x)

    assert ours.shape == ref.shape == (8 * 8 * 3 + 16 * 16 * 3, 7)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)


def test_spp_mish_route_groups_and_three_scales_match_opencv(tmp_path):
    cfg, weights = tmp_path / "full.cfg", tmp_path / "full.weights"
    cfg.write_text(FULL_CFG)
    write_weights(weights, FULL_CONVS, seed=2)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))

    ours, ref = our_rows(cfg, weights, x), opencv_rows(cfg, weights, x)

    assert ours.shape == ref.shape == ((16 * 16 + 32 * 32 + 64 * 64) * 3, 7)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    model = load_darknet(cfg, weights)
    assert [m.scale_x_y for m in model.layers if isinstance(m, YoloHead)] == [1.05, 1.1, 1.2]


# Anchor boxes each model predicts at 416 x 416: per head grid rows x columns x anchors.
ROWS = {"yolov3-tiny": 13 * 13 * 3 + 26 * 26 * 3, "yolov4-tiny": 13 * 13 * 3 + 26 * 26 * 3}


@pytest.mark.weights
@pytest.mark.parametrize("photo", ["flower.jpg", "china.jpg"])
def test_each_model_matches_opencv_on_a_photo(each_model, tmp_path, photo):
    key, (cfg, weights, _) = each_model
    # Ask OpenCV for every class score (its default zeroes those below 0.2).
    cfg_all = tmp_path / "all.cfg"
    cfg_all.write_text(cfg.read_text().replace("[yolo]", "[yolo]\nthresh=0"))
    x, _ = letterbox(Image.fromarray(load_sample_image(photo)), 416, 416)

    ours, ref = our_rows(cfg, weights, x[None]), opencv_rows(cfg_all, weights, x[None])

    assert ours.shape == ref.shape == (ROWS[key], 85)
    np.testing.assert_allclose(ours, ref, rtol=1e-3, atol=1e-4)


@pytest.mark.weights
def test_each_models_card_counts_its_parameters(each_model):
    key, (cfg, weights, _) = each_model
    model = load_darknet(cfg, weights)
    assert sum(p.numel() for p in model.parameters()) == MODELS[key].parameters
    heads = [m for m in model.layers if isinstance(m, YoloHead)]
    assert len(heads) == MODELS[key].heads


def test_batch_norm_is_darknets(tiny_files):
    """Folded conv == conv, then (x - mean) / (sqrt(var) + 1e-6) * scale + beta, by hand."""
    cfg, weights = tiny_files
    # Small variances make sqrt(var) + 1e-6 and sqrt(var + 1e-5) differ by percents.
    write_weights(weights, TINY_CONVS, variance=(1e-6, 1e-5))
    model = load_darknet(cfg, weights)
    raw = np.frombuffer(weights.read_bytes(), "<f4", offset=20)
    beta, scale, mean, var = (torch.from_numpy(raw[i * 8 : (i + 1) * 8].copy()) for i in range(4))
    kernel = torch.from_numpy(raw[32 : 32 + 8 * 3 * 9].copy()).view(8, 3, 3, 3)
    x = torch.rand(1, 3, 32, 32)

    conv = torch.nn.functional.conv2d(x, kernel, padding=1)
    by_hand = (conv - mean.view(1, -1, 1, 1)) / (var.sqrt() + 1e-6).view(1, -1, 1, 1)
    by_hand = by_hand * scale.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)
    with torch.inference_mode():
        ours = model.layers[0].conv(x)
    torch.testing.assert_close(ours, by_hand, rtol=1e-4, atol=1e-3)


def test_maxpool_size_2_stride_1_pads_right_and_bottom(tmp_path):
    cfg = TINY_CFG.split("# 8:")[0] + "[yolo]\nmask=0\nanchors=1,1\nclasses=19\n"
    model = load_darknet_text(tmp_path, cfg)
    pool = model.layers[7]
    x = torch.arange(9.0).view(1, 1, 3, 3)
    # Each output is the max of its 2x2 window; beyond the right/bottom edge counts nothing.
    assert pool(x).tolist() == [[[[4, 5, 5], [7, 8, 8], [7, 8, 8]]]]


def test_truncated_weights_name_the_layer(tiny_files):
    cfg, weights = tiny_files
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) - 100])
    with pytest.raises(DarknetError, match=r"ends inside conv layer 14 .*truncated"):
        load_darknet(cfg, weights)


def test_weights_for_another_cfg_are_refused(tiny_files):
    cfg, weights = tiny_files
    weights.write_bytes(weights.read_bytes() + b"\0" * 64)
    with pytest.raises(DarknetError, match="16 floats left over"):
        load_darknet(cfg, weights)


def test_too_short_header_is_refused(tiny_files):
    cfg, weights = tiny_files
    weights.write_bytes(b"\0" * 10)
    with pytest.raises(DarknetError, match="too short"):
        load_darknet(cfg, weights)


def test_unsupported_layer_is_named(tmp_path):
    cfg = TINY_CFG.replace("# 11: layer 8\n[route]", "# 11\n[crop]\n[route]")
    with pytest.raises(DarknetError, match=r"layer 11 \[crop\] \(cfg line \d+\).*unsupported"):
        load_darknet_text(tmp_path, cfg)


def test_unsupported_activation_is_named(tmp_path):
    cfg = TINY_CFG.replace("activation=mish", "activation=swish")
    with pytest.raises(DarknetError, match=r"layer 2 \[convolutional\].*'swish'"):
        load_darknet_text(tmp_path, cfg)


def test_yolo_head_needing_other_channels_is_refused(tmp_path):
    cfg = TINY_CFG.replace("classes=2\nnum=6\nscale_x_y", "classes=3\nnum=6\nscale_x_y")
    with pytest.raises(DarknetError, match=r"layer 10 \[yolo\].*needs 3 anchors x \(5 \+ 3"):
        load_darknet_text(tmp_path, cfg)


def test_route_to_a_missing_layer_is_refused(tmp_path):
    with pytest.raises(DarknetError, match=r"layer 13 \[route\].*layer 60"):
        load_darknet_text(tmp_path, TINY_CFG.replace("layers=-1,6", "layers=-1,60"))


def test_cfg_without_net_section_is_refused():
    with pytest.raises(DarknetError, match=r"\[net\]"):
        parse_cfg("[convolutional]\nfilters=2\n")


@pytest.mark.weights
def test_each_models_files_are_listed_for_fetch_models_and_pass_their_checksums(each_model):
    key, files = each_model
    card = MODELS[key]
    for name, path in zip((card.cfg, card.weights, card.names), files, strict=True):
        verify(path, MODEL_FILES[name])  # raises on a wrong size or SHA-256
