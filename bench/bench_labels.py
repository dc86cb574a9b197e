"""What a COCO label file costs the web process: CPU seconds of the form's label check
(`detection.labels.label_files` + `read_labels`, all the detection form does with labels)
for the hostile files of issue 21, beside Python's own `json.loads` on the same bytes.

    .venv/bin/python bench/bench_labels.py [--sizes 400000 2000000 20971520] [--repeats 3]

Each file is `{"images":[],"categories":[],"annotations":[0,0,0,…]}` grown to the size
(200,000 zeros at 400 KB), plus, at the largest size, one deeply nested file, one of long
numbers, and one with the most entries allowed (50,000), each wrong and on its own line
(every one checked, reported and given its line number). Prints the best of `--repeats`
CPU times (process time, one thread) and the ratio to `json.loads`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detection.labels import LabelError, PictureSize, label_files, read_labels  # noqa: E402
from webapp.pictures import UploadLimits  # noqa: E402

HEAD = b'{"images":[],"categories":[],"annotations":['


def zeros(size: int) -> bytes:
    """The issue's payload: a list of zeros filling `size` bytes."""
    count = max(1, (size - len(HEAD) - 2) // 2)
    return HEAD + b",".join([b"0"] * count) + b"]}"


def nested(size: int) -> bytes:
    return HEAD + b"[" * (size - len(HEAD))


def long_numbers(size: int) -> bytes:
    number = b"1" * 401
    return HEAD + b",".join([number] * max(1, (size - len(HEAD)) // 402)) + b"]}"


def wrong_annotations(size: int, count: int = 50_000) -> bytes:
    """The most entries a file may hold, each wrong, one a line, padded to `size`: every
    one is looked at and reported with its line."""
    row = '{"image_id": 7, "category_id": 1, "bbox": [1, 1, 2, 2], "pad": "%s"}'
    pad = "x" * max(0, (size - len(HEAD) - 2) // count - len(row % "") - 2)
    rows = [row % pad for _ in range(count)]
    return HEAD + ",\n".join(rows).encode() + b"]}"


def cpu(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def check(data: bytes) -> str:
    """What the detection form does with one label file: the answer's first problem."""
    limits = UploadLimits(max_bytes=len(data) + 1)
    try:
        files = label_files([("l.json", data)], limits)
        read_labels(files, [PictureSize("photo.jpg", 640, 480)], ["person", "dog"])
    except LabelError as exc:
        return exc.problems[0][:70]
    except Exception as exc:  # what the web process would answer with a 500
        return f"500: {type(exc).__name__}"
    return "accepted"


def stdlib(data: bytes) -> None:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[400_000, 2_000_000, 20 * 2**20])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cases = [(f"zeros {size:,} B", zeros(size)) for size in args.sizes]
    largest = max(args.sizes)
    cases += [(f"nested [ {largest:,} B", nested(largest)),
              (f"401-digit numbers {largest:,} B", long_numbers(largest)),
              (f"50,000 wrong entries {largest:,} B", wrong_annotations(largest))]  # fmt: skip
    print(f"{'file':32} {'labels CPU s':>13} {'json.loads s':>13} {'ratio':>7}  answer")
    for name, data in cases:
        answer = check(data)
        ours = cpu(lambda d=data: check(d), args.repeats)
        theirs = cpu(lambda d=data: stdlib(d), args.repeats)
        print(f"{name:32} {ours:13.3f} {theirs:13.3f} {ours / max(theirs, 1e-6):7.1f}  {answer}")


if __name__ == "__main__":
    main()
