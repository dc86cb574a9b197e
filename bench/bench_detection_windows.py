"""Sliding windows against one convolutional pass (course W3): the measured speed-up.

    .venv/bin/python bench/bench_detection_windows.py [--threads 2] [--repeats 3]

On the same picture (scikit-learn's china.jpg, letterboxed to 416) and the same 13 x 13
grid of YOLOv3-tiny's coarsest head, `detection.windows.compare` classifies every cell
the slow way – a window cropped around it, the network run on each of the 169 windows, in
batches of 32 – and from one convolutional pass. For each window side we report the
median of `--repeats` runs: wall time of each way, their ratio (the speed-up of the
convolutional pass), multiply-adds counted from the conv layers' shapes and their ratio,
and how far the two maps agree.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_detection.py

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.datasets import load_sample_image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detection.windows import WINDOWS, compare  # noqa: E402
from detection.yolo import MODEL_CARD, Detector  # noqa: E402
from webapp.modelfiles import model_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = [model_path(n) for n in (MODEL_CARD.cfg, MODEL_CARD.weights, MODEL_CARD.names)]
    detector = Detector.from_files(*files)
    picture = Image.fromarray(load_sample_image("china.jpg"))
    load = os.getloadavg()
    print(f"# {args.threads} threads, torch {torch.__version__}, {args.repeats} repeats, "
          f"load average {load[0]:.1f} on {os.cpu_count()} cores\n")  # fmt: skip
    print("| window | windows | sliding s | conv pass ms | speed-up | sliding GMAC | conv GMAC "
          "| MAC ratio | same best class | max objectness gap |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for window in WINDOWS:
        runs = [compare(detector, picture, window=window) for _ in range(args.repeats)]
        slow = statistics.median(r["sliding"]["seconds"] for r in runs)
        fast = statistics.median(r["conv"]["seconds"] for r in runs)
        r = runs[0]
        print(f"| {window} | {r['windows']} | {slow:.2f} | {1000 * fast:.0f} | {slow / fast:.1f} "
              f"| {r['sliding']['macs'] / 1e9:.1f} | {r['conv']['macs'] / 1e9:.2f} "
              f"| {r['mac_ratio']:.1f} | {100 * r['same_best']:.0f}% "
              f"| {r['max_objectness_gap']:.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
