"""An uploaded dataset: a zip of pictures in one folder per class. No torch, no Django.

Two readings of the same zip, both through webapp.pictures (the one reader of untrusted
zips and pictures) and the rules below:

- the form calls `dataset_zip_probe`: names and picture headers only, checked one by one
  and against the request's pixel budget; no pixel is decoded in the web process;
- the worker calls `datasets.dataset_from_zip`, which decodes one picture at a time.

    data.zip/cat/1.png, data.zip/dog/1.png           class folders at the top
    data.zip/pets/cat/1.png, data.zip/pets/dog/1.png one wrapping folder is allowed
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from playground.limits import LIMITS, Limits
from webapp.pictures import (
    UploadError,
    UploadLimits,
    check_request_pixels,
    probe_picture,
    zip_members,
)

UPLOAD = "upload"  # the dataset name of an uploaded zip
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass(frozen=True)
class ZipDataset:
    """What a dataset zip's names and headers say, before any pixel is decoded."""

    classes: list[str]
    pictures: int
    pixels: int  # declared by the headers, all pictures together


def is_picture_name(path: str) -> bool:
    """Files that count as pictures; anything else in the zip (a README) is ignored."""
    return PurePosixPath(path.replace("\\", "/")).suffix.lower() in IMAGE_SUFFIXES


def class_folders(paths: Iterable[str], limits: Limits = LIMITS) -> dict[str, str]:
    """{picture path: class name} for the pictures of a zip, checked: every picture in a
    class folder, 2 to `max_classes` classes, at most `max_dataset_samples` pictures."""
    split = {p: PurePosixPath(p.replace("\\", "/")).parts for p in paths if is_picture_name(p)}
    tops = {parts[0] for parts in split.values()}
    wrapped = len(tops) == 1 and all(len(parts) == 3 for parts in split.values())
    classes: dict[str, str] = {}
    for path, parts in split.items():
        inside = parts[1:] if wrapped else parts
        if len(inside) != 2:
            raise UploadError(f"{path[:80]!r} is not inside a class folder (class/picture)")
        classes[path] = inside[0]
    found = len(set(classes.values()))
    if found < 2:
        raise UploadError(
            f"a dataset needs at least 2 classes (folders with pictures); found {found}"
        )
    if found > limits.max_classes:
        raise UploadError(f"{found} classes is more than the limit of {limits.max_classes}")
    if len(classes) > limits.max_dataset_samples:
        raise UploadError(
            f"{len(classes):,} pictures is more than the limit of {limits.max_dataset_samples:,}"
        )
    return classes


def dataset_zip_probe(data: bytes, name: str, limits: UploadLimits) -> ZipDataset:
    """Check a dataset zip from its names and picture headers alone: the zip's structure,
    class folders, each picture's declared size and all of them against the request's
    pixel budget. Raises UploadError with a message for the user."""
    infos = [
        probe_picture(content, path, limits)
        for path, content in zip_members(data, name, limits)
        if is_picture_name(path)
    ]
    classes = class_folders([info.name for info in infos])
    check_request_pixels(infos, limits)
    return ZipDataset(
        classes=sorted(set(classes.values())),
        pictures=len(infos),
        pixels=sum(info.pixels for info in infos),
    )
