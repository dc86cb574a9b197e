"""The built-in style gallery: patterns we generate ourselves, so the project may ship them.

Each style is drawn from a fixed seed with numpy and PIL (no files, no downloads), so the
same name always gives the same picture, on the web server and on every worker.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIDE = 256  # gallery pictures are SIDE x SIDE pixels


@dataclass(frozen=True)
class GalleryStyle:
    name: str  # in URLs and job parameters
    label: str  # shown to people
    about: str  # one line under the thumbnail
    draw: Callable[[np.random.Generator], Image.Image]


def _palette(rng: np.random.Generator, colours: list[tuple[int, int, int]], n: int) -> np.ndarray:
    return np.array(colours, dtype=np.float64)[rng.integers(0, len(colours), n)]


def _brush(rng: np.random.Generator) -> Image.Image:
    """Thick short strokes in warm colours, laid in a swirling direction field."""
    colours = [(214, 92, 36), (242, 176, 53), (120, 40, 30), (250, 226, 160), (60, 90, 120)]
    picture = Image.new("RGB", (SIDE, SIDE), (236, 200, 140))
    draw = ImageDraw.Draw(picture)
    for colour in _palette(rng, colours, 900):
        x, y = rng.uniform(0, SIDE, 2)
        angle = np.sin(x / 40) + np.cos(y / 33) + rng.normal(0, 0.2)
        length = rng.uniform(8, 22)
        dx, dy = np.cos(angle) * length, np.sin(angle) * length
        shade = tuple(int(c) for c in np.clip(colour + rng.normal(0, 14, 3), 0, 255))
        draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=shade, width=int(rng.integers(3, 7)))
    return picture.filter(ImageFilter.SMOOTH)


def _mosaic(rng: np.random.Generator) -> Image.Image:
    """Voronoi tiles in glazed blues and ochres with dark grout between them."""
    colours = [(32, 84, 160), (58, 130, 190), (220, 170, 60), (190, 70, 50), (240, 236, 220)]
    seeds = rng.uniform(0, SIDE, (140, 2))
    fills = _palette(rng, colours, len(seeds)) + rng.normal(0, 12, (len(seeds), 3))
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    dist = (x[..., None] - seeds[:, 0]) ** 2 + (y[..., None] - seeds[:, 1]) ** 2  # (H, W, N)
    nearest = np.sort(dist, axis=-1)
    owner = dist.argmin(-1)
    image = fills[owner]
    grout = np.sqrt(nearest[..., 1]) - np.sqrt(nearest[..., 0]) < 2.2  # near a cell border
    image[grout] = (40, 34, 30)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


def _waves(rng: np.random.Generator) -> Image.Image:
    """Layered crests in deep blue and foam white, like a woodblock sea."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    phase = rng.uniform(0, 2 * np.pi, 3)
    field = (
        np.sin(x / 11 + 3 * np.sin(y / 23 + phase[0]))
        + 0.6 * np.sin(y / 7 + 2 * np.sin(x / 31 + phase[1]))
        + 0.3 * np.sin((x + y) / 5 + phase[2])
    )
    t = (field - field.min()) / (field.max() - field.min())  # 0..1
    bands = np.floor(t * 6) / 5  # woodblock prints have few flat tones
    deep, light = np.array([18, 40, 92]), np.array([226, 236, 240])
    image = deep + bands[..., None] * (light - deep)
    return Image.fromarray(image.astype(np.uint8), "RGB")


def _swirl(rng: np.random.Generator) -> Image.Image:
    """Concentric swirls of yellow on night blue, around a few random centres."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    field = np.zeros((SIDE, SIDE))
    for cx, cy in rng.uniform(0, SIDE, (4, 2)):
        r = np.hypot(x - cx, y - cy)
        theta = np.arctan2(y - cy, x - cx)
        field += np.sin(r / 6 + 3 * theta + r / 40) * np.exp(-r / 120)
    t = (np.tanh(field * 1.5) + 1) / 2
    night, star = np.array([20, 32, 88]), np.array([245, 210, 70])
    image = night + t[..., None] ** 1.5 * (star - night) + rng.normal(0, 8, (SIDE, SIDE, 3))
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


def _stripes(rng: np.random.Generator) -> Image.Image:
    """Bold wobbly diagonal bands in a pop-art palette."""
    colours = np.array(
        [(230, 57, 70), (241, 250, 238), (29, 53, 87), (69, 123, 157), (250, 200, 40)]
    )
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    wobble = 6 * np.sin(y / 17 + rng.uniform(0, 6)) + 4 * np.sin(x / 29)
    band = ((x + y + wobble) / 18).astype(int) % len(colours)
    return Image.fromarray(colours[band].astype(np.uint8), "RGB")


def _dots(rng: np.random.Generator) -> Image.Image:
    """Pointillist dabs of greens and violets on cream."""
    colours = [(60, 120, 70), (140, 180, 80), (110, 70, 150), (220, 120, 160), (240, 200, 90)]
    picture = Image.new("RGB", (SIDE, SIDE), (244, 236, 214))
    draw = ImageDraw.Draw(picture)
    for colour in _palette(rng, colours, 2200):
        x, y = rng.uniform(0, SIDE, 2)
        r = rng.uniform(1.5, 3.5)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(c) for c in colour))
    return picture


STYLES: dict[str, GalleryStyle] = {
    s.name: s
    for s in (
        GalleryStyle("brush", "Brush strokes", "short warm strokes in a swirling flow", _brush),
        GalleryStyle("swirl", "Night swirls", "yellow swirls on deep blue", _swirl),
        GalleryStyle("waves", "Woodblock sea", "flat-toned crests in blue and white", _waves),
        GalleryStyle("mosaic", "Mosaic", "glazed tiles with dark grout", _mosaic),
        GalleryStyle("stripes", "Pop stripes", "bold wobbly bands", _stripes),
        GalleryStyle("dots", "Pointillism", "dabs of colour on cream", _dots),
    )
}


def gallery_picture(name: str) -> Image.Image:
    """The gallery style `name` as an RGB picture; KeyError for unknown names."""
    style = STYLES[name]
    seed = sum(ord(c) for c in name)  # fixed per name, independent of the order above
    return style.draw(np.random.default_rng(seed))


@lru_cache(maxsize=len(STYLES))
def gallery_png(name: str) -> bytes:
    """The gallery style `name` as PNG bytes (made once per process)."""
    buffer = io.BytesIO()
    gallery_picture(name).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
