"""An uploaded dataset for a task beyond classification: a zip of pictures with their
labels. No torch, no Django; the zip and its pictures only through webapp.pictures.

    localise   labels.csv  file,class,x0,y0,x1,y1          (pixels of the picture as stored)
               or labels.json {"labels": [{"file", "class", "box": [x0, y0, x1, y1]}]}
    landmarks  labels.csv  file,<name>_x,<name>_y,...        (one pair of columns per point)
               or labels.json {"points": [names], "labels": [{"file", "points": [[x, y], ...]}]}
    segment    masks/<picture's file name, .png>: a grey PNG whose value is the class of the
               pixel (0 = the first class); classes.txt: one class name a line

Every label is checked strictly – an error names the file and the line (or item) – and
every picture must have exactly one label. The form reads the labels and the pictures'
headers (`labelled_zip_probe`); the worker decodes (`labelled_zip_read`), resizing each
picture to a square and its labels with it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from playground.classfolders import is_picture_name
from playground.limits import LIMITS, Limits
from webapp.jsoninput import JSONInputError, json_parse
from webapp.pictures import (
    UploadError,
    UploadLimits,
    check_request_pixels,
    probe_picture,
    read_picture,
    zip_members,
)

LABEL_TASKS = ("localise", "landmarks", "segment")
MAX_NAME = 40  # characters of a class or point name


@dataclass
class Labels:
    """What the labels file says: names (classes or points) and {picture file: label}."""

    names: list[str]
    by_file: dict[str, list[float]] = field(default_factory=dict)  # box or points, pixels
    classes: dict[str, int] = field(default_factory=dict)  # localise: file -> class index


def _base(path: str) -> str:
    return PurePosixPath(path.replace("\\", "/")).name


def _number(text: object, where: str, what: str) -> float:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):  # OverflowError: float() of 10**400
        raise UploadError(f"{where}: {what} must be a number, got {str(text)[:20]!r}") from None
    if not math.isfinite(value):
        raise UploadError(f"{where}: {what} must be a finite number, got {str(text)[:20]!r}")
    return value


def _name(text: object, where: str, what: str) -> str:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NAME:
        raise UploadError(f"{where}: {what} must be a name of 1 to {MAX_NAME} characters")
    return text.strip()


def _box(values: list[float], where: str) -> list[float]:
    x0, y0, x1, y1 = values
    if min(values) < 0 or x1 <= x0 or y1 <= y0:
        raise UploadError(
            f"{where}: the box needs 0 ≤ x0 < x1 and 0 ≤ y0 < y1, "
            f"got {x0:g}, {y0:g}, {x1:g}, {y1:g}"
        )
    return values


def _add(labels: Labels, file: object, where: str) -> str:
    name = _base(_name(file, where, "file"))
    if name in labels.by_file:
        raise UploadError(f"{where}: {name!r} has a label already")
    return name


def parse_labels(task: str, filename: str, text: str, limits: Limits = LIMITS) -> Labels:
    """Read a labels.csv or labels.json for `task`; UploadError names file and line."""
    if filename.endswith(".json"):
        return _parse_json(task, filename, text, limits)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise UploadError(f"{filename} is empty")
    header = [h.strip() for h in rows[0]]
    if task == "localise":
        if header != ["file", "class", "x0", "y0", "x1", "y1"]:
            raise UploadError(f"{filename} line 1: the header must be file,class,x0,y0,x1,y1")
        labels, classes = Labels([]), {}
    else:
        if header[:1] != ["file"] or len(header) < 3 or len(header) % 2 == 0:
            raise UploadError(
                f"{filename} line 1: the header must be file then an x and a y "
                "column per point (eye_x,eye_y,...)"
            )
        names = []
        for x, y in zip(header[1::2], header[2::2], strict=True):
            if not (x.endswith("_x") and y == x[:-2] + "_y"):
                raise UploadError(f"{filename} line 1: expected NAME_x,NAME_y, got {x},{y}")
            names.append(_name(x[:-2], f"{filename} line 1", "a point's name"))
        labels = Labels(names)
    if len(rows) - 1 > limits.max_dataset_samples:
        raise UploadError(f"{filename}: more than {limits.max_dataset_samples:,} labels")
    for number, row in enumerate(rows[1:], start=2):
        where = f"{filename} line {number}"
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(row) != len(header):
            raise UploadError(f"{where}: {len(row)} columns, the header has {len(header)}")
        file = _add(labels, row[0].strip(), where)
        values = [
            _number(v, where, h)
            for v, h in zip(
                row[2 if task == "localise" else 1 :],
                header[2 if task == "localise" else 1 :],
                strict=True,
            )
        ]
        if task == "localise":
            klass = _name(row[1], where, "class")
            labels.classes[file] = classes.setdefault(klass, len(classes))
            values = _box(values, where)
        elif min(values) < 0:
            raise UploadError(f"{where}: a point lies left of or above the picture")
        labels.by_file[file] = values
    if task == "localise":
        labels.names = list(classes)
    return labels


def _parse_json(task: str, filename: str, text: str, limits: Limits) -> Labels:
    try:
        doc = json_parse(text)
    except JSONInputError as exc:
        raise UploadError(exc.within(filename, line=False)) from None  # the text says where
    if not isinstance(doc, dict) or not isinstance(doc.get("labels"), list):
        raise UploadError(f'{filename}: expected an object with a "labels" list')
    if len(doc["labels"]) > limits.max_dataset_samples:
        raise UploadError(f"{filename}: more than {limits.max_dataset_samples:,} labels")
    classes: dict[str, int] = {}
    names: list[str] = []
    if task == "landmarks":
        if not isinstance(doc.get("points"), list) or not doc["points"]:
            raise UploadError(f'{filename}: "points" must list the points\' names')
        names = [_name(n, filename, "a point's name") for n in doc["points"]]
    labels = Labels(names)
    for number, item in enumerate(doc["labels"], start=1):
        where = f"{filename} item {number}"
        if not isinstance(item, dict):
            raise UploadError(f"{where}: expected an object")
        file = _add(labels, item.get("file"), where)
        if task == "localise":
            box = item.get("box")
            if not isinstance(box, list) or len(box) != 4:
                raise UploadError(f'{where}: "box" must be [x0, y0, x1, y1]')
            klass = _name(item.get("class"), where, "class")
            labels.classes[file] = classes.setdefault(klass, len(classes))
            labels.by_file[file] = _box([_number(v, where, "box") for v in box], where)
        else:
            points = item.get("points")
            if (
                not isinstance(points, list)
                or len(points) != len(names)
                or not all(isinstance(p, list) and len(p) == 2 for p in points)
            ):
                raise UploadError(f'{where}: "points" must be {len(names)} [x, y] pairs')
            values = [_number(v, where, "a point") for p in points for v in p]
            if min(values) < 0:
                raise UploadError(f"{where}: a point lies left of or above the picture")
            labels.by_file[file] = values
    if task == "localise":
        labels.names = list(classes)
    return labels


@dataclass(frozen=True)
class LabelledZip:
    """What a labelled zip holds, from its labels and picture headers."""

    names: list[str]  # classes (localise, segment) or points (landmarks)
    pictures: int
    pixels: int


def _split(task: str, members: list[tuple[str, bytes]]):
    """(pictures, labels file name and text, masks by picture base name, classes.txt)."""
    pictures, masks, label_files, class_names = [], {}, [], None
    for path, content in members:
        parts = PurePosixPath(path.replace("\\", "/")).parts
        if is_picture_name(path) and "masks" in parts[:-1]:
            masks[PurePosixPath(parts[-1]).stem] = (path, content)
        elif is_picture_name(path):
            pictures.append((path, content))
        elif parts[-1] in ("labels.csv", "labels.json"):
            label_files.append((path, content))
        elif parts[-1] == "classes.txt":
            class_names = (path, content)
    return pictures, label_files, masks, class_names


def _text(path: str, content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError(f"{path} is not UTF-8 text") from None


def _labels_of(task: str, pictures, label_files, masks, class_names, limits: Limits):
    if not pictures:
        raise UploadError("the zip has no pictures")
    if len(pictures) > limits.max_dataset_samples:
        raise UploadError(
            f"{len(pictures):,} pictures is more than the limit of {limits.max_dataset_samples:,}"
        )
    bases = [_base(p) for p, _ in pictures]
    if len(set(bases)) != len(bases):
        raise UploadError("two pictures share a file name: labels name pictures by file name")
    if task == "segment":
        for path, _ in pictures:
            if PurePosixPath(_base(path)).stem not in masks:
                raise UploadError(
                    f"{path[:80]!r} has no mask (masks/{PurePosixPath(path).stem}.png)"
                )
        names = []
        if class_names is not None:
            path, content = class_names
            names = [
                _name(line, f"{path} line {i}", "a class")
                for i, line in enumerate(_text(path, content).splitlines(), 1)
                if line.strip()
            ]
        if not names:
            raise UploadError("a segment zip needs classes.txt: one class name a line, "
                              "the first for mask value 0")
        return Labels(names)
    if len(label_files) != 1:
        raise UploadError(
            f"a {task} zip needs one labels.csv or labels.json; found {len(label_files)}"
        )
    path, content = label_files[0]
    labels = parse_labels(task, path, _text(path, content), limits)
    for base in bases:
        if base not in labels.by_file:
            raise UploadError(f"{base!r} has no label in {path}")
    extra = sorted(set(labels.by_file) - set(bases))
    if extra:
        raise UploadError(f"{path} labels {extra[0]!r}, which is not a picture in the zip")
    if task == "localise" and len(labels.names) < 1:
        raise UploadError(f"{path} has no labels")
    return labels


def _same_size(mask_path: str, mask: tuple[int, int], picture: tuple[int, int]) -> None:
    """A mask labels its picture's pixels one for one: (width, height) must agree."""
    if mask != picture:
        raise UploadError(
            f"{mask_path} is {mask[0]}×{mask[1]}, its picture {picture[0]}×{picture[1]}"
        )


