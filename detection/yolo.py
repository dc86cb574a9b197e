"""YOLO object detection around a Darknet model: pictures in, labelled boxes out.

    picture --letterbox--> (3, 416, 416) --Darknet--> (N, 5 + C) anchor boxes
            --score = objectness x p(class), keep best class--> --per-class NMS-->
            --undo letterbox--> boxes in the picture's pixels, best first

Two ways to ask:

- `Detector.detect(images, conf, iou, classes)`: final detections, like the CLI prints.
- `Detector.candidates(images)`: every box scoring at least `CANDIDATE_FLOOR` (0.05) after
  a light per-class NMS at IoU `CANDIDATE_IOU` (0.9), which only removes near-duplicates.
  A page stores these once and re-filters instantly with `refilter` (same algorithm in JS):
  keep score >= conf and allowed classes, then per-class greedy NMS at the IoU slider.
  For any conf >= 0.05 and IoU <= 0.9 that gives what `detect` gives, except in the rare
  chain where a near-duplicate dropped up front would have survived because the box that
  dropped it was itself suppressed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from detection.darknet import Darknet, YoloHead, load_darknet
from detection.modelcard import CANDIDATE_FLOOR, CANDIDATE_IOU, MAX_DETECTIONS, MODEL_CARD  # noqa: F401
from detection.thresholds import threshold

# ----------------------------------------------------------------------------- letterbox


@dataclass(frozen=True)
class Letterbox:
    """How a picture was fitted into the net input: scaled, then centred on grey."""

    scale_x: float  # net pixels per picture pixel
    scale_y: float
    pad_x: int  # grey columns left of the picture
    pad_y: int  # grey rows above the picture
    width: int  # the picture's own size
    height: int

    def to_picture(self, boxes: torch.Tensor) -> torch.Tensor:
        """(N, 4) x1, y1, x2, y2 in net-input pixels -> picture pixels, clipped to the picture."""
        shift = boxes.new_tensor([self.pad_x, self.pad_y, self.pad_x, self.pad_y])
        scale = boxes.new_tensor([self.scale_x, self.scale_y, self.scale_x, self.scale_y])
        out = (boxes - shift) / scale
        limit = boxes.new_tensor([self.width, self.height, self.width, self.height])
        return torch.minimum(out.clamp(min=0), limit)

    def to_net(self, boxes: torch.Tensor) -> torch.Tensor:
        """(N, 4) x1, y1, x2, y2 in picture pixels -> net-input pixels."""
        scale = boxes.new_tensor([self.scale_x, self.scale_y, self.scale_x, self.scale_y])
        shift = boxes.new_tensor([self.pad_x, self.pad_y, self.pad_x, self.pad_y])
        return boxes * scale + shift


def letterbox(image: Image.Image, width: int, height: int) -> tuple[torch.Tensor, Letterbox]:
    """Resize keeping the aspect ratio and centre on grey 0.5, as Darknet does.

    Returns the (3, height, width) float tensor (RGB, 0..1) and the mapping back.
    """
    rgb = image.convert("RGB")
    w, h = rgb.size
    if width * h < height * w:  # width is the tighter side (Darknet's integer rule)
        new_w, new_h = width, max(1, h * width // w)
    else:
        new_w, new_h = max(1, w * height // h), height
    pad_x, pad_y = (width - new_w) // 2, (height - new_h) // 2
    pixels = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).unsqueeze(0)  # (1, 3, h, w) uint8
    # Plain bilinear on uint8, like Darknet and OpenCV (no antialiasing); ~3x faster than PIL.
    resized = F.interpolate(pixels, size=(new_h, new_w), mode="bilinear", align_corners=False)
    out = torch.full((3, height, width), 0.5)
    out[:, pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized[0].float() / 255
    return out, Letterbox(new_w / w, new_h / h, pad_x, pad_y, w, h)


# ----------------------------------------------------------------------------- NMS


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every box in a (N, 4) with every box in b (M, 4), both x1, y1, x2, y2: (N, M)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)  # (N, M)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union, torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> torch.Tensor:
    """Greedy non-max suppression: indices of the kept boxes, best score first.

    Take the best remaining box, drop every remaining box overlapping it by more than `iou`,
    repeat. One loop step per kept box, so it stays fast on score-filtered candidates.
    """
    remaining = torch.argsort(scores, descending=True, stable=True)
    keep = []
    while remaining.numel():
        best, remaining = remaining[0], remaining[1:]
        keep.append(best)
        overlap = box_iou(boxes[best].unsqueeze(0), boxes[remaining])[0]
        remaining = remaining[overlap <= iou]
    return torch.stack(keep) if keep else torch.zeros(0, dtype=torch.long)


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, class_ids: torch.Tensor, iou: float
) -> torch.Tensor:
    """Per-class NMS: boxes of different classes never suppress each other."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    # Shift each class to its own region of the plane so no two classes can overlap.
    span = boxes.max() - boxes.min() + 1
    return nms(boxes + (class_ids * span)[:, None].to(boxes.dtype), scores, iou)


