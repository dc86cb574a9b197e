"""mAP on people's own labels: the label readers (COCO JSON, YOLO txt) and their errors,
the metric against pycocotools called directly and against a hand calculation, and the
error analysis."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from detection.evaluate import evaluate, explain
from detection.labels import LabelError, PictureSize, Truth, label_files, read_labels
from detection.yolo import Detection
from webapp.pictures import UploadLimits

CLASSES = ["cat", "dog", "cup"]
PICTURES = [PictureSize("set/a.jpg", 100, 80), PictureSize("set/b.png", 200, 100)]


def det(class_id: int, score: float, box) -> Detection:
    return Detection(class_id, CLASSES[class_id], score, tuple(float(v) for v in box))


# ----------------------------------------------------------------------------- the metric


def test_a_tiny_case_by_hand():
    """Two cats; detections: a hit (0.9), a miss-placed box (0.8), a hit (0.7).
    Precision-recall points (0.5, 1), (0.5, 0.5), (1, 2/3): COCO's interpolated precision
    is 1 at the 51 recall points 0..0.50 and 2/3 at the 50 points 0.51..1."""
    pictures = [PictureSize("a.jpg", 100, 100)]
    truth = {"a.jpg": [Truth(0, "cat", (0, 0, 10, 10)), Truth(0, "cat", (50, 50, 60, 60))]}
    found = {"a.jpg": [det(0, 0.9, (0, 0, 10, 10)), det(0, 0.8, (20, 20, 30, 30)),
                       det(0, 0.7, (50, 50, 60, 60))]}  # fmt: skip
    result = evaluate(pictures, truth, found, CLASSES)
    by_hand = (51 * 1 + 50 * 2 / 3) / 101
    assert result["map50"] == pytest.approx(by_hand, abs=1e-12)
    assert result["map"] == pytest.approx(by_hand, abs=1e-12)  # exact boxes: every IoU
    (cat,) = result["classes"]
    assert (cat["class"], cat["labelled"], cat["detected"]) == ("cat", 2, 3)
    assert cat["pr"][0] == [0.0, 1.0] and cat["pr"][50] == [0.5, 1.0]
    assert cat["pr"][51] == [0.51, 0.6667] and cat["pr"][-1] == [1.0, 0.6667]


COCO_LABELS = {
    "images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 80},
               {"id": 9, "file_name": "b.png", "width": 200, "height": 100},
               {"id": 11, "file_name": "not-sent.jpg"}],
    "categories": [{"id": 1, "name": "dog"}, {"id": 5, "name": "cat"}, {"id": 6, "name": "cup"}],
    "annotations": [
        {"id": 1, "image_id": 7, "category_id": 5, "bbox": [10, 10, 30, 30]},
        {"id": 2, "image_id": 7, "category_id": 1, "bbox": [50, 20, 40, 50]},
        {"id": 3, "image_id": 9, "category_id": 5, "bbox": [100, 0, 60, 60]},
        {"id": 4, "image_id": 9, "category_id": 6, "bbox": [0, 50, 20, 30]},
        {"id": 5, "image_id": 11, "category_id": 6, "bbox": [1, 1, 2, 2]},
    ],
}  # fmt: skip
# The same objects as YOLO labels with their own class order (classes.txt).
YOLO_LABELS = {
    "labels/classes.txt": "dog\ncat\ncup\n",
    "labels/a.txt": "1 0.25 0.3125 0.3 0.375\n0 0.7 0.5625 0.4 0.625\n",
    "labels/b.txt": "1 0.65 0.3 0.3 0.6\n\n2 0.05 0.65 0.1 0.3\n",
    "labels/train.txt": "set/a.jpg\nset/b.png\n",
}
FOUND = {
    "set/a.jpg": [det(0, 0.95, (11, 10, 40, 41)), det(1, 0.6, (52, 22, 88, 70)),
                  det(0, 0.5, (60, 20, 90, 70)), det(2, 0.3, (0, 0, 10, 10)),
                  det(1, 0.9, (0, 60, 20, 80))],
    "set/b.png": [det(0, 0.8, (100, 0, 150, 60)), det(0, 0.4, (101, 1, 160, 61)),
                  det(2, 0.7, (0, 45, 22, 80))],
}  # fmt: skip


def _pycocotools_directly() -> tuple[float, float]:
    """The reference: COCOeval on the hand-written COCO file and the detections."""
    dataset = {**COCO_LABELS, "images": COCO_LABELS["images"][:2],
               "annotations": [dict(a, area=a["bbox"][2] * a["bbox"][3], iscrowd=0)
                               for a in COCO_LABELS["annotations"][:4]]}  # fmt: skip
    ours_to_theirs = {0: 5, 1: 1, 2: 6}
    results = [
        {"image_id": image_id, "category_id": ours_to_theirs[d.class_id], "score": d.score,
         "bbox": [d.box[0], d.box[1], d.box[2] - d.box[0], d.box[3] - d.box[1]]}
        for image_id, name in ((7, "set/a.jpg"), (9, "set/b.png")) for d in FOUND[name]
    ]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = dataset
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[1]), float(ev.stats[0])  # AP@0.5, AP@0.5:0.95


def test_coco_and_yolo_labels_give_the_librarys_map():
    from_coco = read_labels([("labels.json", json.dumps(COCO_LABELS).encode())], PICTURES,
                            CLASSES)  # fmt: skip
    from_yolo = read_labels([(k, v.encode()) for k, v in YOLO_LABELS.items()], PICTURES,
                            CLASSES)  # fmt: skip
    assert set(from_coco) == set(from_yolo) == {"set/a.jpg", "set/b.png"}
    for name in from_coco:
        assert [t.class_name for t in from_coco[name]] == [t.class_name for t in from_yolo[name]]
        for a, b in zip(from_coco[name], from_yolo[name], strict=True):
            np.testing.assert_allclose(a.box, b.box, atol=1e-9)

    map50, map_ = _pycocotools_directly()
    assert 0 < map_ < map50 < 1
    for truth in (from_coco, from_yolo):
        result = evaluate(PICTURES, truth, FOUND, CLASSES)
        assert result["map50"] == pytest.approx(map50, abs=1e-9)
        assert result["map"] == pytest.approx(map_, abs=1e-9)
        assert {c["class"] for c in result["classes"]} == {"cat", "dog", "cup"}


def test_no_detections_is_zero_not_an_error():
    truth = {"set/a.jpg": [Truth(0, "cat", (0, 0, 10, 10))], "set/b.png": []}
    result = evaluate(PICTURES, truth, {}, CLASSES)
    assert result["map50"] == 0 and result["map"] == 0


# ----------------------------------------------------------------------------- error analysis


def test_explain_says_why_each_box_is_wrong():
    truth = [Truth(0, "cat", (0, 0, 10, 10)), Truth(1, "dog", (50, 50, 70, 70)),
             Truth(0, "cat", (80, 80, 90, 90))]  # fmt: skip
    found = [det(0, 0.9, (0, 0, 10, 10)), det(0, 0.8, (0, 0, 10, 9)),  # hit, duplicate
             det(0, 0.7, (50, 50, 70, 70)),  # a dog called a cat
             det(0, 0.6, (80, 80, 95, 95)),  # IoU 100/225
             det(2, 0.5, (30, 0, 40, 10)),  # nothing there
             det(1, 0.1, (50, 50, 70, 70))]  # fmt: skip
    out = explain(truth, found, conf=0.25)
    assert [(o["kind"], o["why"].split(":")[0]) for o in out] == [
        ("tp", ""), ("fp", "duplicate"), ("fp", "wrong class"), ("fp", "low IoU"),
        ("fp", "background"), ("miss", "missed"), ("miss", "missed"),
    ]  # fmt: skip
    assert out[2]["why"] == "wrong class: it is labelled dog"
    assert out[3]["iou"] == round(100 / 225, 3)
    assert [o["class"] for o in out[5:]] == ["dog", "cat"]


# ----------------------------------------------------------------------------- hostile labels


def refused(files: dict[str, str | bytes], *expected: str) -> list[str]:
    encoded = [(k, v.encode() if isinstance(v, str) else v) for k, v in files.items()]
    with pytest.raises(LabelError) as info:
        read_labels(encoded, PICTURES, CLASSES)
    for text in expected:
        assert any(text in p for p in info.value.problems), (text, info.value.problems)
    return info.value.problems


def test_yolo_problems_are_named_by_file_and_line():
    problems = refused(
        {"a.txt": "0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2\n7 0.5 0.5 0.1 0.1\n"
                  "0 0.9 0.5 0.4 0.2\nx 0.5 0.5 0.1 0.1\n1 0.5 0.5 nan 0.1\n1 .5 .5 0 .1\n",
         "b.txt": "2 0.5 0.5 0.1 0.1 0.9\n",
         "c.txt": "0 0.5 0.5 0.1 0.1\n"},  # fmt: skip
        "a.txt:2: 4 columns",
        "a.txt:3: class 7 is not one of the model's 3 classes (0 to 2)",
        "a.txt:4: the box reaches outside the picture",
        "a.txt:5: “x 0.5 0.5 0.1 0.1” is not a class number and four numbers",
        "a.txt:6: the box needs a finite, positive width and height",
        "a.txt:7: the box needs a finite, positive width and height",
        "b.txt:1: 6 columns",
        "c.txt: no picture named c.* was uploaded",
    )
    assert len(problems) == 8


def test_yolo_class_names_file_is_checked_and_pictures_need_labels():
    refused({"obj.names": "cat\nunicorn\n", "a.txt": "1 0.5 0.5 0.1 0.1\n"},
            "obj.names:2: “unicorn” is not a class of the model",
            "a.txt:1: class 1 is unknown to the model",
            "set/b.png: no label file (expected b.txt")  # fmt: skip
    refused({"a.txt": b"\xff\xfe0 0.5", "b.txt": ""}, "a.txt: not UTF-8 text")


def test_coco_problems_are_named_by_place():
    bad = json.loads(json.dumps(COCO_LABELS))
    bad["categories"].append({"id": 8, "name": "unicorn"})
    bad["images"][1]["width"] = 640
    bad["annotations"] += [
        {"id": 8, "image_id": 7, "category_id": 8, "bbox": [1, 1, 5, 5]},
        {"id": 9, "image_id": 7, "category_id": 5, "bbox": [90, 70, 40, 40]},
        {"id": 10, "image_id": 7, "category_id": 5, "bbox": [1, 1, "5", 5]},
        {"id": 11, "image_id": 3, "category_id": 5, "bbox": [1, 1, 5, 5]},
    ]
    text = json.dumps(bad, indent=1)  # as tools write it: one value per line
    rows = text.splitlines()

    def opening_line(key: str, i: int) -> int:
        """Where element i of the list `key` opens: the i-th "  {" after its key."""
        start = rows.index(f' "{key}": [')
        opens = [n for n in range(start, len(rows)) if rows[n] == "  {"]
        return opens[i] + 1

    line = {f"{k}[{i}]": opening_line(k, i) for k in ("categories", "images", "annotations")
            for i in range(len(bad[k]))}  # fmt: skip
    refused({"labels.json": text},
            f"labels.json:{line['categories[3]']}: categories[3]: “unicorn” is not a class",
            f"labels.json:{line['images[1]']}: images[1]: labelled at 640×100, but set/b.png "
            "is 200×100",
            f"labels.json:{line['annotations[5]']}: annotations[5]: category_id 8 is not a "
            "category the model knows",
            f"labels.json:{line['annotations[6]']}: annotations[6]: the box [90, 70, 40, 40] "
            "reaches outside set/a.jpg",
            f"labels.json:{line['annotations[7]']}: annotations[7]: bbox must be four finite",
            f"labels.json:{line['annotations[8]']}: annotations[8]: image_id 3 is not")  # fmt: skip
    # On one line (as json.dumps writes it) the line is 1 for all.
    refused({"labels.json": json.dumps(bad)}, "labels.json:1: annotations[8]: image_id 3")
    refused({"labels.json": '{"images": [], \n "annotations": [,]}'},
            "labels.json:2: not valid JSON")  # fmt: skip
    refused({"labels.json": "[1, 2]"}, "a COCO file has lists")
    refused({"labels.json": "{}", "a.txt": ""}, "COCO labels come as one .json file, alone")


def test_label_files_from_a_zip_and_what_is_not_one():
    buffer = io.BytesIO()
    import zipfile  # a test building its input; the product reads zips via webapp.pictures

    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("labels/a.txt", "0 0.5 0.5 0.1 0.1\n")
        z.writestr("labels/b.txt", "")
    files = label_files([("labels.zip", buffer.getvalue())], UploadLimits())
    assert [n for n, _ in files] == ["labels/a.txt", "labels/b.txt"]
    truth = read_labels(files, PICTURES, CLASSES)
    ((cat,),) = [truth["set/a.jpg"]]
    assert cat.class_name == "cat" and cat.box == pytest.approx((45, 36, 55, 44))
    assert truth["set/b.png"] == []
    with pytest.raises(LabelError, match="photo.jpg: not a label file"):
        label_files([("photo.jpg", b"\xff\xd8\xff")], UploadLimits())
    with pytest.raises(LabelError, match="not a readable zip file"):
        label_files([("labels.zip", b"PK\x03\x04broken")], UploadLimits())
