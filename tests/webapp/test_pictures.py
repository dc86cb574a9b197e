"""The one reader of untrusted pictures and zips: every hostile case, once.

Good pictures and zips pass (turned upright, converted to 8-bit RGB); each kind of bad
upload is refused with an UploadError that says why; header probes never decode pixels.
"""

from __future__ import annotations

import io
import stat
import struct
import time
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from webapp.pictures import (
    UploadError,
    UploadLimits,
    check_request_pixels,
    probe_picture,
    probe_upload,
    read_bytes,
    read_picture,
    read_upload,
    zip_members,
)


def encode(picture: Image.Image, fmt: str = "PNG", **params) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **params)
    return buffer.getvalue()


def picture_bytes(size=(40, 30), fmt="PNG", colour=(10, 200, 30)) -> bytes:
    return encode(Image.new("RGB", size, colour), fmt)


def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for path, content in members.items():
            zf.writestr(path, content)
    return out.getvalue()


def upload(data: bytes, name: str, limits: UploadLimits | None = None):
    return list(read_upload(data, name, limits or UploadLimits()))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# -------------------------------------------------------------------- good pictures


def test_one_picture_is_read_as_rgb():
    (picture,) = upload(picture_bytes(fmt="JPEG"), "cat.jpg")
    assert picture.name == "cat.jpg"
    assert picture.image.mode == "RGB" and picture.image.size == (40, 30)


def test_exif_rotation_is_applied_when_decoding_and_when_probing():
    wide = Image.new("RGB", (40, 20), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 10, 20))  # red strip on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    data = encode(wide, "JPEG", exif=exif, quality=95)
    picture = read_picture(data, "phone.jpg")
    assert picture.image.size == (20, 40)
    r, _, b = picture.image.getpixel((10, 3))  # the left strip is now at the top
    assert r > 200 and b < 60
    info = probe_picture(data, "phone.jpg")
    assert (info.width, info.height, info.format) == (20, 40, "JPEG")


def test_cmyk_becomes_rgb():
    picture = read_picture(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"), "c.jpg")
    r, g, b = picture.image.getpixel((4, 4))
    assert picture.image.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_alpha_is_laid_over_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))
    image = read_picture(encode(rgba), "a.png").image
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)
    assert image.getpixel((3, 3)) == (255, 0, 0)


def test_palette_with_transparency_is_laid_over_white():
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    palette.putpixel((0, 0), 0)
    image = read_picture(encode(palette, transparency=0), "p.png").image
    assert image.getpixel((0, 0)) == (255, 255, 255) and image.getpixel((2, 2)) == (0, 200, 0)


@pytest.mark.parametrize("mode, value", [("L", 100), ("I;16", 40000)])
def test_greyscale_becomes_grey_rgb(mode, value):
    grey = Image.new(mode, (6, 4), value)
    grey.putpixel((0, 0), 0)
    image = read_picture(encode(grey), "g.png").image
    assert image.mode == "RGB" and image.size == (6, 4)
    r, g, b = image.getpixel((5, 3))
    assert r == g == b > 0
    assert image.getpixel((0, 0)) == (0, 0, 0)


def test_one_pixel_picture_is_accepted():
    image = read_picture(encode(Image.new("RGB", (1, 1), (1, 2, 3))), "dot.png").image
    assert image.size == (1, 1) and image.getpixel((0, 0)) == (1, 2, 3)


def test_a_zip_of_pictures_in_folders_skips_folders_and_mac_metadata():
    data = zip_bytes(
        {
            "holiday/a.png": picture_bytes(),
            "holiday/b.jpg": picture_bytes(fmt="JPEG"),
            "__MACOSX/holiday/._a.png": b"\0\5\x16\7 mac resource fork",
            ".DS_Store": b"junk",
        }
    )
    assert [p.name for p in upload(data, "holiday.zip")] == ["holiday/a.png", "holiday/b.jpg"]
    assert [(i.name, i.width) for i in probe_upload(data, "holiday.zip")] == [
        ("holiday/a.png", 40),
        ("holiday/b.jpg", 40),
    ]


# ---------------------------------------------------------------- bad single pictures


def test_non_picture_is_refused():
    with pytest.raises(UploadError, match=r"notes.txt: not a picture"):
        upload(b"%PDF-1.4 just some text", "notes.txt")


