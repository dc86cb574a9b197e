"""Region proposals and a two-stage detector (R-CNN's idea, course W3), beside YOLO's one pass.

    picture --shrink to ≤ 128 px--> graph segmentation (Felzenszwalb & Huttenlocher 2004)
            --hierarchical grouping by colour, size and fill (selective search, Uijlings
              et al. 2013)--> one box per region at every level: the proposals
            --each region cropped, warped to 160 × 160, one network pass each--> its class
            --per-class NMS--> detections

Stage one knows nothing about objects: it cuts the picture into regions of similar colour
and keeps merging the two most alike neighbours, so every object that is one region at
some level of the hierarchy gets a box. Stage two is a classifier run on every proposal
alone. The classifier here is the same YOLOv3-tiny network the page detects with: a
region's class and score are the best objectness × p(class) anywhere in its crop. That
keeps the comparison about the *pipeline* (many passes, one per region, vs one pass for
the whole picture) and not about two different networks; R-CNN used an AlexNet with an
SVM per class on its 2,000 warped crops.

`segment` and `propose` are numpy only; `compare` runs both detectors on one picture and
counts proposals, network passes and multiply-adds, and times each stage.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from detection.windows import conv_macs
from detection.yolo import Detector, batched_nms, box_iou

SEGMENT_SIDE = 128  # the picture is segmented at most this big (boxes scaled back)
CROP = 160  # each region is warped to CROP × CROP for its pass (a multiple of 32)
SCALES = (100.0, 300.0)  # the segmentation's k: two strategies, small and large regions
MAX_PROPOSALS = 100
HIST_BINS = 25  # colour histogram bins per channel


# ----------------------------------------------------------------------------- segmentation


def _smooth(image: np.ndarray, sigma: float) -> np.ndarray:
    """A separable Gaussian blur of an (H, W, C) float picture (edges repeated)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = image
    for axis in (0, 1):
        padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in range(3)],
                        mode="edge")  # fmt: skip
        n = out.shape[axis]
        out = sum(t * np.take(padded, range(i, i + n), axis=axis) for i, t in enumerate(taps))
    return out


def segment(image: np.ndarray, *, k: float = 100.0, sigma: float = 0.8,
            min_size: int = 20) -> np.ndarray:  # fmt: skip
    """Felzenszwalb–Huttenlocher graph segmentation of an (H, W, 3) picture in 0..255.

    Pixels are nodes, 8-neighbours are joined by edges weighted with their colour
    distance. Edges are taken lightest first; two components merge when the edge is no
    heavier than either one's largest inner edge plus k / its size, so large k gives large
    regions. Components under `min_size` pixels are then merged into a neighbour.
    Returns (H, W) labels 0 .. n − 1.
    """
    h, w = image.shape[:2]
    smooth = _smooth(image.astype(np.float64), sigma) if sigma > 0 else image.astype(np.float64)
    index = np.arange(h * w).reshape(h, w)
    pairs, weights = [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):  # each undirected 8-neighbour edge once
        ys, ye = 0, h - dy
        xs, xe = max(0, -dx), w - max(0, dx)
        a = index[ys:ye, xs:xe]
        b = index[ys + dy : ye + dy, xs + dx : xe + dx]
        diff = smooth[ys:ye, xs:xe] - smooth[ys + dy : ye + dy, xs + dx : xe + dx]
        pairs.append(np.stack([a.ravel(), b.ravel()], 1))
        weights.append(np.sqrt((diff**2).sum(axis=2)).ravel())
    edges, weight = np.concatenate(pairs), np.concatenate(weights)
    order = np.argsort(weight, kind="stable")
    edges, weight = edges[order].tolist(), weight[order].tolist()

    parent = list(range(h * w))
    size = [1] * (h * w)
    inner = [0.0] * (h * w)  # the largest edge inside each component's spanning tree

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a: int, b: int, wt: float) -> None:
        if size[a] < size[b]:
            a, b = b, a
        parent[b] = a
        size[a] += size[b]
        inner[a] = wt

    for (p, q), wt in zip(edges, weight, strict=True):
        a, b = find(p), find(q)
        if a != b and wt <= min(inner[a] + k / size[a], inner[b] + k / size[b]):
            join(a, b, wt)
    for p, q in edges:  # then no component smaller than min_size
        a, b = find(p), find(q)
        if a != b and (size[a] < min_size or size[b] < min_size):
            join(a, b, max(inner[a], inner[b]))
    roots = np.array([find(p) for p in range(h * w)])
    return np.unique(roots, return_inverse=True)[1].reshape(h, w)


# ----------------------------------------------------------------------------- grouping


@dataclass
class Region:
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 (x2, y2 exclusive), segmentation pixels
    size: int  # pixels
    hist: np.ndarray  # colour histogram, L1-normalised (3 · HIST_BINS)
    level: int  # 0 for a segment; 1 + the deeper part's level for a merge


