"""mAP of the detector on people's own labels, computed by pycocotools, and why it erred.

Our code only converts: labels (`detection.labels.Truth`) and detections to COCO
dictionaries; `pycocotools.cocoeval.COCOeval` computes the metric (all areas, at most 100
detections per picture, 101-point interpolated precision, as the COCO benchmark does):

- mAP@0.5 and mAP@0.5:0.95 over the classes that have labels;
- AP per class at both, with how many objects were labelled and detected;
- a precision-recall curve per class at IoU 0.5 (precision at 101 recall points).

`explain` sorts what the page shows at one confidence into true positives, false
positives with a reason – wrong class, duplicate, low IoU, background – and misses. That
is error analysis for people to look at, not the metric: greedy matching at IoU 0.5, best
score first, like COCO's own.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detection.labels import PictureSize, Truth

MATCH_IOU = 0.5
LOW_IOU = 0.1  # below this a false positive is "background", above it "low IoU"


class Found(Protocol):
    """What a detection needs to be evaluated (detection.yolo.Detection has it)."""

    class_id: int
    class_name: str
    score: float
    box: tuple[float, float, float, float]


def _xywh(box: Sequence[float]) -> list[float]:
    x1, y1, x2, y2 = box
    return [x1, y1, x2 - x1, y2 - y1]


def to_coco(
    pictures: Sequence[PictureSize],
    truth: Mapping[str, Sequence[Truth]],
    found: Mapping[str, Sequence[Found]],
    class_names: Sequence[str],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(ground truth dataset, detection results) as COCO dictionaries; category id = the
    model's class index + 1, image id = the picture's position + 1."""
    images, annotations, results = [], [], []
    for index, picture in enumerate(pictures, 1):
        images.append(
            {
                "id": index,
                "file_name": picture.name,
                "width": picture.width,
                "height": picture.height,
            }
        )
        for t in truth.get(picture.name, []):
            x, y, w, h = _xywh(t.box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index,
                    "category_id": t.class_id + 1,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for d in found.get(picture.name, []):
            results.append(
                {
                    "image_id": index,
                    "category_id": d.class_id + 1,
                    "bbox": _xywh(d.box),
                    "score": float(d.score),
                }
            )
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}, results


def evaluate(
    pictures: Sequence[PictureSize],
    truth: Mapping[str, Sequence[Truth]],
    found: Mapping[str, Sequence[Found]],
    class_names: Sequence[str],
) -> dict[str, Any]:
    """mAP@0.5, mAP@0.5:0.95, per-class AP and PR curves (see the module's docstring)."""
    dataset, results = to_coco(pictures, truth, found, class_names)
    labelled = sorted({a["category_id"] for a in dataset["annotations"]})
    if not labelled:
        return {"map50": None, "map": None, "classes": [], "labelled": 0}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO()
        gt.dataset = dataset
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        if not results:
            dt.dataset = {**dataset, "annotations": []}
            dt.createIndex()
        ev = COCOeval(gt, dt, iouType="bbox")
        ev.params.catIds = labelled
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"]  # (T IoUs, R recalls, K classes, A areas, M max dets)
    area_all, most = 0, len(ev.params.maxDets) - 1
    per_class = []
    for k, cat in enumerate(labelled):
        p = precision[:, :, k, area_all, most]  # (T, R); -1 where undefined
        ap = [float(np.mean(row[row > -1])) if (row > -1).any() else 0.0 for row in p]
        curve = p[0]
        per_class.append(
            {
                "class": class_names[cat - 1],
                "class_id": cat - 1,
                "ap50": ap[0],
                "ap": float(np.mean(ap)),
                "labelled": sum(a["category_id"] == cat for a in dataset["annotations"]),
                "detected": sum(r["category_id"] == cat for r in results),
                "pr": [
                    [round(float(r), 2), round(max(float(v), 0.0), 4)]
                    for r, v in zip(ev.params.recThrs, curve, strict=True)
                ],
            }
        )
    return {
        "map50": float(np.mean([c["ap50"] for c in per_class])),
        "map": float(np.mean([c["ap"] for c in per_class])),
        "classes": per_class,
        "labelled": len(dataset["annotations"]),
    }


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def explain(truth: Sequence[Truth], found: Sequence[Found], conf: float) -> list[dict[str, Any]]:
    """One picture's detections scoring >= conf and its labels, sorted into outcomes:
    {"kind": "tp" | "fp" | "miss", "class", "score", "box", "iou", "why"}."""
    shown = sorted((d for d in found if d.score >= conf), key=lambda d: -d.score)
    taken = [False] * len(truth)
    out = []
    for d in shown:
        same = [(i, _iou(d.box, t.box)) for i, t in enumerate(truth) if t.class_id == d.class_id]
        free = [(i, v) for i, v in same if not taken[i] and v >= MATCH_IOU]
        item = {
            "class": d.class_name,
            "score": round(d.score, 4),
            "box": [round(v, 1) for v in d.box],
        }
        if free:
            i, v = max(free, key=lambda p: p[1])
            taken[i] = True
            out.append({**item, "kind": "tp", "iou": round(v, 3), "why": ""})
            continue
        best_same = max((v for _, v in same), default=0.0)
        other = max(
            ((t, _iou(d.box, t.box)) for t in truth if t.class_id != d.class_id),
            key=lambda p: p[1],
            default=(None, 0.0),
        )
        if best_same >= MATCH_IOU:
            why = "duplicate: its object was already found by a better box"
        elif other[1] >= MATCH_IOU:
            why = f"wrong class: it is labelled {other[0].class_name}"
        elif best_same >= LOW_IOU:
            why = f"low IoU: {best_same:.2f} with the nearest labelled {d.class_name}"
        else:
            why = "background: no labelled object there"
        out.append({**item, "kind": "fp", "iou": round(max(best_same, other[1]), 3), "why": why})
    for i, t in enumerate(truth):
        if not taken[i]:
            out.append(
                {
                    "kind": "miss",
                    "class": t.class_name,
                    "score": None,
                    "box": [round(v, 1) for v in t.box],
                    "iou": None,
                    "why": "missed: no box of its class at this confidence",
                }
            )
    return out
