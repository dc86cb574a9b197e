"""People's own labels for their pictures, as labelling tools export them, checked strictly.

Two formats:

- **COCO JSON**: one `.json` file with `images` (`id`, `file_name`, optional `width`,
  `height`), `annotations` (`image_id`, `category_id`, `bbox` [x, y, w, h] in pixels) and
  `categories` (`id`, `name`); categories are matched to the model's classes by name,
  pictures by file name (without folders and extension). Listed pictures that were not
  uploaded are skipped with their annotations (a subset of a labelled set can be sent).
- **YOLO / Darknet `.txt`**: one file per picture, named like the picture (`dog.jpg` ->
  `dog.txt`), a line per object: `class x_centre y_centre width height`, all but the class
  relative to the picture (0..1). Class numbers are the model's class order, or, when a
  `classes.txt` / `obj.names` / `*.names` file comes along, lines of that file (matched to
  the model's classes by name). Lists of pictures (`train.txt`, `valid.txt`, `test.txt`)
  are skipped.

Every problem is reported by file and line (COCO: by annotation), all of them at once (up
to `MAX_PROBLEMS`), and nothing is returned unless the whole set is right: no evaluation
runs on half-parsed labels. Pure Python (no Django, no torch, no picture decoding); zips of
label files are opened by `webapp.pictures.zip_members`, the one reader of zips.
"""

from __future__ import annotations

import json
import math
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from webapp.jsoninput import JSONInputError, json_parse
from webapp.pictures import UploadError, UploadLimits, is_zip, zip_members

MAX_PROBLEMS = 20  # reported one by one; more are counted
MAX_LABEL_BYTES = 20 * 2**20  # all label files together
MAX_BOXES = 50_000  # all labelled objects together
MAX_LINES = 2 * MAX_BOXES  # of YOLO text files together, blank ones included
EDGE_SLACK = 0.01  # how far (relative, YOLO) or in pixels / 100 (COCO) a box may poke out
LIST_FILES = {"train.txt", "valid.txt", "val.txt", "test.txt"}
NAMES_FILES = {"classes.txt", "obj.names"}


class LabelError(ValueError):
    """The labels cannot be used; `problems` says where and why, one line each."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        shown = self.problems[:MAX_PROBLEMS]
        more = len(self.problems) - len(shown)
        text = "; ".join(shown) + (f"; and {more} more problems" if more > 0 else "")
        super().__init__(text)


@dataclass(frozen=True)
class Truth:
    """One labelled object: class and box (x1, y1, x2, y2) in the picture's pixels."""

    class_id: int
    class_name: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class PictureSize:
    name: str  # as the uploads name it (a zip's member path, or the file name)
    width: int
    height: int


def label_files(
    uploads: Iterable[tuple[str, bytes]], limits: UploadLimits
) -> list[tuple[str, bytes]]:
    """(name, bytes) of every label file in these uploads, zips opened (their structure
    checked by webapp.pictures); raises LabelError for anything that is not a label file."""
    out: list[tuple[str, bytes]] = []
    problems: list[str] = []
    total = 0
    for name, data in uploads:
        try:
            members = list(zip_members(data, name, limits)) if is_zip(data) else [(name, data)]
        except UploadError as exc:
            raise LabelError([str(exc)]) from exc
        for path, content in members:
            total += len(content)
            if not path.lower().endswith((".json", ".txt", ".names")):
                problems.append(f"{path}: not a label file (.json, .txt or .names)")
            out.append((path, content))
    if total > MAX_LABEL_BYTES:
        problems.append(f"the label files hold {total:,} bytes; at most {MAX_LABEL_BYTES:,}")
    if not out:
        problems.append("no label files")
    if problems:
        raise LabelError(problems)
    return out


def read_labels(
    files: Sequence[tuple[str, bytes]],
    pictures: Sequence[PictureSize],
    class_names: Sequence[str],
) -> dict[str, list[Truth]]:
    """The labelled objects of every picture (by the picture's name); LabelError if any
    file, line, class, box or picture is wrong, or a picture has no labels."""
    jsons = [f for f in files if f[0].lower().endswith(".json")]
    if jsons:
        if len(jsons) > 1 or len(files) > 1:
            raise LabelError(["COCO labels come as one .json file, alone"])
        return _coco(*jsons[0], pictures, class_names)
    return _yolo(files, pictures, class_names)


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path.replace("\\", "/")))[0]


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelError([f"{name}: not UTF-8 text (byte {exc.start})"]) from exc


def _pictures_by_stem(pictures: Sequence[PictureSize]) -> dict[str, PictureSize]:
    by_stem: dict[str, PictureSize] = {}
    clashes = []
    for p in pictures:
        stem = _stem(p.name)
        if stem in by_stem:
            clashes.append(f"{by_stem[stem].name} and {p.name} share the name {stem!r}")
        by_stem[stem] = p
    if clashes:
        raise LabelError([f"{c}, so labels cannot tell them apart" for c in clashes])
    return by_stem


