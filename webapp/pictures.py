"""The one reader of untrusted pictures and zips. Pure Python/PIL: no Django, no torch.

Every upload the site accepts passes through here, on the web side and in the worker, so
there is one set of rules and one place to fix them. Two depths of reading:

- `probe_*` looks at headers only (format, width, height) and never decodes pixels: what
  the web process does before it answers, so a few kilobytes of crafted PNG cannot make it
  allocate gigabytes. Pixel counts are checked per picture and per request
  (`check_request_pixels`), from the declared sizes.
- `read_*` decodes one picture at a time into upright 8-bit RGB: what the worker does.

Everything a user can get wrong is refused with an `UploadError` whose message can be
shown as it is: too big, not a picture, corrupt or truncated, too many pixels
(decompression bombs), and zips with too many entries, members that expand far beyond
their compressed size (zip bombs), sizes their headers lie about, paths leaving the
folder (`../`, absolute, drive letters), symbolic links, zips inside zips, encrypted
members and names that are not valid UTF-8.
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

PICTURE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
ZIP_MAGIC = b"PK\x03\x04"
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


class UploadError(ValueError):
    """An upload we refuse; the message says why, in words for the user."""


@dataclass(frozen=True)
class UploadLimits:
    """How much an upload may hold. Built from the site's settings by `from_settings`."""

    max_bytes: int = 20 * 2**20  # one picture file, or one zip, as uploaded
    max_pictures: int = 200  # pictures in one zip (and in one request)
    max_members: int = 1000  # entries of any kind in one zip (folders, junk included)
    max_unzipped_bytes: int = 200 * 2**20  # all members of a zip, uncompressed
    max_ratio: int = 100  # uncompressed / compressed size of a zip member
    max_pixels: int = 40_000_000  # width x height of one picture
    max_side: int = 20_000  # pixels on the longest side
    max_request_pixels: int = 200_000_000  # all pictures of one submission together

    @classmethod
    def from_settings(cls, settings: Any, **overrides: int) -> UploadLimits:
        """The limits the site runs with (`UPLOAD_*` settings), with per-use overrides."""
        values = dict(
            max_bytes=settings.UPLOAD_MAX_BYTES,
            max_pixels=settings.UPLOAD_MAX_PIXELS,
            max_side=settings.UPLOAD_MAX_SIDE,
            max_request_pixels=settings.UPLOAD_MAX_REQUEST_PIXELS,
        )
        return cls(**{**values, **overrides})


@dataclass(frozen=True)
class PictureInfo:
    """What a picture's header declares; no pixel has been decoded."""

    name: str  # file name, or path inside the zip
    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class Picture:
    """A picture that passed every check, decoded to 8-bit RGB and turned upright (EXIF)."""

    name: str
    image: Image.Image


# ---------------------------------------------------------------------------- one picture


def _open(data: bytes, name: str, limits: UploadLimits) -> Image.Image:
    """Open a picture's header and check its declared size; pixels stay undecoded."""
    if len(data) > limits.max_bytes:
        raise UploadError(f"{name}: {len(data):,} bytes, more than {limits.max_bytes:,} allowed")
    if not data:
        raise UploadError(f"{name}: the file is empty")
    try:
        image = Image.open(io.BytesIO(data), formats=PICTURE_FORMATS)
    except UnidentifiedImageError as exc:
        formats = ", ".join(PICTURE_FORMATS)
        raise UploadError(f"{name}: not a picture we can read ({formats})") from exc
    except Image.DecompressionBombError as exc:
        raise UploadError(f"{name}: far too many pixels ({exc})") from exc
    except _DECODE_ERRORS as exc:  # a header cut short
        raise _broken(name, exc) from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise UploadError(f"{name}: the picture has no pixels ({width}x{height})")
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        image.close()
        raise UploadError(
            f"{name}: {width}x{height} pixels is too large "
            f"(the limit is {limits.max_pixels:,} pixels, {limits.max_side:,} per side)"
        )
    return image


def _broken(name: str, exc: BaseException) -> UploadError:
    """The refusal of a picture PIL could not read; a file cut short says so in words."""
    reason = "the file is truncated" if "truncat" in str(exc).lower() else str(exc)
    return UploadError(f"{name}: the picture is corrupt or incomplete ({reason})")


