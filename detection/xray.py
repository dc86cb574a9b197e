"""The YOLO X-ray: what the decoder saw, kept so a page can show the chain without a re-run.

One forward pass gives both the page's candidates (as `Detector.candidates`) and an X-ray
document (JSON-ready):

- `letterbox`: how the picture sits in the net input (scale, padding, its own size);
- `heads`: per output scale its grid (rows, columns), stride in net pixels, anchors at
  their real size (net pixels) and an objectness heat map (the best anchor per cell);
- `candidates`: every anchor box whose score (objectness x best class) reaches the floor,
  before any NMS, best first, each with where it came from – head, grid row and column,
  anchor – and the raw predictions `t` = (tx, ty, tw, th) the decoder turned into its box:

      cx = (col + σ(tx) · s − (s − 1) / 2) · stride_x       (s: the head's scale_x_y)
      cy = (row + σ(ty) · s − (s − 1) / 2) · stride_y
      w = anchor_w · exp(tw),  h = anchor_h · exp(th)          (net pixels)

`nms_steps` is greedy per-class NMS written out step by step (the kept box, and the boxes
it suppresses with their IoU), for the page's step-through; its kept boxes are those of
`detection.yolo.batched_nms` (tests/detection/test_xray.py checks it, and torchvision's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from detection.darknet import YoloHead
from detection.modelcard import CANDIDATE_FLOOR, CANDIDATE_IOU
from detection.yolo import Detection, Detector, Letterbox, box_iou, select

XRAY_LIMIT = 500  # candidates kept in an X-ray, best first


@dataclass(frozen=True)
class HeadOutput:
    """One YOLO head's raw input (before decoding) and what it needs to decode it."""

    raw: torch.Tensor  # (A, 5 + C, H, W): the conv's predictions for one picture
    anchors: torch.Tensor  # (A, 2) width, height in net pixels
    scale_x_y: float

    @property
    def grid(self) -> tuple[int, int]:
        return self.raw.shape[2], self.raw.shape[3]  # rows, columns


@dataclass(frozen=True)
class Look:
    """One picture through the network: the decoded rows and each head's raw predictions."""

    rows: torch.Tensor  # (N, 5 + C), as Detector.forward gives for one picture
    heads: list[HeadOutput]
    letterbox: Letterbox
    net_size: tuple[int, int]  # width, height


@torch.inference_mode()
def look(detector: Detector, image: Image.Image) -> Look:
    """Run the (eager) network once on one picture, keeping each head's raw input."""
    batch, (lb,) = detector.preprocess([image])
    heads = [m for m in detector.model.layers if isinstance(m, YoloHead)]
    captured: list[torch.Tensor] = []
    hooks = [h.register_forward_pre_hook(lambda _m, args: captured.append(args[0])) for h in heads]
    try:
        x = batch.to(detector.device, detector.dtype).contiguous(memory_format=torch.channels_last)
        rows = detector.model(x)[0].float().cpu()
    finally:
        for hook in hooks:
            hook.remove()
    w, h = detector.net_size
    outputs = []
    for head, raw in zip(heads, captured, strict=True):
        A = len(head.anchors)
        _, _, H, W = raw.shape
        anchors = head.anchors.float().cpu() * torch.tensor([w, h])
        outputs.append(HeadOutput(raw[0].float().cpu().view(A, -1, H, W), anchors, head.scale_x_y))
    return Look(rows, outputs, lb, detector.net_size)


def decode(head: HeadOutput, row: int, col: int, anchor: int, net_size) -> list[float]:
    """The box (x1, y1, x2, y2, net pixels) that `head`'s cell (row, col) and `anchor`
    predict, from its raw values: the decoder's arithmetic for one anchor box."""
    H, W = head.grid
    net_w, net_h = net_size
    t = head.raw[anchor, :4, row, col]
    s = head.scale_x_y
    offset = torch.sigmoid(t[:2]) * s - (s - 1) / 2
    cx = (col + offset[0]) / W
    cy = (row + offset[1]) / H
    wh = torch.exp(t[2:4]) * (head.anchors[anchor] / torch.tensor([net_w, net_h]))
    centre, size = torch.stack([cx, cy]), wh
    box = torch.cat([centre - size / 2, centre + size / 2]) * torch.tensor([net_w, net_h] * 2)
    return box.tolist()