def _box_area(a: tuple, b: tuple) -> int:
    return (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))


def _similarity(a: Region, b: Region, picture: int) -> float:
    """Selective search's colour + size + fill: alike colours, small regions first, and
    pairs that fill their joint box (so merging them makes no holes)."""
    colour = float(np.minimum(a.hist, b.hist).sum())
    size = 1 - (a.size + b.size) / picture
    fill = 1 - (_box_area(a.box, b.box) - a.size - b.size) / picture
    return colour + size + fill


def group(image: np.ndarray, labels: np.ndarray) -> list[Region]:
    """Every region of the hierarchy, segments first, then each merge of the two most
    similar neighbouring regions until one region is left."""
    h, w = labels.shape
    n = int(labels.max()) + 1
    regions: list[Region] = []
    pixels = image.reshape(-1, 3)
    flat = labels.ravel()
    ys, xs = np.divmod(np.arange(h * w), w)
    for label in range(n):
        mine = flat == label
        hist = np.concatenate([
            np.histogram(pixels[mine, c], bins=HIST_BINS, range=(0, 256))[0] for c in range(3)
        ]).astype(np.float64)  # fmt: skip
        box = (int(xs[mine].min()), int(ys[mine].min()),
               int(xs[mine].max()) + 1, int(ys[mine].max()) + 1)  # fmt: skip
        regions.append(Region(box, int(mine.sum()), hist / hist.sum(), 0))
    touching = np.concatenate([
        np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
        np.stack([labels[:-1].ravel(), labels[1:].ravel()], 1),
    ])  # fmt: skip
    touching = touching[touching[:, 0] != touching[:, 1]]
    neighbours: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in np.unique(np.sort(touching, 1), axis=0).tolist():
        neighbours[a].add(b)
        neighbours[b].add(a)
    similar = {(a, b): _similarity(regions[a], regions[b], h * w)
               for a in neighbours for b in neighbours[a] if a < b}  # fmt: skip
    while similar:
        a, b = max(similar, key=similar.get)
        ra, rb = regions[a], regions[b]
        box = (min(ra.box[0], rb.box[0]), min(ra.box[1], rb.box[1]),
               max(ra.box[2], rb.box[2]), max(ra.box[3], rb.box[3]))  # fmt: skip
        hist = (ra.hist * ra.size + rb.hist * rb.size) / (ra.size + rb.size)
        t = len(regions)
        regions.append(Region(box, ra.size + rb.size, hist, 1 + max(ra.level, rb.level)))
        around = (neighbours.pop(a) | neighbours.pop(b)) - {a, b}
        similar = {pair: s for pair, s in similar.items() if a not in pair and b not in pair}
        neighbours[t] = around
        for other in around:
            neighbours[other] -= {a, b}
            neighbours[other].add(t)
            similar[(other, t)] = _similarity(regions[other], regions[t], h * w)
    return regions


def propose(image: Image.Image, *, scales: tuple[float, ...] = SCALES,
            max_proposals: int = MAX_PROPOSALS, min_side: int = 8) -> np.ndarray:  # fmt: skip
    """Selective-search boxes for a picture: (N, 4) x1, y1, x2, y2 in its pixels.

    The hierarchy of each segmentation scale, its top levels first (the few big regions,
    then more and smaller ones), the scales taken in turn; near-duplicates (IoU ≥ 0.9 with a
    box kept) and boxes with a side under `min_side` picture pixels left out; at most
    `max_proposals`.
    """
    rgb = image.convert("RGB")
    factor = min(1.0, SEGMENT_SIDE / max(rgb.size))
    small = rgb.resize((max(1, round(rgb.width * factor)), max(1, round(rgb.height * factor))),
                       Image.BILINEAR) if factor < 1 else rgb  # fmt: skip
    pixels = np.asarray(small, dtype=np.float64)
    ranked = []
    for scale in scales:
        regions = group(pixels, segment(pixels, k=scale))
        ranked.append(list(reversed(regions)))  # the whole picture first, segments last
    boxes: list[tuple[float, ...]] = []
    for rank in range(max(len(r) for r in ranked)):
        for regions in ranked:
            if rank >= len(regions) or len(boxes) == max_proposals:
                continue
            x1, y1, x2, y2 = regions[rank].box
            box = (x1 / factor, y1 / factor, x2 / factor, y2 / factor)
            box = tuple(round(min(v, side), 1) for v, side in
                        zip(box, (rgb.width, rgb.height) * 2, strict=True))  # fmt: skip
            if min(box[2] - box[0], box[3] - box[1]) < min_side or _near(box, boxes):
                continue
            boxes.append(box)
    return np.array(boxes, dtype=np.float64).reshape(-1, 4)


