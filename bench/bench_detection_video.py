"""Video throughput: our YOLOv3-tiny at 416 against OpenCV DNN on the same decoded frames.

    .venv/bin/python bench/bench_detection_video.py [--threads 2] [--frames 48] [--repeats 3]

A clip is made here (scikit-learn's china.jpg at 640x360 with the oranges crop sliding
across it, H.264 via PyAV), decoded once with PyAV (timed on its own), and every
contender goes through all its frames, whole pipeline per frame: letterbox, network,
best class x objectness >= 0.25, per-class NMS at 0.45, boxes back to the frame.

- ours: `Detector.detect` on PIL frames, batch 1 and batch 8, in float32 and (on a CPU
  with native bfloat16, what the worker's video mode uses: `detection/videojob.py`) in
  bfloat16; the bfloat16 boxes are checked against float32's (same classes, IoU, scores);
- OpenCV: `blobFromImagesWithParams` (letterbox) + `Net.forward` + numpy + `NMSBoxesBatched`
  (bench_detection.OpenCVYolo), batch 1 and batch 8.

Contenders run interleaved, a whole pass over the clip each, `--repeats` times; the table
shows the median frames per second and ours / OpenCV (above 1: we are faster). The
worker's own rate with drawing and VP9 encoding is printed after, for the record.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench_detection.py

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.datasets import load_sample_image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_detection import CONF, IOU, OpenCVYolo  # noqa: E402

from detection.annotate import annotate  # noqa: E402
from detection.video import ClipWriter, encode_clip, read_frames  # noqa: E402
from detection.yolo import MODEL_CARD, Detector, bf16_supported, box_iou  # noqa: E402
from webapp.modelfiles import model_path  # noqa: E402


def make_clip(frames: int) -> bytes:
    """640x360 frames: a real photo with the oranges crop sliding across it."""
    background = np.array(Image.fromarray(load_sample_image("china.jpg")).resize((640, 360)))
    flower = Image.fromarray(load_sample_image("flower.jpg")).transpose(Image.FLIP_LEFT_RIGHT)
    patch = np.array(flower.crop((240, 0, 400, 160)).resize((200, 200)))
    out = []
    for i in range(frames):
        frame = background.copy()
        x = 10 + (i * 420) // max(frames - 1, 1)
        frame[120:320, x : x + 200] = patch
        out.append(frame)
    return encode_clip(out, 30)


def run_ours(detector: Detector, pil: list[Image.Image], batch: int) -> int:
    found = 0
    for start in range(0, len(pil), batch):
        chunk = pil[start : start + batch]
        found += sum(map(len, detector.detect(chunk, CONF, IOU, batch_size=batch)))
    return found


def run_opencv(peer: OpenCVYolo, bgr: list[np.ndarray], batch: int) -> int:
    found = 0
    for start in range(0, len(bgr), batch):
        chunk = bgr[start : start + batch]
        rows = peer.forward(peer.preprocess(chunk))
        found += sum(
            len(peer.postprocess(r, f.shape[:2])) for r, f in zip(rows, chunk, strict=True)
        )
    return found


def agreement(fp32: Detector, bf16: Detector, pil: list[Image.Image]) -> str:
    """How bfloat16's boxes compare with float32's on these frames, at a low floor: each
    float32 box against the bfloat16 box of its class that overlaps it most."""
    pairs, unmatched, worst_score, worst_iou = 0, 0, 0.0, 1.0
    for a, b in zip(fp32.detect(pil, 0.05, IOU), bf16.detect(pil, 0.05, IOU), strict=True):
        for p in a:
            same = [q for q in b if q.class_id == p.class_id]
            if not same:
                unmatched += 1
                continue
            ious = box_iou(torch.tensor([p.box]), torch.tensor([q.box for q in same]))[0]
            best = int(ious.argmax())
            if float(ious[best]) < 0.5:
                unmatched += 1
                continue
            pairs += 1
            worst_iou = min(worst_iou, float(ious[best]))
            worst_score = max(worst_score, abs(p.score - same[best].score))
    return (
        f"bfloat16 vs float32 at score >= 0.05: {pairs} float32 boxes have a bfloat16 box of "
        f"their class (IoU >= {worst_iou:.3f}, scores within {worst_score:.4f}); {unmatched} "
        "have none (a score crossing the 0.05 floor, or NMS choosing the other of two boxes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    files = [model_path(n) for n in (MODEL_CARD.cfg, MODEL_CARD.weights, MODEL_CARD.names)]
    detector = Detector.from_files(*files)
    ours = {"float32": detector}
    if bf16_supported():
        ours["bfloat16"] = Detector.from_files(*files, bf16=True)
    peer = OpenCVYolo(files[0], files[1])

    clip = make_clip(args.frames)
    started = time.perf_counter()
    rgb = [frame for _, _, frame in read_frames(clip, "bench.mp4")]
    decode_s = time.perf_counter() - started
    pil = [Image.fromarray(f) for f in rgb]
    bgr = [np.ascontiguousarray(f[:, :, ::-1]) for f in rgb]

    contenders = {}
    for batch in (1, 8):
        for name, d in ours.items():
            contenders[(f"ours {name}", batch)] = lambda d=d, b=batch: run_ours(d, pil, b)
        contenders[("opencv", batch)] = lambda b=batch: run_opencv(peer, bgr, b)
    counts = {key: fn() for key, fn in contenders.items()}  # warm-up, and what each finds
    samples: dict[tuple[str, int], list[float]] = {key: [] for key in contenders}
    for _ in range(args.repeats):
        for key, fn in contenders.items():
            start = time.perf_counter()
            fn()
            samples[key].append(time.perf_counter() - start)
    fps = {key: len(rgb) / statistics.median(s) for key, s in samples.items()}

    load = os.getloadavg()
    print(
        f"# {platform.machine()}, {args.threads} threads, torch {torch.__version__}, "
        f"OpenCV {cv2.__version__}, PyAV decode {len(rgb) / decode_s:.0f} frames/s, "
        f"{len(rgb)} frames 640x360, {args.repeats} repeats, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores\n"
    )
    print("| batch | contender | frames/s | ours / OpenCV | boxes found |")
    print("|---|---|---|---|---|")
    for (name, batch), rate in fps.items():
        ratio = "" if name == "opencv" else f"{rate / fps[('opencv', batch)]:.2f}"
        print(f"| {batch} | {name} | {rate:.1f} | {ratio} | {counts[(name, batch)]} |")
    if "bfloat16" in ours:
        print("\n" + agreement(ours["float32"], ours["bfloat16"], pil))

    # The worker's whole video pipeline, for the record: detect in batches of 8, draw, encode.
    started = time.perf_counter()
    writer = ClipWriter(640, 360, 30)
    worker_detector = ours.get("bfloat16", detector)
    for start in range(0, len(pil), 8):
        chunk = pil[start : start + 8]
        found = worker_detector.detect(chunk, CONF, IOU, batch_size=8)
        for image, dets in zip(chunk, found, strict=True):
            writer.write(np.asarray(annotate(image, dets)))
    size = len(writer.close())
    worker_fps = len(pil) / (time.perf_counter() - started)
    print(
        f"\nworker pipeline (batch 8 + drawing + VP9): {worker_fps:.1f} frames/s, clip {size:,} B"
    )


if __name__ == "__main__":
    main()
