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


def test_stylize_paints_regions_in_tiles_from_the_command_line(
    tmp_path, torchvision_vgg_file, photo, red_painting
):
    photo.save(tmp_path / "photo.png")
    red_painting.save(tmp_path / "painting.png")
    labels = Image.new("L", (48, 32), 0)
    labels.paste(1, (24, 0, 48, 32))
    labels.save(tmp_path / "labels.png")
    out, stdout = tmp_path / "out.png", io.StringIO()
    call_command(
        "stylize",
        str(tmp_path / "photo.png"),
        str(tmp_path / "painting.png"),
        "-o",
        str(out),
        "--size=48",
        "--levels=1",
        "--steps=2",
        "--tile-size=32",
        "--tile-overlap=0",
        "--tile-passes=1",
        f"--labels={tmp_path / 'labels.png'}",
        "--region",
        "none",
        "1:2",
        "--device=cpu",
        f"--weights={torchvision_vgg_file}",
        stdout=stdout,
    )
    result, original = Image.open(out), photo
    assert result.size == (48, 32)
    assert result.crop((0, 0, 20, 32)).tobytes() == original.crop((0, 0, 20, 32)).tobytes()
    with pytest.raises(CommandError, match="style 3, but there are 1"):
        call_command(
            "stylize",
            str(tmp_path / "photo.png"),
            str(tmp_path / "painting.png"),
            "-o",
            str(out),
            f"--labels={tmp_path / 'labels.png'}",
            "--region",
            "none",
            "3",
            f"--weights={torchvision_vgg_file}",
        )
