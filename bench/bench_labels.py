"""What a COCO label file costs the web process: CPU seconds of the form's label check
(`detection.labels.label_files` + `read_labels`, all the detection form does with labels)
for the hostile files of issue 21, beside Python's own `json.loads` on the same bytes.

    .venv/bin/python bench/bench_labels.py [--sizes 400000 2000000 20971520] [--repeats 3]
    .venv/bin/python bench/bench_labels.py --web [--sizes ...]

Each file is `{"images":[],"categories":[],"annotations":[0,0,0,…]}` grown to the size
(200,000 zeros at 400 KB), plus, at the largest size, one deeply nested file, one of long
numbers, one string of escaped quotes that never ends, and one with the most entries
allowed (50,000), each wrong and on its own line (every one checked, reported and given
its line number), and a YOLO text file of as many lines as fit, each a box outside the
picture. Prints the best of `--repeats`
CPU times (process time, one thread) and the ratio to `json.loads`.

`--web`: the whole request instead, against a real daphne (started as the tests start it)
on a throw-away database: a logged-in user posts the detection form with a picture and
each file as `labels`; prints the server process's CPU seconds for that request (its
utime + stime before and after) and the answer's status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
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


def unterminated(size: int) -> bytes:
    """A string that never ends, made of escaped quotes: each quote could open a string."""
    return HEAD + b'"' + b'\\"' * ((size - len(HEAD) - 1) // 2)


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


def file_name(data: bytes) -> str:
    """l.json for COCO, a.txt for YOLO lines (the picture is a.png)."""
    return "l.json" if data.startswith(b"{") else "a.txt"


def yolo_lines(size: int) -> bytes:
    """Lines of boxes outside the picture, filling `size`: each one a problem."""
    return b"0 2 2 2 2\n" * (size // 10)


def check(data: bytes) -> str:
    """What the detection form does with one label file: the answer's first problem."""
    limits = UploadLimits(max_bytes=len(data) + 1)
    try:
        files = label_files([(file_name(data), data)], limits)
        read_labels(files, [PictureSize("a.png", 640, 480)], ["person", "dog"])
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


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_web(cases: list[tuple[str, bytes]]) -> None:
    """Each case posted once through a real daphne; its CPU seconds for the request."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_load import Browser, small_png
    from localstack import setup_django, start_daphne, start_redis

    with tempfile.TemporaryDirectory() as tmp_name:
        redis, redis_url = start_redis(Path(tmp_name))
        try:
            env = setup_django(Path(tmp_name), redis_db=0, REDIS_URL=redis_url)
            from django.contrib.auth import get_user_model

            get_user_model().objects.create_user(username="labels", password="labels-pass-1")
            daphne, port = start_daphne(env)
            try:
                client = Browser(f"http://127.0.0.1:{port}")
                client.login("labels", "labels-pass-1")
                client.get("/detect/")  # first render: imports and caches
                picture = small_png()
                print(f"{'file':32} {'web CPU s':>10} {'wall s':>8}  status")
                for name, data in cases:
                    before, started = server_cpu_s(daphne.pid), time.perf_counter()
                    status = client.post_form(
                        "/detect/", {"conf": "0.25", "iou": "0.45"},
                        [("pictures", "a.png", picture), ("labels", file_name(data), data)],
                        timeout=3600,
                    )  # fmt: skip
                    wall = time.perf_counter() - started
                    print(f"{name:32} {server_cpu_s(daphne.pid) - before:10.2f} {wall:8.2f}  "
                          f"{status}", flush=True)  # fmt: skip
            finally:
                daphne.terminate()
                daphne.wait(30)
        finally:
            redis.terminate()
            redis.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[400_000, 2_000_000, 20 * 2**20])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--web", action="store_true", help="the whole request, on daphne")
    args = parser.parse_args()
    cases = [(f"zeros {size:,} B", zeros(size)) for size in args.sizes]
    largest = max(args.sizes)
    cases += [(f"nested [ {largest:,} B", nested(largest)),
              (f"401-digit numbers {largest:,} B", long_numbers(largest)),
              (f"unterminated string {largest:,} B", unterminated(largest)),
              ("50,000 wrong entries", wrong_annotations(largest)),
              (f"YOLO txt lines {largest:,} B", yolo_lines(largest))]  # fmt: skip
    cases = [(f"{name} {len(data):,} B" if name.startswith("50,000") else name, data)
             for name, data in cases]  # fmt: skip
    if args.web:
        measure_web(cases)
        return
    print(f"{'file':32} {'labels CPU s':>13} {'json.loads s':>13} {'ratio':>7}  answer")
    for name, data in cases:
        answer = check(data)
        ours = cpu(lambda d=data: check(d), args.repeats)
        if file_name(data) != "l.json":  # not JSON: no peer to compare with
            print(f"{name:32} {ours:13.3f} {'-':>13} {'-':>7}  {answer}")
            continue
        theirs = cpu(lambda d=data: stdlib(d), args.repeats)
        print(f"{name:32} {ours:13.3f} {theirs:13.3f} {ours / max(theirs, 1e-6):7.1f}  {answer}")


if __name__ == "__main__":
    main()