def test_truncated_picture_is_refused_as_corrupt():
    data = picture_bytes(size=(200, 200), fmt="JPEG")
    with pytest.raises(UploadError, match=r"half.jpg: the picture is corrupt"):
        upload(data[: len(data) // 2], "half.jpg")


@pytest.mark.parametrize("fmt, cut", [("JPEG", 200), ("JPEG", None), ("PNG", None)])
def test_truncated_picture_is_found_by_the_header_probe(fmt, cut):
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    with pytest.raises(UploadError, match=r"cut: the picture is corrupt or incomplete"):
        probe_picture(data[: cut or len(data) // 2], "cut")


def test_empty_file_is_refused():
    with pytest.raises(UploadError, match="empty"):
        upload(b"", "nothing.png")


def test_oversized_file_is_refused_without_reading_it_all():
    stream = io.BytesIO(b"\xff" * 5000)
    with pytest.raises(UploadError, match="larger than the 1,000 bytes"):
        read_bytes(stream, "big.png", UploadLimits(max_bytes=1000))
    assert stream.tell() == 1001


def test_read_picture_refuses_a_picture_over_the_byte_limit():
    with pytest.raises(UploadError, match="more than 100 allowed"):
        read_picture(picture_bytes(), "a.png", UploadLimits(max_bytes=100))


def test_picture_with_too_many_pixels_is_refused_before_decoding():
    # A blank 9000x9000 PNG is a few kilobytes and would decode to 243 MB of RGB.
    data = encode(Image.new("1", (9000, 9000)))
    assert len(data) < 100_000
    for read in (read_picture, probe_picture):
        with pytest.raises(UploadError, match=r"9000x9000 pixels is too large"):
            read(data, "bomb.png")


def test_decompression_bomb_past_pillows_own_limit_is_refused():
    bomb = encode(Image.new("1", (20_000, 20_000)))  # 400 Mpx: Pillow's own bomb error
    with pytest.raises(UploadError, match="far too many pixels|too large"):
        probe_picture(bomb, "bomb.png", UploadLimits(max_pixels=10**12, max_side=10**6))


def test_a_side_longer_than_the_limit_is_refused():
    with pytest.raises(UploadError, match="100 per side"):
        probe_picture(encode(Image.new("1", (101, 2))), "strip.png", UploadLimits(max_side=100))


def test_probe_reads_the_header_only():
    """A PNG whose pixel data is garbage (valid checksums) passes the probe: no pixel is
    decoded there. Decoding it, as the worker does, refuses it."""
    header = struct.pack(">IIBBBBB", 5000, 4000, 8, 2, 0, 0, 0)
    garbage = b"\x00not zlib at all" * 8
    data = (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", garbage)
        + png_chunk(b"IEND", b"")
    )
    info = probe_picture(data, "big.png")
    assert (info.width, info.height, info.pixels) == (5000, 4000, 20_000_000)
    with pytest.raises(UploadError, match="big.png: the picture is corrupt"):
        read_picture(data, "big.png")


def test_probe_of_a_real_png_decodes_no_pixels():
    """Pillow's PNG getexif() decodes every pixel to look for an EXIF chunk after them;
    the probe must not ask it. Probing takes a tiny part of what decoding takes."""
    out = io.BytesIO()
    Image.new("RGB", (6324, 6324), "white").save(out, "PNG")
    started = time.perf_counter()
    probe_picture(out.getvalue(), "big.png")
    probing = time.perf_counter() - started
    started = time.perf_counter()
    read_picture(out.getvalue(), "big.png")
    decoding = time.perf_counter() - started
    assert probing < decoding / 10, (probing, decoding)


def test_request_pixel_budget_counts_all_pictures_together():
    data = encode(Image.new("1", (6000, 5000)))  # 30 Mpx in a few kilobytes
    infos = probe_upload(zip_bytes({f"p{i}.png": data for i in range(8)}), "many.zip")
    assert sum(i.pixels for i in infos) == 240_000_000
    with pytest.raises(UploadError, match="240 million pixels together; at most 200 million"):
        check_request_pixels(infos, UploadLimits())
    check_request_pixels(infos[:6], UploadLimits())
    with pytest.raises(UploadError, match="8 pictures; at most 5"):
        check_request_pixels(infos, UploadLimits(max_pictures=5, max_request_pixels=10**12))


# ------------------------------------------------------------------------------- zips


def test_zip_bomb_is_refused():
    data = zip_bytes({"zeros.png": b"\0" * 10_000_000})
    assert len(data) < 20_000
    with pytest.raises(UploadError, match=r"zeros.png expands \d+-fold"):
        upload(data, "bomb.zip")


def test_zip_whose_headers_lie_about_sizes_is_refused():
    members = {"a.png": b"\0" * 50_000}
    data = bytearray(zip_bytes(members, compression=zipfile.ZIP_STORED))
    # Claim 100 bytes in the central directory so the declared-size checks pass.
    central = data.rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    with pytest.raises(UploadError, match="cannot unzip a.png|larger than its header says"):
        upload(bytes(data), "liar.zip", UploadLimits(max_bytes=60_000, max_unzipped_bytes=1000))


@pytest.mark.parametrize(
    "path", ["../evil.png", "pics/../../evil.png", "/etc/evil.png", "C:/evil.png", "..\\evil.png"]
)
def test_zip_paths_escaping_the_folder_are_refused(path):
    data = zip_bytes({"ok.png": picture_bytes(), path: picture_bytes()})
    with pytest.raises(UploadError, match="points outside the zip's folder"):
        upload(data, "escape.zip")


def test_zip_with_a_symbolic_link_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("ok.png", picture_bytes())
        link = zipfile.ZipInfo("cats/link.png")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(UploadError, match="is a symbolic link"):
        list(zip_members(out.getvalue(), "links.zip"))


def test_zip_inside_a_zip_is_refused():
    inner = zip_bytes({"a.png": picture_bytes()})
    with pytest.raises(UploadError, match="inner.zip is a zip inside the zip"):
        upload(zip_bytes({"ok.png": picture_bytes(), "inner.zip": inner}), "nested.zip")


def test_encrypted_zip_member_is_refused():
    data = bytearray(zip_bytes({"a.png": picture_bytes()}, compression=zipfile.ZIP_STORED))
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" flag bit
        at = data.index(header) + (6 if header == b"PK\x03\x04" else 8)
        data[at] |= 0x1
    with pytest.raises(UploadError, match="is encrypted"):
        upload(bytes(data), "locked.zip")


def test_zip_with_a_name_that_is_not_utf8_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("caf\u00e9.png", picture_bytes())  # written as UTF-8, flag bit 11 set
    data = out.getvalue().replace("caf\u00e9".encode(), b"caf\xff\xfe")
    with pytest.raises(UploadError, match="not valid UTF-8"):
        upload(data, "names.zip")


def test_zip_with_thousands_of_entries_is_refused():
    data = zip_bytes({f"p{i}.png": b"x" for i in range(1500)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(UploadError, match="1,500 entries, at most 1,000"):
        upload(data, "many.zip")


def test_zip_with_more_pictures_than_allowed_is_refused():
    data = zip_bytes({f"p{i}.png": picture_bytes() for i in range(6)})
    with pytest.raises(UploadError, match="6 files, at most 5"):
        upload(data, "six.zip", UploadLimits(max_pictures=5))


def test_zip_that_unzips_past_the_total_is_refused():
    data = zip_bytes({f"p{i}.png": picture_bytes() for i in range(3)})
    with pytest.raises(UploadError, match="unzips to .* bytes, at most 100"):
        upload(data, "big.zip", UploadLimits(max_unzipped_bytes=100))


def test_zip_with_a_non_picture_names_it():
    data = zip_bytes({"a.png": picture_bytes(), "readme.txt": b"hello"})
    with pytest.raises(UploadError, match=r"readme.txt: not a picture"):
        upload(data, "mixed.zip")


def test_corrupt_zip_is_refused():
    data = zip_bytes({"a.png": picture_bytes()})
    with pytest.raises(UploadError, match="not a readable zip"):
        upload(data[:40], "broken.zip")


def test_zip_without_pictures_is_refused():
    with pytest.raises(UploadError, match="holds no pictures"):
        upload(zip_bytes({"empty/.keep": b""}), "empty.zip")


def test_pictures_of_a_zip_are_decoded_one_at_a_time():
    data = zip_bytes({"a.png": picture_bytes(), "b.png": b"not a picture"})
    pictures = read_upload(data, "lazy.zip")
    assert next(pictures).name == "a.png"  # handed over before the second is touched
    with pytest.raises(UploadError, match="b.png: not a picture"):
        next(pictures)
