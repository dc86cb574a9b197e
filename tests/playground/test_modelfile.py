"""One model file format: a playground net and a transfer net both write the header
(task, classes, input shape, preprocessing) and `model_file_load` reads either, and files
from before the header."""

from __future__ import annotations

import torch

from playground.export import model_file_load, model_save
from playground.netspec import build
from playground.presets import preset
from playground.transfer.engine import TransferConfig, transfer_build, transfer_save


def test_both_kinds_of_model_carry_the_header_and_load_through_one_reader(tmp_path):
    net = build(preset("lenet5", (1, 8, 8)), (1, 8, 8), 10)
    model_save(net, [str(d) for d in range(10)], tmp_path / "run", task="classify")
    tl = transfer_build(TransferConfig(mode="scratch", cut=1, image_size=16, hidden=8), 3,
                        input_channels=1)  # fmt: skip
    transfer_save(tl, ["a", "b", "c"], tmp_path / "tl")
    for folder, architecture, classes, shape in (
        ("run", "netspec", [str(d) for d in range(10)], (1, 8, 8)),
        ("tl", "vgg19-transfer", ["a", "b", "c"], (1, 16, 16)),
    ):
        saved = torch.load(tmp_path / folder / "model.pt", weights_only=True)
        assert saved["format"] == 1 and saved["task"] == "classify"
        assert saved["preprocessing"]["scale"] == "pixels / 255"
        model, info = model_file_load(tmp_path / folder / "model.pt")
        assert (info.architecture, info.classes, info.input_shape) == (architecture, classes,
                                                                       shape)  # fmt: skip
        assert model(torch.rand(2, *shape)).shape == (2, len(classes)) and not model.training


def test_a_model_file_from_before_the_header_still_loads(tmp_path):
    net = build(preset("lenet5", (1, 8, 8)), (1, 8, 8), 10)
    model_save(net, [str(d) for d in range(10)], tmp_path)
    old = torch.load(tmp_path / "model.pt", weights_only=True)
    for key in ("format", "architecture", "task", "preprocessing"):
        old.pop(key)
    torch.save(old, tmp_path / "old.pt")
    model, info = model_file_load(tmp_path / "old.pt")
    assert info.architecture == "netspec" and info.input_shape == (1, 8, 8)
    assert torch.equal(model.state_dict()["layers.0.weight"], net.state_dict()["layers.0.weight"])