def probe_picture(data: bytes, name: str, limits: UploadLimits = UploadLimits()) -> PictureInfo:
    """A picture's format and size from its header, refusing what is too large, not a
    picture, or visibly cut short. Decodes no pixels: damage inside compressed pixel data
    is found only by `read_picture`, in the worker."""
    with _open(data, name, limits) as image:
        width, height = image.size
        orientation = 1
        # A PNG's EXIF chunk may follow the pixels, and Pillow's PNG getexif() decodes
        # them all to find it: only an EXIF chunk already read with the header counts.
        if image.format != "PNG" or "exif" in image.info:
            try:
                orientation = image.getexif().get(0x0112, 1)
            except _DECODE_ERRORS:
                pass
        if orientation in (5, 6, 7, 8):  # turned sideways by EXIF: width and height swap
            width, height = height, width
        fmt = image.format or ""
    _check_complete(data, name, fmt)
    return PictureInfo(name, fmt, width, height)


def _check_complete(data: bytes, name: str, fmt: str) -> None:
    """Cheap structural checks that catch a file cut short, without decoding pixels."""
    if fmt == "PNG":
        try:
            with Image.open(io.BytesIO(data), formats=("PNG",)) as image:
                image.verify()  # walks the chunks and their checksums; inflates nothing
        except _DECODE_ERRORS as exc:
            raise _broken(name, exc) from exc
    elif fmt == "JPEG" and b"\xff\xd9" not in data[2:]:
        raise _broken(name, EOFError("no end marker: truncated"))


def read_bytes(fileobj: BinaryIO, name: str, limits: UploadLimits = UploadLimits()) -> bytes:
    """An uploaded file's bytes, reading at most one byte past the limit."""
    data = fileobj.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise UploadError(f"{name}: larger than the {limits.max_bytes:,} bytes allowed")
    if not data:
        raise UploadError(f"{name}: the file is empty")
    return data


def read_picture(data: bytes, name: str, limits: UploadLimits = UploadLimits()) -> Picture:
    """Decode one picture into upright 8-bit RGB, refusing what is too large or corrupt."""
    image = _open(data, name, limits)
    try:
        with image:
            image.load()
            upright = ImageOps.exif_transpose(image)  # phones store pixels sideways + a hint
            rgb = to_rgb(upright)
    except _DECODE_ERRORS as exc:
        raise _broken(name, exc) from exc
    return Picture(name, rgb)


def read_label_map(data: bytes, name: str, limits: UploadLimits, regions: int) -> Image.Image:
    """A painted label map: a grey picture whose value at each pixel is a region number
    0..regions-1. Decoded like any picture; refused when it is coloured or names a region
    that is not described."""
    grey = np.asarray(read_picture(data, name, limits).image)  # (H, W, 3)
    if not (
        np.array_equal(grey[..., 0], grey[..., 1]) and np.array_equal(grey[..., 0], grey[..., 2])
    ):
        raise UploadError(f"{name}: not a label map (it has colours; region numbers are greys)")
    highest = int(grey[..., 0].max())
    if highest >= regions:
        raise UploadError(
            f"{name}: it marks region {highest + 1}, but only {regions} are described"
        )
    return Image.fromarray(np.ascontiguousarray(grey[..., 0]), "L")


def to_rgb(picture: Image.Image) -> Image.Image:
    """8-bit RGB version of any PIL image; transparency is laid over white."""
    if picture.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # high bit-depth greyscale: stretch its own range onto 0..255
        grey = np.asarray(picture, dtype=np.float64)
        low, high = float(grey.min()), float(grey.max())
        scaled = (grey - low) / (high - low) * 255 if high > low else np.zeros_like(grey)
        picture = Image.fromarray(scaled.round().astype(np.uint8), "L")
    if picture.mode == "P" and "transparency" in picture.info:
        picture = picture.convert("RGBA")
    if picture.mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        rgba = picture.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(white, rgba)
    return picture.convert("RGB")


# ---------------------------------------------------------------------------------- zips


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGIC)


def is_metadata(path: str) -> bool:
    """Folders and files that archivers add and nobody means as content."""
    parts = PurePosixPath(path.replace("\\", "/")).parts
    return any(p == "__MACOSX" or p.startswith(".") for p in parts)


