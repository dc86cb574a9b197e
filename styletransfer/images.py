"""Reading user pictures safely into plain RGB PIL images (pure PIL, no Django).

Every picture the studio accepts goes through `open_rgb`: it refuses non-images,
truncated files and decompression bombs with a clear `ImageError`, turns the picture the
way its EXIF orientation says, and converts alpha, greyscale, 16-bit, palette and CMYK
pictures to 8-bit RGB.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000  # largest picture accepted (width x height), about 8000 x 5000


class ImageError(ValueError):
    """A picture that cannot be used, with a message fit to show the user."""


def open_rgb(source: str | Path | bytes | BinaryIO, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode a path, bytes or file into an upright 8-bit RGB image, or raise ImageError."""
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    try:
        picture = Image.open(source)
    except UnidentifiedImageError as exc:
        raise ImageError("this file is not a picture in a format we can read") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"this picture has too many pixels (limit {max_pixels:,})") from exc
    width, height = picture.size
    if width * height > max_pixels:  # checked before decoding, so a bomb is never unpacked
        raise ImageError(
            f"this picture is {width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,}"
        )
    try:
        picture.load()
    except (OSError, SyntaxError) as exc:
        raise ImageError("this picture is truncated or damaged and cannot be decoded") from exc
    picture = ImageOps.exif_transpose(picture)
    return to_rgb(picture)


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
