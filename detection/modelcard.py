"""The default detection model as pages describe it, and the thresholds the page's
sliders can reach. Plain Python, so the web process needs no torch to show a form."""

from __future__ import annotations

from dataclasses import dataclass

CANDIDATE_FLOOR = 0.05  # lowest score a page's confidence slider can reach
CANDIDATE_IOU = 0.9  # NMS for candidates only merges boxes that are nearly the same
MAX_DETECTIONS = 300  # per picture, for both detections and candidates


@dataclass(frozen=True)
class ModelCard:
    """What the page tells users about the default model."""

    name: str
    cfg: str  # file names inside the models directory
    weights: str
    names: str
    input_size: tuple[int, int]  # (width, height) of the letterboxed input
    dataset: str
    classes: int
    published_map50: float  # mAP at IoU 0.5 on COCO test-dev, as published
    source: str


MODEL_CARD = ModelCard(
    name="YOLOv3-tiny",
    cfg="yolov3-tiny.cfg",
    weights="yolov3-tiny.weights",
    names="coco.names",
    input_size=(416, 416),
    dataset="COCO",
    classes=80,
    published_map50=33.1,
    source="Redmon & Farhadi, YOLOv3: An Incremental Improvement (2018); pjreddie.com/darknet/yolo",
)