def _yolo(
    files: Sequence[tuple[str, bytes]],
    pictures: Sequence[PictureSize],
    class_names: Sequence[str],
) -> dict[str, list[Truth]]:
    lines = sum(data.count(b"\n") + 1 for _, data in files)
    if lines > MAX_LINES:  # refused before any line is read: the cost stays bounded
        raise LabelError([f"the label files hold {lines:,} lines; at most {MAX_LINES:,}"])
    by_stem = _pictures_by_stem(pictures)
    problems: list[str] = []
    names = [
        f
        for f in files
        if posixpath.basename(f[0]).lower() in NAMES_FILES or f[0].lower().endswith(".names")
    ]
    class_map = list(range(len(class_names)))  # line's class number -> the model's class id
    class_source = f"the model's {len(class_names)} classes"
    if len(names) > 1:
        problems.append("more than one class names file: " + ", ".join(n for n, _ in names))
    elif names:
        name, data = names[0]
        class_map, class_source = [], name
        lines = _text(name, data).splitlines()
        for number, line in enumerate(lines, 1):
            label = line.strip()
            if not label:
                continue
            if label not in class_names:
                problems.append(f"{name}:{number}: “{label}” is not a class of the model")
                class_map.append(-1)
            else:
                class_map.append(class_names.index(label))
    truth: dict[str, list[Truth]] = {}
    boxes = 0
    for name, data in files:
        base = posixpath.basename(name)
        if (name, data) in names or (base.lower() in LIST_FILES and _stem(name) not in by_stem):
            continue
        picture = by_stem.get(_stem(name))
        if picture is None:
            problems.append(f"{name}: no picture named {_stem(name)}.* was uploaded")
            continue
        if picture.name in truth:
            problems.append(f"{name}: a second label file for {picture.name}")
            continue
        found: list[Truth] = []
        for number, line in enumerate(_text(name, data).splitlines(), 1):
            where = f"{name}:{number}"
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 5:
                problems.append(
                    f"{where}: {len(parts)} columns; a line is "
                    "“class x_centre y_centre width height”"
                )
                continue
            try:
                number_class = int(parts[0])
                cx, cy, w, h = (float(v) for v in parts[1:])
            except ValueError:
                problems.append(
                    f"{where}: “{line.strip()[:60]}” is not a class number and four numbers"
                )
                continue
            if not 0 <= number_class < len(class_map):
                problems.append(
                    f"{where}: class {number_class} is not one of {class_source} "
                    f"(0 to {len(class_map) - 1})"
                )
                continue
            class_id = class_map[number_class]
            if class_id < 0:
                problems.append(f"{where}: class {number_class} is unknown to the model")
                continue
            if not all(math.isfinite(v) for v in (cx, cy, w, h)) or w <= 0 or h <= 0:
                problems.append(f"{where}: the box needs a finite, positive width and height")
                continue
            x1, y1, x2, y2 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
            if min(x1, y1) < -EDGE_SLACK or max(x2, y2) > 1 + EDGE_SLACK:
                problems.append(
                    f"{where}: the box reaches outside the picture "
                    "(values are fractions of its width and height, 0 to 1)"
                )
                continue
            W, H = picture.width, picture.height
            box = (max(0.0, x1) * W, max(0.0, y1) * H, min(1.0, x2) * W, min(1.0, y2) * H)
            found.append(Truth(class_id, class_names[class_id], box))
        boxes += len(found)
        truth[picture.name] = found
    for picture in pictures:
        if picture.name not in truth:
            problems.append(
                f"{picture.name}: no label file (expected {_stem(picture.name)}.txt;"
                " an empty file means no objects)"
            )
    if boxes > MAX_BOXES:
        problems.append(f"{boxes:,} labelled objects; at most {MAX_BOXES:,}")
    if problems:
        raise LabelError(problems)
    return truth


def _element_lines(text: str, keys: Sequence[str]) -> dict[str, list[int]]:
    """For each top-level list named in `keys`, the line on which each element starts
    (the JSON is already known to be valid; anything unexpected gives no lines). One pass:
    the line count runs along with the position."""
    decoder = json.JSONDecoder()
    out: dict[str, list[int]] = {}
    line, counted = 1, 0  # the line of position `counted`

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    try:
        i = skip(0)
        if text[i] != "{":
            return {}
        i = skip(i + 1)
        while text[i] != "}":
            key, i = decoder.raw_decode(text, i)
            i = skip(skip(i) + 1)  # past the colon
            if key in keys and text[i] == "[":
                starts = []
                i = skip(i + 1)
                while text[i] != "]":
                    line, counted = line + text.count("\n", counted, i), i
                    starts.append(line)
                    _, i = decoder.raw_decode(text, i)
                    i = skip(i)
                    if text[i] == ",":
                        i = skip(i + 1)
                out[key] = starts
                i += 1
            else:
                _, i = decoder.raw_decode(text, i)
            i = skip(i)
            if text[i] == ",":
                i = skip(i + 1)
    except (IndexError, ValueError):
        return out
    return out


