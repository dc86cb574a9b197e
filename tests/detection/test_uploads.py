"""Uploads as detection reads them (webapp.pictures): good pictures and zips pass; each
kind of bad upload is refused, saying why."""

from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from webapp.pictures import UploadError, UploadLimits, read_bytes, read_picture, read_upload


def picture_bytes(size=(40, 30), fmt="PNG", colour=(10, 200, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for path, content in members.items():
            zf.writestr(path, content)
    return out.getvalue()


def upload(data: bytes, name: str, limits: UploadLimits | None = None):
    return list(read_upload(data, name, limits or UploadLimits()))


def test_one_picture_is_read_as_rgb():
    (picture,) = upload(picture_bytes(fmt="JPEG"), "cat.jpg")
    assert picture.name == "cat.jpg"
    assert picture.image.mode == "RGB" and picture.image.size == (40, 30)


def test_exif_rotation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    out = io.BytesIO()
    Image.new("RGB", (64, 32), "teal").save(out, "JPEG", exif=exif.tobytes())
    (picture,) = upload(out.getvalue(), "phone.jpg")
    assert picture.image.size == (32, 64)


def test_a_zip_of_pictures_in_folders_skips_folders_and_mac_metadata():
    data = zip_bytes(
        {
            "holiday/a.png": picture_bytes(),
            "holiday/b.jpg": picture_bytes(fmt="JPEG"),
            "__MACOSX/holiday/._a.png": b"\0\5\x16\7 mac resource fork",
            ".DS_Store": b"junk",
        }
    )
    pictures = upload(data, "holiday.zip")
    assert [p.name for p in pictures] == ["holiday/a.png", "holiday/b.jpg"]


def test_non_picture_is_refused():
    with pytest.raises(UploadError, match=r"notes.txt: not a picture"):
        upload(b"just some text", "notes.txt")


def test_truncated_picture_is_refused_as_corrupt():
    data = picture_bytes(size=(200, 200), fmt="JPEG")
    with pytest.raises(UploadError, match=r"half.jpg: the picture is corrupt"):
        upload(data[: len(data) // 2], "half.jpg")


def test_empty_file_is_refused():
    with pytest.raises(UploadError, match="empty"):
        upload(b"", "nothing.png")


def test_oversized_file_is_refused_without_reading_it_all():
    stream = io.BytesIO(b"\xff" * 5000)
    with pytest.raises(UploadError, match="larger than the 1,000 bytes"):
        read_bytes(stream, "big.png", UploadLimits(max_bytes=1000))
    assert stream.tell() == 1001


def test_picture_with_too_many_pixels_is_refused_before_decoding():
    # A blank 9000x9000 PNG is a few kilobytes and would decode to 243 MB of RGB.
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")
    data = out.getvalue()
    assert len(data) < 100_000
    with pytest.raises(UploadError, match=r"9000x9000 pixels is too large"):
        upload(data, "bomb.png")


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
    with pytest.raises(UploadError, match="cannot unzip a.png"):
        upload(bytes(data), "liar.zip", UploadLimits(max_bytes=60_000, max_unzipped_bytes=1000))


@pytest.mark.parametrize(
    "path", ["../evil.png", "pics/../../evil.png", "/etc/evil.png", "C:/evil.png", "..\\evil.png"]
)
def test_zip_paths_escaping_the_folder_are_refused(path):
    data = zip_bytes({"ok.png": picture_bytes(), path: picture_bytes()})
    with pytest.raises(UploadError, match="points outside the zip's folder"):
        upload(data, "escape.zip")


def test_zip_with_thousands_of_files_is_refused():
    data = zip_bytes({f"p{i}.png": b"x" for i in range(1500)}, compression=zipfile.ZIP_STORED)
    with pytest.raises(UploadError, match="1,500 entries, at most 1,000"):
        upload(data, "many.zip")


def test_zip_with_more_pictures_than_allowed_is_refused():
    data = zip_bytes({f"p{i}.png": picture_bytes() for i in range(6)})
    with pytest.raises(UploadError, match="6 files, at most 5"):
        upload(data, "six.zip", UploadLimits(max_pictures=5))


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


def test_read_picture_refuses_a_picture_over_the_byte_limit():
    with pytest.raises(UploadError, match="more than 100 allowed"):
        read_picture(picture_bytes(), "a.png", UploadLimits(max_bytes=100))