def zip_members(
    data: bytes, name: str, limits: UploadLimits = UploadLimits()
) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of each file in a zip, one at a time, after checking the whole
    archive's structure; folders and archivers' metadata are skipped."""
    if len(data) > limits.max_bytes:
        raise UploadError(f"{name}: larger than the {limits.max_bytes:,} bytes allowed")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except UnicodeDecodeError as exc:
        raise UploadError(f"{name}: the zip has a file name that is not valid UTF-8") from exc
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise UploadError(f"{name}: not a readable zip file ({exc})") from exc
    with archive:
        members = archive.infolist()
        if len(members) > limits.max_members:
            raise UploadError(f"{name}: {len(members):,} entries, at most {limits.max_members:,}")
        for member in members:
            _check_member(member, name)
        files = [m for m in members if not m.is_dir() and not is_metadata(m.filename)]
        if not files:
            raise UploadError(f"{name}: the zip holds no pictures")
        if len(files) > limits.max_pictures:
            raise UploadError(f"{name}: {len(files):,} files, at most {limits.max_pictures:,}")
        declared = sum(m.file_size for m in files)
        if declared > limits.max_unzipped_bytes:
            raise UploadError(
                f"{name}: unzips to {declared:,} bytes, at most {limits.max_unzipped_bytes:,}"
            )
        total = 0
        for member in files:
            content = _read_member(archive, member, name, limits)
            total += len(content)
            if total > limits.max_unzipped_bytes:
                raise UploadError(
                    f"{name}: unzips to more than {limits.max_unzipped_bytes:,} bytes"
                )
            if is_zip(content):
                raise UploadError(f"{name}: {member.filename} is a zip inside the zip")
            yield member.filename, content


def _check_member(member: zipfile.ZipInfo, name: str) -> None:
    path = member.filename
    normal = path.replace("\\", "/")
    parts = PurePosixPath(normal).parts
    if normal.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise UploadError(f"{name}: the entry {path[:80]!r} points outside the zip's folder")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise UploadError(f"{name}: the entry {path[:80]!r} is a symbolic link")
    if member.flag_bits & 0x1:
        raise UploadError(f"{name}: the entry {path[:80]!r} is encrypted")


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
            # never trust the declared size: read at most one byte past it
            content = stream.read(member.file_size + 1)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError) as exc:
        raise UploadError(f"{name}: cannot unzip {member.filename} ({exc})") from exc
    if len(content) > member.file_size:
        raise UploadError(f"{name}: {member.filename} is larger than its header says")
    return content


# ------------------------------------------------------------ uploads: a picture or a zip


def _upload_files(data: bytes, name: str, limits: UploadLimits) -> Iterator[tuple[str, bytes]]:
    if len(data) > limits.max_bytes:
        raise UploadError(f"{name}: larger than the {limits.max_bytes:,} bytes allowed")
    if not data:
        raise UploadError(f"{name}: the file is empty")
    if is_zip(data):
        yield from zip_members(data, name, limits)
    else:
        yield name, data


def probe_upload(
    data: bytes, name: str, limits: UploadLimits = UploadLimits()
) -> list[PictureInfo]:
    """Header facts of the pictures in one uploaded file (a picture, or a zip of them)."""
    infos = [
        probe_picture(content, path, limits) for path, content in _upload_files(data, name, limits)
    ]
    if not infos:
        raise UploadError(f"{name}: the zip holds no pictures")
    return infos


def read_upload(data: bytes, name: str, limits: UploadLimits = UploadLimits()) -> Iterator[Picture]:
    """The pictures of one uploaded file, decoded one at a time as the caller asks."""
    for path, content in _upload_files(data, name, limits):
        yield read_picture(content, path, limits)


def check_request_pixels(infos: list[PictureInfo], limits: UploadLimits) -> None:
    """Refuse a submission whose pictures together declare more pixels than one request
    may bring (decoding them would cost the worker that much memory and time)."""
    if len(infos) > limits.max_pictures:
        raise UploadError(
            f"That is {len(infos)} pictures; at most {limits.max_pictures} go in one job."
        )
    total = sum(info.pixels for info in infos)
    if total > limits.max_request_pixels:
        raise UploadError(
            f"These pictures hold {total / 1e6:,.0f} million pixels together; at most "
            f"{limits.max_request_pixels / 1e6:,.0f} million go in one job. Send fewer or "
            f"smaller pictures."
        )
