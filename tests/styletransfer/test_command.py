"""The `stylize` management command, end to end on small pictures."""

import io

import pytest
from django.core.management import CommandError, call_command
from PIL import Image


def test_stylize_writes_the_picture_and_reports(
    tmp_path, torchvision_vgg_file, photo, red_painting
):
    photo.save(tmp_path / "photo.jpg")
    red_painting.save(tmp_path / "painting.png")
    out, stdout = tmp_path / "out.png", io.StringIO()
    call_command(
        "stylize",
        str(tmp_path / "photo.jpg"),
        str(tmp_path / "painting.png"),
        "-o",
        str(out),
        "--size=40",
        "--levels=1",
        "--steps=3",
        "--preserve-color",
        "--device=cpu",
        f"--weights={torchvision_vgg_file}",
        "--every=1",
        stdout=stdout,
    )
    text = stdout.getvalue()
    assert Image.open(out).size == (40, 27)
    assert "device: cpu" in text
    assert "step    3/3" in text and "style" in text
    assert "3 steps on cpu" in text


def test_stylize_refuses_a_non_image(tmp_path, torchvision_vgg_file):
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(CommandError, match="not a picture"):
        call_command(
            "stylize",
            str(tmp_path / "notes.txt"),
            str(tmp_path / "notes.txt"),
            "-o",
            str(tmp_path / "out.png"),
            f"--weights={torchvision_vgg_file}",
        )