def _coco(
    name: str, data: bytes, pictures: Sequence[PictureSize], class_names: Sequence[str]
) -> dict[str, list[Truth]]:
    text = _text(name, data)
    try:
        doc = json_parse(text)
    except JSONInputError as exc:
        raise LabelError([exc.within(name)]) from exc
    lines: dict[str, list[int]] = {}

    def at(key: str, i: int) -> str:
        """"file:line: key[i]" – where element i of a top-level list starts (the lines
        found on the first problem: a file that is right costs no second reading)."""
        if not lines:
            lines.update(_element_lines(text, ("images", "annotations", "categories")))
        found = lines.get(key, [])
        return f"{name}:{found[i]}: {key}[{i}]" if i < len(found) else f"{name}: {key}[{i}]"

    if not isinstance(doc, dict) or not all(
        isinstance(doc.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise LabelError(
            [f"{name}: a COCO file has lists “images”, “annotations” and “categories”"]
        )
    crowded = [f"{name}: “{key}” holds {len(doc[key]):,} entries; at most {MAX_BOXES:,}"
               for key in ("images", "annotations", "categories") if len(doc[key]) > MAX_BOXES]
    if crowded:  # refused before any entry is looked at: the cost stays bounded
        raise LabelError(crowded)
    problems: list[str] = []
    categories: dict[int, int] = {}  # COCO category id -> the model's class id
    for i, cat in enumerate(doc["categories"]):
        where = at("categories", i)
        if not isinstance(cat, dict) or not isinstance(cat.get("id"), int):
            problems.append(f"{where}: needs an integer “id” and a “name”")
        elif cat.get("name") not in class_names:
            problems.append(f"{where}: “{cat.get('name')}” is not a class of the model")
        else:
            categories[cat["id"]] = class_names.index(cat["name"])
    by_stem = _pictures_by_stem(pictures)
    images: dict[int, PictureSize] = {}
    elsewhere: set[int] = set()  # listed pictures that were not uploaded: their labels skipped
    for i, image in enumerate(doc["images"]):
        where = at("images", i)
        if (
            not isinstance(image, dict)
            or not isinstance(image.get("id"), int)
            or not isinstance(image.get("file_name"), str)
        ):
            problems.append(f"{where}: needs an integer “id” and a “file_name”")
            continue
        picture = by_stem.get(_stem(image["file_name"]))
        if picture is None:
            elsewhere.add(image["id"])
            continue
        size = (image.get("width"), image.get("height"))
        if size != (None, None) and size != (picture.width, picture.height):
            problems.append(
                f"{where}: labelled at {size[0]}×{size[1]}, but {picture.name} is "
                f"{picture.width}×{picture.height}"
            )
            continue
        images[image["id"]] = picture
    truth: dict[str, list[Truth]] = {p.name: [] for p in images.values()}
    for i, ann in enumerate(doc["annotations"]):
        where = at("annotations", i)
        if not isinstance(ann, dict):
            problems.append(f"{where}: not an object")
            continue
        image_id, category_id = ann.get("image_id"), ann.get("category_id")
        if not isinstance(image_id, int) or not isinstance(category_id, int):
            problems.append(f"{where}: “image_id” and “category_id” must be integers")
            continue
        picture = images.get(image_id)
        bbox = ann.get("bbox")
        if image_id in elsewhere:
            continue
        if picture is None:
            problems.append(f"{where}: image_id {ann.get('image_id')!r} is not a listed picture")
            continue
        if ann.get("category_id") not in categories:
            problems.append(
                f"{where}: category_id {ann.get('category_id')!r} is not a category the model knows"
            )
            continue
        if not (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, int | float) and math.isfinite(v) for v in bbox)
        ):
            problems.append(f"{where}: bbox must be four finite numbers [x, y, width, height]")
            continue
        x, y, w, h = (float(v) for v in bbox)
        slack = EDGE_SLACK * 100  # pixels
        if w <= 0 or h <= 0:
            problems.append(f"{where}: the box needs a positive width and height")
            continue
        if (
            x < -slack
            or y < -slack
            or x + w > picture.width + slack
            or (y + h > picture.height + slack)
        ):
            problems.append(
                f"{where}: the box [{x:g}, {y:g}, {w:g}, {h:g}] reaches outside "
                f"{picture.name} ({picture.width}×{picture.height})"
            )
            continue
        class_id = categories[ann["category_id"]]
        box = (max(0.0, x), max(0.0, y), min(x + w, picture.width), min(y + h, picture.height))
        truth[picture.name].append(Truth(class_id, class_names[class_id], box))
    for picture in pictures:
        if picture.name not in truth and not any(p.name == picture.name for p in images.values()):
            problems.append(f"{picture.name}: not among the file's images")
    if sum(len(v) for v in truth.values()) > MAX_BOXES:
        problems.append(f"more than {MAX_BOXES:,} labelled objects")
    if problems:
        raise LabelError(problems)
    return truth
