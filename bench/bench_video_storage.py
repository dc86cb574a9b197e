"""What a video job stores: each file's bytes for a clip, through the worker's own loop.

    .venv/bin/python bench/bench_video_storage.py [--seconds 60] [--fps 30] [--size 1280x720]

A clip is made here (scikit-learn's china.jpg, panned like a moving camera, with the
oranges crop sliding across it; H.264 via PyAV) and goes through
`detection.videojob.run_video` (YOLOv3-tiny, bfloat16 where native, batches of 8) with a
stand-in for the job's context that keeps the files in memory. Prints each stored file's
size, the candidates per frame and the bytes per stored box.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import django
import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django.setup()  # detection.videojob imports the worker, which imports the job models

from detection import videojob  # noqa: E402
from detection.modelcard import model_card_for  # noqa: E402
from detection.video import VideoLimits, encode_clip, probe_video  # noqa: E402
from detection.yolo import MODEL_CARD, Detector, bf16_supported  # noqa: E402
from webapp.modelfiles import model_path  # noqa: E402


class PannedScene(Sequence):
    """The clip's frames, each made when asked (a minute of them would not fit in memory)."""

    def __init__(self, frames: int, width: int, height: int):
        self.frames, self.width, self.height = frames, width, height
        scene = Image.fromarray(load_sample_image("china.jpg"))
        self.scene = np.array(scene.resize((width * 3 // 2, height * 3 // 2)))
        flower = Image.fromarray(load_sample_image("flower.jpg")).transpose(Image.FLIP_LEFT_RIGHT)
        self.side = height // 2
        self.patch = np.array(flower.crop((240, 0, 400, 160)).resize((self.side, self.side)))

    def __len__(self) -> int:
        return self.frames

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < self.frames:
            raise IndexError(i)
        w, h, side = self.width, self.height, self.side
        t = i / max(self.frames - 1, 1)
        dx, dy = round(t * w / 2), round(abs(np.sin(t * np.pi)) * h / 2)
        frame = self.scene[dy : dy + h, dx : dx + w].copy()
        x = round(t * (w - side))
        frame[h // 4 : h // 4 + side, x : x + side] = self.patch
        return frame


class Context:
    """What run_video uses of a JobContext, with the files kept in memory."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def report(self, *args, **kwargs) -> None:
        pass

    def should_stop(self) -> bool:
        return False

    def save_file(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"/files/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--size", default="1280x720")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    data = encode_clip(PannedScene(round(args.seconds * args.fps), width, height), args.fps)
    limits = VideoLimits(max_bytes=2**31)  # a camera's clip may be larger than our pan
    info = probe_video(data, "bench.mp4", limits)
    paths = [model_path(n) for n in (MODEL_CARD.cfg, MODEL_CARD.weights, MODEL_CARD.names)]
    detector = Detector.from_files(*paths, bf16=bf16_supported())
    request = videojob.VideoRequest(
        model=model_card_for(None), conf=0.25, iou=0.45, classes=[], class_conf={},
        batch_size=8, name="bench.mp4", data=data, info=info, limits=limits,
    )  # fmt: skip
    ctx = Context()
    start = time.monotonic()
    result = videojob.run_video(ctx, detector, request)
    took = time.monotonic() - start
    frames = result["video"]["frames"]
    stored = json.loads(ctx.files["candidates.json"])["frames"]
    boxes = sum(len(f) // 6 for f in stored)
    print(f"clip: {info.width}x{info.height}, {info.fps:g} fps, {frames} frames, "
          f"{len(data):,} bytes uploaded")  # fmt: skip
    print(f"worker: {took:.0f} s ({frames / took:.1f} frames/s) on {detector.dtype}")
    for name, blob in sorted(ctx.files.items()):
        print(f"{name:24s} {len(blob):>12,} bytes")
    per_box = (len(ctx.files["candidates.json"]) - 20 * frames) / max(boxes, 1)
    print(f"candidates: {boxes / frames:.1f} a frame (at most {videojob.VIDEO_CANDIDATES}), "
          f"about {per_box:.0f} bytes a box")  # fmt: skip


if __name__ == "__main__":
    main()