# ----------------------------------------------------------------------------- detections


@dataclass(frozen=True)
class Detection:
    """One labelled box."""

    class_id: int
    class_name: str
    score: float  # objectness x p(class), 0..1
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in the picture's pixels

    def to_dict(self) -> dict:
        """JSON-ready form: {"class", "class_id", "score", "box"}, rounded for the wire."""
        return {
            "class": self.class_name,
            "class_id": self.class_id,
            "score": round(self.score, 4),
            "box": [round(v, 1) for v in self.box],
        }


def select(
    rows: torch.Tensor,
    *,
    net_size: tuple[int, int],
    conf: float,
    iou: float,
    class_ids: Iterable[int] | None = None,
    class_conf: Mapping[int, float] | None = None,
    limit: int = MAX_DETECTIONS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """From one picture's raw rows (N, 5 + C) to kept (boxes, scores, class ids), best first.

    Each anchor box takes its best class (score = objectness x p(class)); boxes scoring
    below their class's confidence (`class_conf` by class id, else `conf`) or of classes
    not in `class_ids` go; per-class NMS at `iou`.
    Boxes are x1, y1, x2, y2 in net-input pixels.
    """
    rows = rows.float()
    lowest = min([conf, *(class_conf or {}).values()])
    rows = rows[rows[:, 4] >= lowest]  # score = objectness x p(class) <= objectness: cheap cut
    scores, classes = (rows[:, 5:] * rows[:, 4:5]).max(dim=1)  # (N,), (N,)
    if class_conf:
        needed = torch.full((rows.shape[1] - 5,), conf, device=rows.device)
        for class_id, value in class_conf.items():
            needed[class_id] = value
        keep = scores >= needed[classes]
    else:
        keep = scores >= conf
    if class_ids is not None:
        keep &= torch.isin(classes, torch.tensor(list(class_ids), device=rows.device))
    rows, scores, classes = rows[keep], scores[keep], classes[keep]
    w, h = net_size
    centre, size = rows[:, :2], rows[:, 2:4]
    boxes = torch.cat([centre - size / 2, centre + size / 2], dim=1) * rows.new_tensor([w, h, w, h])
    kept = batched_nms(boxes, scores, classes, iou)[:limit]
    return boxes[kept], scores[kept], classes[kept]


def refilter(
    candidates: Sequence[Detection],
    *,
    conf: float,
    iou: float,
    classes: Iterable[str] | None = None,
    class_conf: Mapping[str, float] | None = None,
) -> list[Detection]:
    """What a results page does with stored candidates when a slider moves: filter, then NMS.

    A box stays when its score reaches its class's own confidence (`class_conf`, by class
    name) or, for a class without one, the global `conf`.
    """
    allowed = None if classes is None else set(classes)
    kept = [
        d
        for d in candidates
        if d.score >= threshold(d.class_name, conf, class_conf)
        and (allowed is None or d.class_name in allowed)
    ]
    if not kept:
        return []
    boxes = torch.tensor([d.box for d in kept], dtype=torch.float64)
    scores = torch.tensor([d.score for d in kept], dtype=torch.float64)
    class_ids = torch.tensor([d.class_id for d in kept])
    return [kept[i] for i in batched_nms(boxes, scores, class_ids, iou).tolist()]


def bf16_supported(device: str | torch.device = "cpu") -> bool:
    """Whether bfloat16 convolutions are native (fast) on this CPU; False on other devices."""
    return torch.device(device).type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


class Detector:
    """A Darknet YOLO model with its class names, ready to detect on PIL pictures.

    On CUDA it runs in float16 by default (`half=False` to turn off); boxes are decoded in
    float32 either way. `bf16=True` runs the convolutions in bfloat16 on a CPU that has
    native bfloat16 dot products (AVX512-BF16, AMX; `bf16_supported()`): about twice the
    throughput of float32 on such a CPU, scores within about 0.01 of float32's
    (docs/benchmarks-detection.md, "Video"); the video mode uses it where it is supported.
    `compiled=True` runs the network through `torch.compile` with frozen
    weights (conv + activation fused, weights pre-packed): 5-35% faster on a CPU
    (docs/benchmarks-detection.md), after a one-off compile of 15-80 s per batch size, so it
    suits long-lived workers, not one-shot commands.
    """

    def __init__(
        self,
        model: Darknet,
        class_names: Sequence[str],
        *,
        device: str | torch.device = "cpu",
        half: bool | None = None,
        compiled: bool = False,
        bf16: bool = False,
    ):
        if len(class_names) != model.class_count:
            raise ValueError(
                f"{len(class_names)} class names for a model with {model.class_count} classes"
            )
        self.device = torch.device(device)
        use_half = self.device.type == "cuda" if half is None else half
        self.dtype = torch.float16 if use_half else torch.float32
        if bf16:
            self.dtype = torch.bfloat16
        anchors = {h: h.anchors.clone() for h in model.modules() if isinstance(h, YoloHead)}
        self.model = model.eval().to(self.device, self.dtype, memory_format=torch.channels_last)
        for head, exact in anchors.items():  # box sizes stay float32: float16 would round them
            head.anchors = exact.to(self.device)
        self.network = (
            torch.compile(self.model, options={"freezing": True}) if compiled else self.model
        )
        self.class_names = list(class_names)
        self.net_size = (model.net.width, model.net.height)

    @classmethod
    def from_files(
        cls,
        cfg: str | Path,
        weights: str | Path,
        names: str | Path,
        *,
        device: str | torch.device = "cpu",
        half: bool | None = None,
        compiled: bool = False,
        bf16: bool = False,
    ) -> Detector:
        """Load a Darknet cfg, its weights and a names file (one class name per line)."""
        class_names = [n.strip() for n in Path(names).read_text().splitlines() if n.strip()]
        model = load_darknet(cfg, weights)
        return cls(model, class_names, device=device, half=half, compiled=compiled, bf16=bf16)

    def preprocess(self, images: Sequence[Image.Image]) -> tuple[torch.Tensor, list[Letterbox]]:
        """Letterbox each picture: a (B, 3, H, W) batch and each picture's mapping back."""
        pairs = [letterbox(image, *self.net_size) for image in images]
        return torch.stack([p[0] for p in pairs]), [p[1] for p in pairs]

    @torch.inference_mode()
    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Raw model output for a letterboxed batch: (B, N, 5 + C), see `detection.darknet`."""
        x = batch.to(self.device, self.dtype).contiguous(memory_format=torch.channels_last)
        return self.network(x)

    def detect(
        self,
        images: Sequence[Image.Image],
        conf: float = 0.25,
        iou: float = 0.45,
        classes: Iterable[str] | None = None,
        *,
        class_conf: Mapping[str, float] | None = None,
        batch_size: int = 8,
        limit: int = MAX_DETECTIONS,
    ) -> list[list[Detection]]:
        """Detections for each picture, best first, boxes in the picture's pixels.

        `class_conf` gives some classes (by name) their own confidence instead of `conf`.
        """
        class_ids = None if classes is None else self.class_ids(classes)
        own = dict(class_conf or {})
        by_id = dict(zip(self.class_ids(own), own.values(), strict=True))
        results: list[list[Detection]] = []
        for start in range(0, len(images), batch_size):
            batch, boxes_back = self.preprocess(images[start : start + batch_size])
            for rows, lb in zip(self.forward(batch), boxes_back, strict=True):
                kept = select(
                    rows,
                    net_size=self.net_size,
                    conf=conf,
                    iou=iou,
                    class_ids=class_ids,
                    class_conf=by_id,
                    limit=limit,
                )
                results.append(self._to_detections(*kept, lb))
        return results

    def candidates(
        self, images: Sequence[Image.Image], *, batch_size: int = 8
    ) -> list[list[Detection]]:
        """Low-floor detections for a page to re-filter with `refilter` (see module docs)."""
        return self.detect(images, CANDIDATE_FLOOR, CANDIDATE_IOU, batch_size=batch_size)

    def class_ids(self, names: Iterable[str]) -> list[int]:
        """Class ids for class names; raises ValueError naming any unknown one."""
        names = list(names)
        unknown = [n for n in names if n not in self.class_names]
        if unknown:
            raise ValueError(f"unknown class name(s) {', '.join(unknown)}")
        return [self.class_names.index(n) for n in names]

    def _to_detections(
        self, boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, lb: Letterbox
    ) -> list[Detection]:
        picture_boxes = lb.to_picture(boxes.cpu()).tolist()
        return [
            Detection(c, self.class_names[c], s, tuple(b))
            for b, s, c in zip(picture_boxes, scores.tolist(), classes.tolist(), strict=True)
        ]