def where(look_: Look, index: int) -> tuple[int, int, int, int]:
    """(head, row, col, anchor) of output row `index`: heads in order, then row, col, anchor."""
    start = 0
    for h, head in enumerate(look_.heads):
        H, W = head.grid
        A = head.raw.shape[0]
        if index < start + H * W * A:
            local = index - start
            return h, local // (W * A), (local // A) % W, local % A
        start += H * W * A
    raise IndexError(f"row {index} is past the last head")


def candidates(detector: Detector, look_: Look) -> list[Detection]:
    """What `Detector.candidates` gives for this picture, from the same forward pass."""
    kept = select(look_.rows, net_size=look_.net_size, conf=CANDIDATE_FLOOR, iou=CANDIDATE_IOU)
    return detector._to_detections(*kept, look_.letterbox)


def xray(
    detector: Detector,
    look_: Look,
    *,
    floor: float = CANDIDATE_FLOOR,
    limit: int = XRAY_LIMIT,
) -> dict[str, Any]:
    """The X-ray document of one picture (see the module's docstring)."""
    rows = look_.rows
    scores, classes = (rows[:, 5:] * rows[:, 4:5]).max(dim=1)
    order = torch.argsort(scores, descending=True, stable=True)
    order = order[scores[order] >= floor][:limit]
    w, h = look_.net_size
    centre, size = rows[:, :2], rows[:, 2:4]
    boxes = torch.cat([centre - size / 2, centre + size / 2], dim=1) * rows.new_tensor([w, h] * 2)
    picture_boxes = look_.letterbox.to_picture(boxes[order]).tolist()
    found = []
    for n, (index, picture_box) in enumerate(zip(order.tolist(), picture_boxes, strict=True)):
        head, row, col, anchor = where(look_, index)
        t = look_.heads[head].raw[anchor, :4, row, col].tolist()
        class_id = int(classes[index])
        found.append(
            {
                "id": n,
                "head": head,
                "row": row,
                "col": col,
                "anchor": anchor,
                "t": [round(v, 5) for v in t],
                "objectness": round(float(rows[index, 4]), 5),
                "class": detector.class_names[class_id],
                "class_id": class_id,
                "score": round(float(scores[index]), 4),
                "net_box": [round(v, 2) for v in boxes[index].tolist()],
                "box": [round(v, 1) for v in picture_box],
            }
        )
    lb = look_.letterbox
    heads = []
    start = 0
    for head in look_.heads:
        H, W = head.grid
        A = head.raw.shape[0]
        objectness = rows[start : start + H * W * A, 4].view(H, W, A).amax(dim=2)
        start += H * W * A
        heads.append(
            {
                "grid": [H, W],
                "stride": [w / W, h / H],
                "anchors": [[round(v, 2) for v in a] for a in head.anchors.tolist()],
                "scale_x_y": head.scale_x_y,
                "objectness": [round(v, 3) for v in objectness.flatten().tolist()],
            }
        )
    return {
        "net": [w, h],
        "letterbox": {
            "scale_x": lb.scale_x,
            "scale_y": lb.scale_y,
            "pad_x": lb.pad_x,
            "pad_y": lb.pad_y,
            "width": lb.width,
            "height": lb.height,
        },
        "floor": floor,
        "limit": limit,
        "above_floor": int((scores >= floor).sum()),
        "heads": heads,
        "candidates": found,
    }


# ----------------------------------------------------------------------------- NMS, by steps


@dataclass(frozen=True)
class NmsStep:
    """One step of greedy NMS: the box kept, and the boxes of its class it suppresses."""

    keep: int
    suppressed: list[tuple[int, float]]  # (index, IoU with the kept box)


def nms_steps(
    boxes: torch.Tensor, scores: torch.Tensor, class_ids: torch.Tensor, iou: float
) -> list[NmsStep]:
    """Greedy per-class NMS, step by step: sorted by score (ties: earlier first), take the
    best remaining box, suppress the remaining boxes of its class overlapping it by more
    than `iou`, next. The kept boxes are `batched_nms`'s, in its order."""
    remaining = torch.argsort(scores, descending=True, stable=True).tolist()
    steps = []
    while remaining:
        best, remaining = remaining[0], remaining[1:]
        same = [j for j in remaining if class_ids[j] == class_ids[best]]
        overlaps = box_iou(boxes[best].unsqueeze(0), boxes[same])[0].tolist() if same else []
        gone = [(j, v) for j, v in zip(same, overlaps, strict=True) if v > iou]
        gone_ids = {j for j, _ in gone}
        remaining = [j for j in remaining if j not in gone_ids]
        steps.append(NmsStep(best, gone))
    return steps
