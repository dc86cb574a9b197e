"""The command line: `manage.py train --from vgg19 --mode ...` and `manage.py explain`."""

import io
import json

import pytest
import torch
from django.core.management import CommandError, call_command
from PIL import Image

from playground.export import model_file_load, model_save
from playground.netspec import build
from playground.presets import preset
from tests.conftest import require_model_file


def picture_file(tmp_path, name="seven.png"):
    image = Image.new("L", (28, 28), 0)
    image.paste(255, (6, 5, 22, 8))
    image.paste(255, (18, 5, 21, 24))
    path = tmp_path / name
    image.save(path)
    return path


def test_explain_writes_gradcam_and_saliency_of_a_saved_net(tmp_path):
    torch.manual_seed(0)
    net = build(preset("lenet5", (1, 28, 28)), (1, 28, 28), 10)
    model_save(net, [str(d) for d in range(10)], tmp_path / "run")
    out = io.StringIO()
    call_command("explain", str(tmp_path / "run" / "model.pt"), str(picture_file(tmp_path)),
                 "--class", "7", "--out", str(tmp_path / "out"), stdout=out)  # fmt: skip
    text = out.getvalue()
    assert "explained 7" in text and "predicted" in text
    for name in ("gradcam.png", "saliency.png"):
        data = (tmp_path / "out" / name).read_bytes()
        assert data.startswith(b"\x89PNG")
        assert Image.open(io.BytesIO(data)).size == (252, 252)  # 28 px, 9× for viewing


def test_explain_refuses_a_broken_picture_an_unknown_class_and_no_picture(tmp_path):
    net = build(preset("lenet5", (1, 28, 28)), (1, 28, 28), 10)
    model_save(net, [str(d) for d in range(10)], tmp_path / "run")
    model = str(tmp_path / "run" / "model.pt")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(CommandError, match="broken.png"):
        call_command("explain", model, str(broken), "--out", str(tmp_path))
    with pytest.raises(CommandError, match="unknown class 'cat'"):
        call_command("explain", model, str(picture_file(tmp_path)), "--class", "cat",
                     "--out", str(tmp_path))  # fmt: skip
    with pytest.raises(CommandError, match="give a PICTURE"):
        call_command("explain", model)
    with pytest.raises(CommandError, match="vgg19 has no classes"):
        call_command("explain", "vgg19", str(picture_file(tmp_path)))


def test_explain_unit_of_a_saved_net_writes_the_optimised_picture(tmp_path):
    net = build(preset("lenet5", (1, 28, 28)), (1, 28, 28), 10)
    model_save(net, [str(d) for d in range(10)], tmp_path / "run")
    out = io.StringIO()
    call_command("explain", str(tmp_path / "run" / "model.pt"), "--unit", "layers.3:2",
                 "--steps", "5", "--out", str(tmp_path), stdout=out)  # fmt: skip
    assert (tmp_path / "unit.png").read_bytes().startswith(b"\x89PNG")
    assert "5 steps" in out.getvalue()
    with pytest.raises(CommandError, match="LAYER:CHANNEL"):
        call_command("explain", str(tmp_path / "run" / "model.pt"), "--unit", "layers.3")


def test_train_from_vgg19_frozen_saves_a_model_that_explain_reads(tmp_path):
    require_model_file("vgg19_caffe_q.bin")
    out = io.StringIO()
    call_command("train", "--from", "vgg19", "--mode", "frozen", "--cut", "1",
                 "--dataset", "digits", "--per-class", "3", "--epochs", "2", "--json",
                 "--save", str(tmp_path / "tl"), stdout=out)  # fmt: skip
    lines = out.getvalue().splitlines()
    assert any("frozen" in line and "VGG19 block 1" in line for line in lines)
    assert any(line.startswith("epoch 2:") for line in lines)
    summary = json.loads(lines[-1])
    assert summary["mode"] == "frozen" and summary["train_pictures"] == 30
    assert summary["summary"]["trainable_params"] < summary["summary"]["total_params"]
    model, info = model_file_load(tmp_path / "tl" / "model.pt")
    assert info.classes == [str(d) for d in range(10)] and info.input_shape == (1, 32, 32)
    scripted = torch.jit.load(str(tmp_path / "tl" / "model.torchscript.pt"))
    x = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(scripted(x), model(x))
    call_command("explain", str(tmp_path / "tl" / "model.pt"), str(picture_file(tmp_path)),
                 "--out", str(tmp_path / "why"), stdout=io.StringIO())  # fmt: skip
    assert (tmp_path / "why" / "gradcam.png").is_file()
    with pytest.raises(CommandError, match="--from replaces a spec or preset"):
        call_command("train", "--from", "vgg19", "--preset", "lenet5", "--dataset", "digits")
    with pytest.raises(CommandError, match="cut must be"):
        call_command("train", "--from", "vgg19", "--cut", "7", "--dataset", "digits")
