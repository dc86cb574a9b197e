"""Region proposals and a two-stage detector against YOLO's one pass (course W3).

    .venv/bin/python bench/bench_detection_proposals.py [--threads 1] [--repeats 3]

On each picture (the 160 × 160 flower crop where YOLOv3-tiny sees oranges, and
scikit-learn's whole flower.jpg and china.jpg), `detection.proposals.compare` proposes
regions from a graph segmentation with hierarchical grouping, classifies each region by
its own network pass at 160 × 160, and runs YOLO once on the picture (the peer). For each
picture: the median of `--repeats` runs of each stage's wall time, the ratio to the one
pass, passes and multiply-adds of each way, and what each found.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_detection.py

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402
from sklearn.datasets import load_sample_image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detection.proposals import compare  # noqa: E402
from detection.yolo import MODEL_CARD, Detector  # noqa: E402
from webapp.modelfiles import model_path  # noqa: E402


def pictures() -> dict[str, Image.Image]:
    flower = Image.fromarray(load_sample_image("flower.jpg"))
    return {
        "oranges (flower crop, 160 × 160)": ImageOps.mirror(flower).crop((240, 0, 400, 160)),
        "flower.jpg (640 × 427)": flower,
        "china.jpg (640 × 427)": Image.fromarray(load_sample_image("china.jpg")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    detector = Detector.from_files(
        *(model_path(n) for n in (MODEL_CARD.cfg, MODEL_CARD.weights, MODEL_CARD.names))
    )
    print("| picture | proposals = passes | propose | classify | two stages | one pass | "
          "time ratio | multiply-adds two / one (ratio) | found: two / YOLO (both) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, picture in pictures().items():
        docs = [compare(detector, picture) for _ in range(args.repeats)]
        two, one = docs[0]["two_stage"], docs[0]["one_pass"]
        propose_s, classify_s, two_s = (
            statistics.median(d["two_stage"][k] for d in docs)
            for k in ("propose_seconds", "classify_seconds", "seconds")
        )
        one_s = statistics.median(d["one_pass"]["seconds"] for d in docs)
        ratio = docs[0]["mac_ratio"]
        macs = f"{two['macs'] / 1e9:.1f} G / {one['macs'] / 1e9:.2f} G ({ratio:.1f}×)"
        print(
            f"| {name} | {two['passes']} | {propose_s:.2f} s | {classify_s:.2f} s | {two_s:.2f} s"
            f" | {one_s * 1000:.0f} ms | {two_s / one_s:.0f}× | {macs}"
            f" | {len(two['detections'])} / {len(one['detections'])} ({docs[0]['yolo_found']}) |",
            flush=True,
        )

if __name__ == "__main__":
    main()
