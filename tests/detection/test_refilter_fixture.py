"""The results page re-filters boxes in JavaScript (static/detection/refilter.js); the
worker uses detection.yolo.refilter (per-class confidences too). Both are checked against
one committed fixture, tests/fixtures/refilter.json (replayed by tests/js/refilter.test.mjs),
so they cannot drift; likewise the class colours (tests/fixtures/class_colours.json,
detection.annotate).

Regenerate the fixture after a deliberate change of the Python side:
    .venv/bin/python -m tests.detection.test_refilter_fixture
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from detection.annotate import class_colour
from detection.yolo import Detection, refilter

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "refilter.json"
COLOURS = FIXTURE.with_name("class_colours.json")
CLASSES = ["person", "dog", "cat", "car"]


def _detections(candidates: list[dict]) -> list[Detection]:
    return [Detection(c["class_id"], c["class"], c["score"], tuple(c["box"])) for c in candidates]


def _kept_indices(case: dict) -> list[int]:
    """Which candidates refilter keeps, in its order, as indices into the case's list."""
    dets = _detections(case["candidates"])
    out = refilter(
        dets,
        conf=case["conf"],
        iou=case["iou"],
        classes=case["allowed"],
        class_conf=case.get("class_conf"),
    )
    return [next(i for i, d in enumerate(dets) if d is kept) for kept in out]


def _random_candidates(rng: random.Random, n: int) -> list[dict]:
    """Boxes clustered around a few centres, so that many overlap; wire-format rounding."""
    centres = [(rng.uniform(20, 300), rng.uniform(20, 300)) for _ in range(3)]
    out = []
    for _ in range(n):
        cx, cy = rng.choice(centres)
        cx, cy = cx + rng.gauss(0, 6), cy + rng.gauss(0, 6)
        w, h = rng.uniform(10, 80), rng.uniform(10, 80)
        class_id = rng.randrange(len(CLASSES))
        out.append({
            "class": CLASSES[class_id],
            "class_id": class_id,
            "score": round(rng.choice([rng.uniform(0.05, 1), 0.5, 0.25]), 4),  # some ties
            "box": [round(v, 1) for v in (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)],
        })
    return out


def _hand_cases() -> list[dict]:
    def det(class_id: int, score: float, box: list[float]) -> dict:
        return {"class": CLASSES[class_id], "class_id": class_id, "score": score, "box": box}

    return [
        {"name": "nothing", "candidates": [], "conf": 0.25, "iou": 0.45, "allowed": None},
        {"name": "IoU exactly at the threshold is kept", "conf": 0.1, "iou": 0.5, "allowed": None,
         "candidates": [det(0, 0.9, [0, 0, 10, 10]), det(0, 0.8, [0, 0, 10, 5])]},
        {"name": "just over the threshold goes", "conf": 0.1, "iou": 0.49, "allowed": None,
         "candidates": [det(0, 0.9, [0, 0, 10, 10]), det(0, 0.8, [0, 0, 10, 5])]},
        {"name": "another class never suppresses", "conf": 0.1, "iou": 0.1, "allowed": None,
         "candidates": [det(0, 0.9, [0, 0, 10, 10]), det(1, 0.8, [0, 0, 10, 10])]},
        {"name": "equal scores keep the first", "conf": 0.1, "iou": 0.3, "allowed": None,
         "candidates": [det(2, 0.5, [5, 5, 15, 15]), det(2, 0.5, [5, 5, 15, 15]),
                        det(2, 0.5, [100, 100, 110, 110])]},
        {"name": "score equal to conf is kept", "conf": 0.5, "iou": 0.45, "allowed": None,
         "candidates": [det(0, 0.5, [0, 0, 10, 10]), det(0, 0.4999, [50, 50, 60, 60])]},
        {"name": "zero-area boxes", "conf": 0.1, "iou": 0.0, "allowed": None,
         "candidates": [det(0, 0.9, [5, 5, 5, 5]), det(0, 0.8, [5, 5, 5, 5]),
                        det(0, 0.7, [0, 0, 10, 10])]},
        {"name": "no class allowed", "conf": 0.1, "iou": 0.45, "allowed": [],
         "candidates": [det(0, 0.9, [0, 0, 10, 10])]},
        {"name": "a chain: A hides B, so C (overlapping only B) stays", "conf": 0.1, "iou": 0.3,
         "allowed": None,
         "candidates": [det(0, 0.9, [0, 0, 10, 10]), det(0, 0.8, [4, 0, 14, 10]),
                        det(0, 0.7, [8, 0, 18, 10])]},
        {"name": "a class's own confidence above the global one", "conf": 0.2, "iou": 0.45,
         "allowed": None, "class_conf": {"dog": 0.6},
         "candidates": [det(1, 0.5, [0, 0, 10, 10]), det(0, 0.5, [0, 0, 10, 10]),
                        det(1, 0.7, [50, 50, 60, 60])]},
        {"name": "a class's own confidence below the global one", "conf": 0.6, "iou": 0.45,
         "allowed": None, "class_conf": {"cat": 0.1},
         "candidates": [det(2, 0.15, [0, 0, 10, 10]), det(0, 0.15, [20, 20, 30, 30])]},
        {"name": "own confidence exactly reached is kept", "conf": 0.9, "iou": 0.45,
         "allowed": None, "class_conf": {"car": 0.3},
         "candidates": [det(3, 0.3, [0, 0, 10, 10]), det(3, 0.2999, [20, 20, 30, 30])]},
        {"name": "a box below its own confidence suppresses nothing", "conf": 0.1, "iou": 0.3,
         "allowed": None, "class_conf": {"person": 0.85},
         "candidates": [det(0, 0.8, [0, 0, 10, 10]), det(0, 0.9, [30, 0, 40, 10]),
                        det(0, 0.7, [2, 0, 12, 10])]},
        {"name": "own confidence of an unticked class", "conf": 0.1, "iou": 0.45,
         "allowed": ["person"], "class_conf": {"dog": 0.05},
         "candidates": [det(1, 0.9, [0, 0, 10, 10]), det(0, 0.2, [20, 20, 30, 30])]},
    ]  # fmt: skip


