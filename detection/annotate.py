"""Drawing detections onto a picture with PIL, for the CLI and downloadable results."""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

from detection.yolo import Detection


def class_colour(class_id: int) -> tuple[int, int, int]:
    """A distinct, stable colour per class (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((class_id * 0.618034) % 1.0, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def annotate(image: Image.Image, detections: Sequence[Detection]) -> Image.Image:
    """A copy of `image` with each detection's box and "class score" label drawn on it."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    line = max(2, round(min(out.size) / 300))
    font = ImageFont.load_default(size=max(12, round(min(out.size) / 40)))
    for d in reversed(detections):  # best last, so it is drawn on top
        colour = class_colour(d.class_id)
        x1, y1, x2, y2 = d.box
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        label = f"{d.class_name} {d.score:.2f}"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        w, h = right - left + 2 * line, bottom - top + 2 * line
        # Label above the box, inside the picture: below the top edge, left of the right one.
        tx = max(0, min(x1, out.width - w))
        ty = y1 - h if y1 >= h else y1
        draw.rectangle((tx, ty, tx + w, ty + h), fill=colour)
        draw.text((tx + line - left, ty + line - top), label, fill=(0, 0, 0), font=font)
    return out
