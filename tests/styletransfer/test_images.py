"""Bad and unusual pictures are refused with a clear message or converted to plain RGB,
by the site's one picture reader (webapp.pictures), which style transfer's worker and
`manage.py stylize` use."""

import io

import numpy as np
import pytest
from PIL import Image

from webapp.pictures import UploadError as ImageError
from webapp.pictures import UploadLimits, read_bytes, read_picture


def open_rgb(source, *, max_pixels: int = UploadLimits.max_pixels) -> Image.Image:
    """Decode a path, bytes or file the way the worker and the command do."""
    if isinstance(source, bytes):
        data = source
    elif hasattr(source, "read"):
        data = read_bytes(source, "upload")
    else:
        data = source.read_bytes()
    return read_picture(data, "picture", UploadLimits(max_pixels=max_pixels)).image


def encode(picture: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **params)
    return buffer.getvalue()


def test_plain_jpeg_from_path_bytes_and_file(tmp_path):
    data = encode(Image.new("RGB", (30, 20), (200, 10, 10)), "JPEG")
    (tmp_path / "p.jpg").write_bytes(data)
    for source in (tmp_path / "p.jpg", data, io.BytesIO(data)):
        picture = open_rgb(source)
        assert picture.mode == "RGB" and picture.size == (30, 20)


def test_non_image_is_refused():
    with pytest.raises(ImageError, match="not a picture"):
        open_rgb(b"%PDF-1.4 this is not a picture at all")


def test_truncated_file_is_refused():
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "PNG")
    with pytest.raises(ImageError, match="truncated"):
        open_rgb(data[: len(data) // 2])


def test_too_many_pixels_is_refused_before_decoding():
    bomb = encode(Image.new("1", (10_000, 10_000)), "PNG")  # 100 Mpx in a small file
    assert len(bomb) < 1_000_000
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(ImageError, match="limit"):
        open_rgb(bomb)
    with pytest.raises(ImageError, match="limit is 100"):
        open_rgb(encode(Image.new("RGB", (20, 10)), "PNG"), max_pixels=100)


def test_cmyk_becomes_rgb():
    picture = open_rgb(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"))
    r, g, b = picture.getpixel((4, 4))
    assert picture.mode == "RGB" and r > 200 and g < 60 and b < 60  # cyan-free, full M+Y = red


def test_alpha_is_laid_over_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    picture = open_rgb(encode(rgba, "PNG"))
    assert picture.mode == "RGB"
    assert picture.getpixel((0, 0)) == (255, 255, 255)
    assert picture.getpixel((3, 3)) == (255, 0, 0)


@pytest.mark.parametrize("mode, value", [("L", 100), ("I;16", 40000)])
def test_greyscale_becomes_grey_rgb(mode, value):
    grey = Image.new(mode, (6, 4), value)
    grey.putpixel((0, 0), 0)
    picture = open_rgb(encode(grey, "PNG"))
    assert picture.mode == "RGB" and picture.size == (6, 4)
    r, g, b = picture.getpixel((5, 3))
    assert r == g == b > 0
    assert picture.getpixel((0, 0)) == (0, 0, 0)


def test_exif_rotation_is_applied():
    wide = Image.new("RGB", (40, 20), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 10, 20))  # red strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    picture = open_rgb(encode(wide, "JPEG", exif=exif, quality=95))
    assert picture.size == (20, 40)
    r, _, b = picture.getpixel((10, 3))  # the left strip is now at the top
    assert r > 200 and b < 60


def test_one_pixel_picture_is_accepted():
    picture = open_rgb(encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
    assert picture.size == (1, 1) and picture.getpixel((0, 0)) == (1, 2, 3)
