"""The parts of `make gpu-check` that need no GPU: the engines import on a bare Python
(the GPU machine's: no Django, Celery or Redis), and final boxes are matched fairly."""

from __future__ import annotations

import subprocess
import sys

from bench.gpu_check import DET_SCORE_ATOL, ROOT, match_detections
from detection.yolo import Detection

# Makes Django, Celery, kombu, channels and redis unimportable (as if not installed),
# then imports what the engine half of the check imports, as the check does.
BARE_PYTHON = """
import sys
for name in ("django", "celery", "kombu", "channels", "redis"):
    sys.modules[name] = None  # `import name` raises ImportError, find_spec says None
sys.argv = ["gpu_check.py"]
import bench.gpu_check as check
check.import_engines_without_celery()
for module in check.ENGINE_MODULES:
    __import__(module)
row = check.imports_row()
print("OK" if row.ok and row.data["pulled_in"] == [] else f"BAD {row}")
"""


def test_the_engines_import_where_django_and_celery_are_not_installed():
    done = subprocess.run(
        [sys.executable, "-c", BARE_PYTHON], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "OK", done.stdout + done.stderr


# The worker half carries the worker's packages but not PyAV or pycocotools (bench/gpu_wheels.sh:
# together they would pass the carry limit): a worker must start, and run a pictures job's
# modules, without them; clips and labelled jobs import them when they come.
WORKER_WITHOUT_AV = """
import os, sys
for name in ("av", "pycocotools"):
    sys.modules[name] = None
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
import django
django.setup()
import detection.worker, styletransfer.worker
import playground.train.worker, playground.transfer.worker
import playground.explain.worker, playground.teach.worker
print("OK")
"""


def test_a_worker_starts_without_the_packages_the_gpu_carry_leaves_out():
    done = subprocess.run(
        [sys.executable, "-c", WORKER_WITHOUT_AV], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "OK", done.stdout + done.stderr


def box(score: float, x: float = 10, cls: int = 0) -> Detection:
    return Detection(cls, "person", score, (x, 10.0, x + 50, 60.0))


def test_matching_boxes_agree_and_a_missing_one_is_named():
    assert match_detections([box(0.8)], [box(0.805)], conf=0.25) == []
    assert match_detections([], [box(0.8)], conf=0.25) == [
        "CUDA lacks person 0.800 at (10, 10.0, 60, 60.0)"
    ]
    assert match_detections([box(0.8, x=40)], [box(0.8)], conf=0.25)  # moved: IoU too low
    assert match_detections([box(0.8, cls=1)], [box(0.8)], conf=0.25)  # another class


def test_a_box_on_the_threshold_may_flip_between_devices():
    borderline = box(0.25 + DET_SCORE_ATOL / 2)
    assert match_detections([], [borderline], conf=0.25) == []
    assert match_detections([borderline], [], conf=0.25) == []


def test_the_check_exits_1_on_a_disagreement_and_writes_its_report(monkeypatch, tmp_path):
    import json

    import bench.gpu_check as check

    monkeypatch.delenv("OUT", raising=False)
    # pytest-django has configured Django in this process: the import check is the bare
    # Python test's above
    monkeypatch.setattr(check, "imports_row", lambda: check.Row("imports", "i", ok=True))
    monkeypatch.setattr(check, "detection_rows", lambda sizes: [])
    monkeypatch.setattr(check, "playground_rows", lambda sizes: [])
    report = tmp_path / "report.json"
    args = ["--quick", "--part", "engines", "--json", str(report)]

    monkeypatch.setattr(check, "style_rows", lambda sizes: [check.Row("style", "a", ok=True)])
    assert check.main(args) == 0
    skipped = check.Row("style", "b", skipped="no CUDA")
    monkeypatch.setattr(check, "style_rows", lambda sizes: [skipped])
    assert check.main(args) == 0
    assert check.main([*args, "--strict"]) == 1  # the GPU machine's run: nothing may skip
    monkeypatch.setattr(check, "style_rows", lambda sizes: [check.Row("style", "c", ok=False)])
    assert check.main(args) == 1
    written = json.loads(report.read_text())
    assert written["ok"] is False
    assert [r["what"] for r in written["rows"]] == ["i", "c"]
