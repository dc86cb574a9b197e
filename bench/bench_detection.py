"""Our Darknet models against OpenCV DNN 4.x: same weights, same pictures, same CPU, same run.

    .venv/bin/python bench/bench_detection.py [--threads 2] [--repeats 20] [--no-compiled]
        [--model yolov3-tiny --model yolov4-tiny]   (default: every installed model)

Per model, first the agreement on both photos: the largest difference of the raw outputs
(every anchor box, boxes, objectness and class scores, OpenCV's class columns being
objectness x p(class)) and whether the final boxes (score >= 0.02, NMS 0.45) are the same.

Stages are timed separately and interleaved (ours, OpenCV, ours, ...) so that load from
other processes hits both alike; we report medians and the ratio OpenCV time / our time
(above 1: we are faster). Batch 1 is the latency of one 416x416 picture; batch 8 is
throughput. Preprocessing is each side's letterbox (ours: PIL; OpenCV: blobFromImage with
letterbox padding); postprocessing is best class x objectness, threshold 0.25, per-class
NMS at 0.45 and mapping boxes back to the picture (ours: `detection.yolo`; OpenCV: numpy
and `cv2.dnn.NMSBoxesBatched`).
"""

from __future__ import annotations

import os

# Idle OpenMP threads must sleep, not spin: on a shared CPU spinning threads steal the
# cores the busy ones need (PyTorch ran ~5x slower with two threads here under load).
# libgomp reads this when torch is imported, so it is set first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.datasets import load_sample_image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detection.modelcard import MODELS, ModelCard  # noqa: E402
from detection.yolo import Detector, Letterbox, bf16_supported, select  # noqa: E402
from webapp.modelfiles import ModelFileError, model_path  # noqa: E402

CONF, IOU, SIZE = 0.25, 0.45, 416
STAGES = ("preprocess", "network", "postprocess")


class OpenCVYolo:
    """The peer: OpenCV's own Darknet importer, letterbox and NMS."""

    def __init__(self, cfg: Path, weights: Path):
        self.net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
        self.outputs = self.net.getUnconnectedOutLayersNames()
        self.params = cv2.dnn.Image2BlobParams()
        self.params.scalefactor = (1 / 255, 1 / 255, 1 / 255, 0)  # one per channel
        self.params.size = (SIZE, SIZE)
        self.params.swapRB = True
        self.params.ddepth = cv2.CV_32F
        self.params.paddingmode = cv2.dnn.DNN_PMODE_LETTERBOX
        self.params.borderValue = (128, 128, 128, 0)

    def preprocess(self, pictures_bgr: list[np.ndarray]) -> np.ndarray:
        return cv2.dnn.blobFromImagesWithParams(pictures_bgr, self.params)

    def forward(self, blob: np.ndarray) -> np.ndarray:
        self.net.setInput(blob)
        heads = self.net.forward(self.outputs)  # (B, n, 85) each; (n, 85) when B is 1
        return np.concatenate([h.reshape(len(blob), -1, h.shape[-1]) for h in heads], axis=1)

    def postprocess(self, rows: np.ndarray, shape: tuple[int, int]) -> list:
        # OpenCV's class columns are already objectness x p(class).
        scores = rows[:, 5:].max(1)
        keep = scores >= CONF
        rows, scores = rows[keep], scores[keep]
        classes = rows[:, 5:].argmax(1)
        xywh = np.concatenate([rows[:, :2] - rows[:, 2:4] / 2, rows[:, 2:4]], axis=1) * SIZE
        kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), classes.tolist(), CONF, IOU)
        rects = [tuple(int(v) for v in xywh[i]) for i in np.asarray(kept).ravel()]
        return self.params.blobRectsToImageRects(rects, shape[::-1]) if rects else []


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median milliseconds of each callable, run in turn `repeats` times after a warm-up."""
    for fn in contenders.values():
        fn()
        fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(s) for name, s in samples.items()}


def ours_post(detector: Detector, raw: torch.Tensor, boxes_back: list[Letterbox]) -> list:
    out = []
    for rows, lb in zip(raw, boxes_back, strict=True):
        boxes, _, _ = select(rows, net_size=detector.net_size, conf=CONF, iou=IOU)
        out.append(lb.to_picture(boxes))
    return out


def stage_contenders(
    ours: dict[str, Detector], peer: OpenCVYolo, pil: list[Image.Image], bgr: list[np.ndarray]
) -> list[tuple[str, dict[str, Callable[[], object]]]]:
    """For each stage, the calls to time: each side on its own input to that stage."""
    eager = ours["eager"]
    x, boxes_back = eager.preprocess(pil)
    raw = eager.forward(x)
    blob = peer.preprocess(bgr)
    peer_raw = peer.forward(blob)
    network = {f"ours-{k}": (lambda d=d: d.forward(x)) for k, d in ours.items()}
    pre = {"ours": lambda: eager.preprocess(pil), "opencv": lambda: peer.preprocess(bgr)}
    post = {
        "ours": lambda: ours_post(eager, raw, boxes_back),
        "opencv": lambda: [
            peer.postprocess(r, p.shape[:2]) for r, p in zip(peer_raw, bgr, strict=True)
        ],
    }
    return [
        ("preprocess", pre),
        ("network", {**network, "opencv": lambda: peer.forward(blob)}),
        ("postprocess", post),
    ]


def agreement(detector: Detector, files: list[Path], pil: list[Image.Image]) -> tuple[float, bool]:
    """(largest raw difference, same final boxes) of our float32 net and OpenCV's on `pil`."""
    with tempfile.TemporaryDirectory() as tmp:  # OpenCV zeroes class scores under thresh 0.2
        cfg = Path(tmp) / files[0].name
        cfg.write_text(files[0].read_text().replace("[yolo]", "[yolo]\nthresh=0"))
        peer = OpenCVYolo(cfg, files[1])
    worst, same = 0.0, True
    for picture in pil:
        x, _ = detector.preprocess([picture])
        rows = detector.forward(x)[0].float()  # (N, 5 + C), classes as p(class)
        ours = torch.cat([rows[:, :5], rows[:, 5:] * rows[:, 4:5]], dim=1).numpy()
        ref = peer.forward(x.numpy())[0]  # classes as objectness x p(class)
        worst = max(worst, float(np.abs(ours - ref).max()))
        boxes, _, classes = select(rows, net_size=detector.net_size, conf=0.02, iou=IOU)
        ref = ref[ref[:, 5:].max(1) >= 0.02]
        ref_scores, ref_classes = ref[:, 5:].max(1), ref[:, 5:].argmax(1)
        xywh = np.concatenate([ref[:, :2] - ref[:, 2:4] / 2, ref[:, 2:4]], axis=1) * SIZE
        kept = cv2.dnn.NMSBoxesBatched(xywh.tolist(), ref_scores.tolist(),
                                       ref_classes.tolist(), 0.02, IOU)  # fmt: skip
        kept = sorted(np.asarray(kept).ravel().tolist(), key=lambda i: -ref_scores[i])
        ref_boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)[kept]
        same &= len(kept) == len(boxes) and bool(
            (classes.numpy() == ref_classes[kept]).all()
            and np.allclose(boxes.numpy(), ref_boxes, atol=0.05)
        )
    return worst, same


