"""Reading uploaded pictures safely: one picture, or a zip of them.

Pure Python/PIL, so the web form, the worker and tests share one set of rules. Everything
a user can get wrong is refused with an `UploadError` whose message can be shown as is:
too big, not a picture, a corrupt picture, a picture with too many pixels (decompression
bombs), zips with too many members, with members that expand far beyond their compressed
size (zip bombs), or with paths that try to leave the folder (`../`, absolute paths).
Sizes a zip declares are checked first and then enforced while reading, since a forged
header can lie about them.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError

PICTURE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
ZIP_MAGIC = b"PK\x03\x04"


class UploadError(ValueError):
    """An upload we refuse; the message says why, in words for the user."""


@dataclass(frozen=True)
class UploadLimits:
    """The one place that knows how much an upload may hold."""

    max_bytes: int = 20 * 2**20  # one picture file, or one zip, as uploaded
    max_pictures: int = 200  # pictures in one zip
    max_members: int = 1000  # entries of any kind in one zip (folders, junk included)
    max_unzipped_bytes: int = 200 * 2**20  # all pictures of a zip, uncompressed
    max_ratio: int = 100  # uncompressed / compressed size of a zip member
    max_pixels: int = 40_000_000  # width x height of one picture
    max_side: int = 20_000  # pixels on the longest side


@dataclass(frozen=True)
class Picture:
    """A picture that passed every check, decoded to RGB and turned upright (EXIF)."""

    name: str  # file name, or path inside the zip
    image: Image.Image


def read_picture(data: bytes, name: str, limits: UploadLimits = UploadLimits()) -> Picture:
    """Decode one picture file's bytes, refusing what is too large, corrupt or not a picture."""
    if len(data) > limits.max_bytes:
        raise UploadError(f"{name}: {len(data):,} bytes, more than {limits.max_bytes:,} allowed")
    try:
        image = Image.open(io.BytesIO(data), formats=PICTURE_FORMATS)  # reads the header only
    except UnidentifiedImageError as exc:
        formats = ", ".join(PICTURE_FORMATS)
        raise UploadError(f"{name}: not a picture we can read ({formats})") from exc
    except Image.DecompressionBombError as exc:
        raise UploadError(f"{name}: far too many pixels ({exc})") from exc
    with image:
        width, height = image.size  # checked before any pixel is decoded
        if width * height > limits.max_pixels or max(width, height) > limits.max_side:
            raise UploadError(
                f"{name}: {width}x{height} pixels is too large "
                f"(at most {limits.max_pixels:,} pixels, {limits.max_side:,} per side)"
            )
        try:
            image.load()
            # Turned the way people see it: phones store pixels sideways plus an EXIF hint.
            rgb = ImageOps.exif_transpose(image).convert("RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise UploadError(f"{name}: the picture is corrupt or incomplete ({exc})") from exc
    return Picture(name, rgb)


def read_upload(
    fileobj: BinaryIO, name: str, limits: UploadLimits = UploadLimits()
) -> list[Picture]:
    """The pictures in one uploaded file: a single picture, or a zip of pictures."""
    data = fileobj.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise UploadError(f"{name}: larger than the {limits.max_bytes:,} bytes allowed")
    if not data:
        raise UploadError(f"{name}: the file is empty")
    if data.startswith(ZIP_MAGIC):
        return read_zip(data, name, limits)
    return [read_picture(data, name, limits)]


def read_zip(data: bytes, name: str, limits: UploadLimits = UploadLimits()) -> list[Picture]:
    """The pictures in a zip; folders and macOS/hidden metadata files are skipped."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise UploadError(f"{name}: not a readable zip file ({exc})") from exc
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise UploadError(f"{name}: {len(members):,} entries, at most {limits.max_members:,}")
        for member in members:
            _check_member_path(member.filename, name)
        files = [m for m in members if not m.is_dir() and not _is_metadata(m.filename)]
        if not files:
            raise UploadError(f"{name}: the zip holds no pictures")
        if len(files) > limits.max_pictures:
            raise UploadError(f"{name}: {len(files):,} files, at most {limits.max_pictures:,}")
        declared = sum(m.file_size for m in files)
        if declared > limits.max_unzipped_bytes:
            raise UploadError(
                f"{name}: unzips to {declared:,} bytes, at most {limits.max_unzipped_bytes:,}"
            )
        pictures, total = [], 0
        for member in files:
            content = _read_member(archive, member, name, limits)
            total += len(content)
            if total > limits.max_unzipped_bytes:
                raise UploadError(
                    f"{name}: unzips to more than {limits.max_unzipped_bytes:,} bytes"
                )
            pictures.append(read_picture(content, member.filename, limits))
        return pictures


def _is_metadata(path: str) -> bool:
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return any(p == "__MACOSX" or p.startswith(".") for p in parts)


def _check_member_path(path: str, name: str) -> None:
    normal = path.replace("\\", "/")
    parts = PurePosixPath(normal).parts
    if normal.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise UploadError(f"{name}: the entry {path!r} points outside the zip's folder")


def _read_member(
    archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, limits: UploadLimits
) -> bytes:
    if member.file_size > limits.max_bytes:
        raise UploadError(f"{name}: {member.filename} unzips to {member.file_size:,} bytes")
    if member.file_size > limits.max_ratio * max(member.compress_size, 1):
        raise UploadError(
            f"{name}: {member.filename} expands {member.file_size // max(member.compress_size, 1)}"
            f"-fold, more than a picture can (zip bomb?)"
        )
    try:
        with archive.open(member) as stream:
            content = stream.read(limits.max_bytes + 1)  # never trust the declared size
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
        raise UploadError(f"{name}: cannot unzip {member.filename} ({exc})") from exc
    if len(content) > limits.max_bytes:
        raise UploadError(
            f"{name}: {member.filename} unzips to more than {limits.max_bytes:,} bytes"
        )
    return content