def labelled_zip_probe(
    data: bytes, name: str, task: str, limits: UploadLimits, counts: Limits = LIMITS
) -> LabelledZip:
    """Check a labelled zip from its labels and picture headers alone (no pixel decoded):
    every picture labelled, every label a picture's, boxes and points inside the
    pictures' declared sizes. UploadError says what is wrong and where."""
    pictures, label_files, masks, class_names = _split(task, list(zip_members(data, name, limits)))
    labels = _labels_of(task, pictures, label_files, masks, class_names, counts)
    infos = []
    for path, content in pictures:
        info = probe_picture(content, path, limits)
        infos.append(info)
        if task == "segment":  # the mask's header against its picture's
            mpath, mcontent = masks[PurePosixPath(_base(path)).stem]
            mask = probe_picture(mcontent, mpath, limits)
            _same_size(mpath, (mask.width, mask.height), (info.width, info.height))
        values = labels.by_file.get(_base(path))
        if values is not None and (
            max(values[0::2]) > info.width or max(values[1::2]) > info.height
        ):
            raise UploadError(
                f"the label of {_base(path)!r} reaches outside its "
                f"{info.width}×{info.height} pixels"
            )
    check_request_pixels(infos, limits)
    return LabelledZip(labels.names or ["masks"], len(infos), sum(i.pixels for i in infos))