def _near(box: tuple[float, ...], kept: list[tuple[float, ...]], same: float = 0.9) -> bool:
    """Whether a box overlaps one already kept by IoU ≥ `same` (a near-duplicate)."""
    if not kept:
        return False
    ious = box_iou(torch.tensor([box], dtype=torch.float64),
                   torch.tensor(kept, dtype=torch.float64))  # fmt: skip
    return bool((ious >= same).any())


# ----------------------------------------------------------------------------- two stages


def _best_class(rows: torch.Tensor) -> tuple[int, float]:
    """A crop's class: the best objectness × p(class) of any of its anchor boxes."""
    scores = rows[:, 5:].float() * rows[:, 4:5].float()  # (N, C)
    best, cls = scores.max(dim=1)
    i = int(best.argmax())
    return int(cls[i]), float(best[i])


def classify_regions(detector: Detector, image: Image.Image, boxes: np.ndarray,
                     *, batch: int = 32) -> list[tuple[int, float]]:  # fmt: skip
    """Each box of the picture cropped, warped to CROP × CROP (as R-CNN warps) and run
    through the network on its own: (class id, score) per box."""
    rgb = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).float() / 255
    out: list[tuple[int, float]] = []
    for start in range(0, len(boxes), batch):
        crops = []
        for x1, y1, x2, y2 in boxes[start : start + batch]:
            region = rgb[:, int(y1) : max(int(y1) + 1, int(np.ceil(y2))),
                         int(x1) : max(int(x1) + 1, int(np.ceil(x2)))]  # fmt: skip
            crops.append(F.interpolate(region[None], size=(CROP, CROP), mode="bilinear",
                                       align_corners=False))  # fmt: skip
        rows = detector.forward(torch.cat(crops))
        out += [_best_class(r) for r in rows]
    return out


def compare(detector: Detector, image: Image.Image, *, conf: float = 0.25, iou: float = 0.45,
            max_proposals: int = MAX_PROPOSALS) -> dict[str, Any]:  # fmt: skip
    """The two-stage detector and YOLO's one pass on one picture: each one's detections
    (picture pixels), counts and seconds (see the module's docstring)."""
    net_w, net_h = detector.net_size
    detector.forward(torch.zeros(1, 3, CROP, CROP))  # warm up both sizes (not timed)
    detector.detect([image], conf=conf, iou=iou)
    one_s = float("inf")
    for _ in range(3):  # the best of three: the machine is shared
        started = time.perf_counter()
        yolo = detector.detect([image], conf=conf, iou=iou)[0]
        one_s = min(one_s, time.perf_counter() - started)

    started = time.perf_counter()
    boxes = propose(image, max_proposals=max_proposals)
    propose_s = time.perf_counter() - started
    started = time.perf_counter()
    classes = classify_regions(detector, image, boxes)
    classify_s = time.perf_counter() - started
    names = detector.class_names
    ids = torch.tensor([c for c, _ in classes], dtype=torch.long)
    scores = torch.tensor([s for _, s in classes], dtype=torch.float64)
    tensor_boxes = torch.from_numpy(boxes)
    sure = (scores >= conf).nonzero().flatten()
    kept = sure[batched_nms(tensor_boxes[sure], scores[sure], ids[sure], iou)]
    two = [{"box": [round(v, 1) for v in boxes[i].tolist()], "class": names[int(ids[i])],
            "score": round(float(scores[i]), 3)} for i in kept.tolist()]  # fmt: skip
    one = [d.to_dict() for d in yolo]

    # how many of YOLO's boxes the two-stage detector also found (same class, IoU ≥ 0.5)
    found = 0
    if one and two:
        overlap = box_iou(torch.tensor([d["box"] for d in one], dtype=torch.float64),
                          torch.tensor([d["box"] for d in two], dtype=torch.float64))  # fmt: skip
        same = torch.tensor([[a["class"] == b["class"] for b in two] for a in one])
        found = int(((overlap >= 0.5) & same).any(dim=1).sum())
    crop_macs = conv_macs(detector, CROP, CROP)
    one_macs = conv_macs(detector, net_w, net_h)
    return {
        "width": image.width, "height": image.height, "crop": CROP, "conf": conf, "iou": iou,
        "proposals": [[round(v, 1) for v in b] for b in boxes.tolist()],
        "two_stage": {"detections": two, "passes": len(boxes), "macs": crop_macs * len(boxes),
                      "propose_seconds": propose_s, "classify_seconds": classify_s,
                      "seconds": propose_s + classify_s},
        "one_pass": {"detections": one, "passes": 1, "macs": one_macs, "seconds": one_s},
        "mac_ratio": crop_macs * len(boxes) / one_macs,
        "time_ratio": (propose_s + classify_s) / one_s if one_s > 0 else None,
        "yolo_found": found,
    }  # fmt: skip
