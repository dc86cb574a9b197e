"""The teachable page's training step on the worker, engine only: 3 classes × 30
pictures (camera-sized 128 px JPEGs) decoded through webapp.pictures, made 32 px, and a
new head trained on frozen VGG19 features (cut 2, 12 epochs) – what playground/teachjob.py
does between "train" and "ready", without the queue and the upload.

    PYTHONPATH=. .venv/bin/python bench/bench_teach.py [--threads 2]

The end-to-end time (click -> usable model, live round trips) is printed by
tests/browser/test_teach.py (`pytest -s`), which runs the real stack.
"""

import argparse
import io
import time

import numpy as np
import torch
from PIL import Image

from playground.datasets import split_per_class
from playground.transfer.engine import FeatureCache, TransferConfig, transfer_build, transfer_train
from webapp.pictures import UploadLimits, read_picture


def camera_jpegs(classes: int = 3, per_class: int = 30) -> list[tuple[bytes, int]]:
    rng = np.random.default_rng(0)
    shots = []
    for label in range(classes):
        base = rng.integers(0, 255, 3)
        for _ in range(per_class):
            pixels = np.clip(base + rng.normal(0, 40, (128, 128, 3)), 0, 255).astype(np.uint8)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
            shots.append((buffer.getvalue(), label))
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shots = camera_jpegs()
    start = time.perf_counter()
    xs = []
    for data, _ in shots:
        image = read_picture(data, "frame.jpg", UploadLimits()).image.resize((32, 32))
        xs.append(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float() / 255)
    x, y = torch.stack(xs), torch.tensor([label for _, label in shots])
    decoded = time.perf_counter() - start
    data = split_per_class("teach", ["a", "b", "c"], x, y, 0.2, 0)
    config = TransferConfig(mode="frozen", cut=2, image_size=32, epochs=12, batch_size=16, lr=2e-3)
    net = transfer_build(config, 3, input_channels=3)
    built = time.perf_counter() - start
    result = transfer_train(net, data, FeatureCache())
    total = time.perf_counter() - start
    print(f"3 × 30 pictures: decode {decoded:.2f} s, VGG19 load {built - decoded:.2f} s, "
          f"train {total - built:.2f} s, total {total:.2f} s (val acc {result.val_accuracy:.2f})")


if __name__ == "__main__":
    main()