def labelled_zip_read(
    data: bytes, *, task: str, image_size: int, limits: UploadLimits, counts: Limits = LIMITS
):
    """Decode a labelled zip: (pictures (N, S, S, C) uint8 with S = image_size, targets as
    the task's tensors want them (numpy), class or point names), labels scaled with the
    pictures. Grey when every picture is."""
    pictures, label_files, masks, class_names = _split(
        task, list(zip_members(data, "the zip", limits))
    )
    labels = _labels_of(task, pictures, label_files, masks, class_names, counts)
    arrays, targets = [], []
    largest = 0
    for path, content in pictures:
        image = read_picture(content, path, limits).image
        w, h = image.size
        arrays.append(np.asarray(image.resize((image_size, image_size), Image.BILINEAR)))
        sx, sy = image_size / w, image_size / h
        if task == "segment":
            mpath, mcontent = masks[PurePosixPath(_base(path)).stem]
            mask = np.asarray(read_picture(mcontent, mpath, limits).image)
            _same_size(mpath, (mask.shape[1], mask.shape[0]), (w, h))
            if not (mask[..., :1] == mask).all():
                raise UploadError(f"{mpath} is in colour: a mask is grey, its value the class")
            small = Image.fromarray(mask[..., 0]).resize((image_size, image_size), Image.NEAREST)
            targets.append(np.asarray(small, dtype=np.int64))
            largest = max(largest, int(mask.max()))
            continue
        values = labels.by_file[_base(path)]
        if max(values[0::2]) > w or max(values[1::2]) > h:
            raise UploadError(f"the label of {_base(path)!r} reaches outside its {w}×{h} pixels")
        scaled = [v * (sx if i % 2 == 0 else sy) for i, v in enumerate(values)]
        targets.append([labels.classes[_base(path)], *scaled] if task == "localise" else scaled)
    rgb = np.stack(arrays)
    grey = bool((rgb[..., :1] == rgb).all())
    names = labels.names
    if task == "segment":
        if names and largest >= len(names):
            raise UploadError(f"a mask has class {largest} but classes.txt names {len(names)}")
        names = names or [f"class {i}" for i in range(max(2, largest + 1))]
    return (rgb[..., :1] if grey else rgb), np.asarray(targets), names