def build_cases() -> list[dict]:
    rng = random.Random(9)
    cases = _hand_cases()
    for i in range(24):
        candidates = _random_candidates(rng, rng.choice([5, 12, 30]))
        allowed = None if i % 3 else sorted(rng.sample(CLASSES, 2))
        cases.append({
            "name": f"random {i}",
            "candidates": candidates,
            "conf": rng.choice([0.05, 0.25, 0.5, 0.8]),
            "iou": rng.choice([0.1, 0.3, 0.45, 0.7, 0.9]),
            "allowed": allowed,
        })
    rng = random.Random(13)  # per-class confidences, after the earlier cases (kept stable)
    for i in range(12):
        candidates = _random_candidates(rng, rng.choice([12, 30]))
        own = rng.sample(CLASSES, rng.choice([1, 2, 3]))
        cases.append({
            "name": f"random per-class {i}",
            "candidates": candidates,
            "conf": rng.choice([0.05, 0.25, 0.5]),
            "iou": rng.choice([0.3, 0.45, 0.7]),
            "allowed": None if i % 4 else sorted(rng.sample(CLASSES, 3)),
            "class_conf": {name: rng.choice([0.05, 0.3, 0.5, 0.75]) for name in own},
        })  # fmt: skip
    for case in cases:
        case["kept"] = _kept_indices(case)
    return cases


def test_the_fixture_is_what_python_refilter_does():
    cases = json.loads(FIXTURE.read_text())
    assert len(cases) >= 30
    for case in cases:
        assert _kept_indices(case) == case["kept"], case["name"]


def test_the_fixture_exercises_suppression():
    """Cases where NMS removes boxes, and where a class filter does: else it proves little."""
    cases = json.loads(FIXTURE.read_text())
    nms_cut = [c for c in cases if c["allowed"] is None and
               len(c["kept"]) < sum(d["score"] >= c["conf"] for d in c["candidates"])]
    assert len(nms_cut) >= 8
    assert any(c["allowed"] and c["kept"] for c in cases)


def test_the_fixture_exercises_per_class_confidences():
    """Cases where a class's own confidence changes what is kept, both up and down."""
    cases = [c for c in json.loads(FIXTURE.read_text()) if c.get("class_conf")]
    changed = sum(_kept_indices({**c, "class_conf": None}) != c["kept"] for c in cases)
    assert len(cases) >= 15 and changed >= 8


def test_class_colours_are_what_the_server_draws():
    for case in json.loads(COLOURS.read_text()):
        assert list(class_colour(case["class_id"])) == case["rgb"]


if __name__ == "__main__":
    FIXTURE.parent.mkdir(exist_ok=True)
    COLOURS.write_text(json.dumps([{"class_id": i, "rgb": list(class_colour(i))}
                                   for i in range(0, 80, 3)]) + "\n")
    FIXTURE.write_text("[\n" + ",\n".join(json.dumps(c) for c in build_cases()) + "\n]\n")
    print(f"wrote {FIXTURE}")