def bench_model(card: ModelCard, args: argparse.Namespace, pil, bgr) -> dict:
    """One model's agreement with OpenCV and its stage times; prints its stage table."""
    files = [model_path(n) for n in (card.cfg, card.weights, card.names)]
    ours = {"eager": Detector.from_files(*files)}
    if not args.no_compiled:
        ours["compiled"] = Detector.from_files(*files, compiled=True)
    if bf16_supported():  # native bfloat16 (AVX512-BF16/AMX): what the video mode uses
        ours["bf16"] = Detector.from_files(*files, bf16=True)
    peer = OpenCVYolo(files[0], files[1])

    # Same input tensor, same answer: the networks agree before we time them.
    worst, same = agreement(ours["eager"], files, pil)
    batch, _ = ours["eager"].preprocess(pil[:1])
    for name, detector in ours.items():
        np.testing.assert_allclose(
            detector.forward(batch)[:, :, :5].float().numpy(),
            peer.forward(batch.numpy())[:, :, :5],
            atol=1e-4 if name != "bf16" else 5e-2,  # bfloat16 keeps 8 bits of mantissa
        )
    print(f"## {card.name}: raw outputs differ by at most {worst:.1e} from OpenCV's; "
          f"final boxes {'the same' if same else 'DIFFERENT'}\n")  # fmt: skip

    times: dict[tuple[int, str, str], float] = {}
    for bsize in (1, 8):
        for stage, contenders in stage_contenders(ours, peer, (pil * 4)[:bsize], (bgr * 4)[:bsize]):
            for name, ms in interleaved(contenders, args.repeats).items():
                times[(bsize, stage, name)] = ms

    print(
        "| batch | stage | contender | ms per batch | ms per picture | pictures/s | OpenCV / ours |"
    )
    print("|---|---|---|---|---|---|---|")
    for (bsize, stage, name), ms in times.items():
        ratio = "" if name == "opencv" else f"{times[(bsize, stage, 'opencv')] / ms:.2f}"
        per_picture = f"{ms:.1f} | {ms / bsize:.1f} | {1000 * bsize / ms:.0f}"
        print(f"| {bsize} | {stage} | {name} | {per_picture} | {ratio} |")
    print()
    return {"ours": list(ours), "times": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-compiled", action="store_true", help="skip torch.compile")
    parser.add_argument("--model", action="append", choices=list(MODELS), help="repeatable")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    cards = [MODELS[k] for k in args.model] if args.model else []
    for card in MODELS.values() if not cards else ():
        try:
            model_path(card.weights)
            cards.append(card)
        except ModelFileError as exc:
            print(f"# {card.name} left out: {exc}")

    photos = [load_sample_image(n) for n in ("china.jpg", "flower.jpg")]  # RGB, 427x640
    pil = [Image.fromarray(p) for p in photos]
    bgr = [np.ascontiguousarray(p[:, :, ::-1]) for p in photos]

    print(
        f"# {platform.machine()}, {args.threads} threads, torch {torch.__version__}, "
        f"OpenCV {cv2.__version__}, {args.repeats} repeats, "
        f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n"
    )
    results = {card.name: bench_model(card, args, pil, bgr) for card in cards}

    print("| model | batch | end to end (all three stages) | ms per picture | pictures/s "
          "| OpenCV / ours |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for model, result in results.items():
        times = result["times"]
        for bsize in (1, 8):
            parts = {f"ours-{k}": ["ours", f"ours-{k}", "ours"] for k in result["ours"]}
            parts["opencv"] = ["opencv"] * 3
            total = {
                name: sum(times[(bsize, stage, n)] for stage, n in zip(STAGES, names, strict=True))
                for name, names in parts.items()
            }
            for name, ms in total.items():
                ratio = "" if name == "opencv" else f"{total['opencv'] / ms:.2f}"
                print(f"| {model} | {bsize} | {name} | {ms / bsize:.1f} | {1000 * bsize / ms:.0f} "
                      f"| {ratio} |")  # fmt: skip
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
