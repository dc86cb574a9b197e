"""The detection models as pages describe them, and the thresholds the page's
sliders can reach. Plain Python, so the web process needs no torch to show a form."""

from __future__ import annotations

from dataclasses import dataclass

CANDIDATE_FLOOR = 0.05  # lowest score a page's confidence slider can reach
CANDIDATE_IOU = 0.9  # NMS for candidates only merges boxes that are nearly the same
MAX_DETECTIONS = 300  # per picture, for both detections and candidates


@dataclass(frozen=True)
class ModelCard:
    """What the pages tell users about one model, and the files it is built from."""

    key: str  # what forms, the CLI (`detect --model`) and job parameters call it
    name: str
    cfg: str  # file names inside the models directory
    weights: str
    names: str
    input_size: tuple[int, int]  # (width, height) of the letterboxed input
    dataset: str
    classes: int
    published_map50: float  # mAP at IoU 0.5 on COCO test-dev, as published
    source: str
    heads: int  # detection scales (YOLO heads)
    parameters: int  # learned numbers, batch norm folded into the convs (a test counts them)
    # The network on one picture, float32, batch 1, on the project's shared 2-core CPU
    # (bench/bench_detection.py, docs/benchmarks-detection.md); the cost estimate reads it.
    network_ms: float


MODELS: dict[str, ModelCard] = {
    card.key: card
    for card in (
        ModelCard(
            key="yolov3-tiny",
            name="YOLOv3-tiny",
            cfg="yolov3-tiny.cfg",
            weights="yolov3-tiny.weights",
            names="coco.names",
            input_size=(416, 416),
            dataset="COCO",
            classes=80,
            published_map50=33.1,
            source="Redmon & Farhadi, YOLOv3: An Incremental Improvement (2018); "
            "pjreddie.com/darknet/yolo",
            heads=2,
            parameters=8_849_182,
            network_ms=187.0,
        ),
        ModelCard(
            key="yolov4-tiny",
            name="YOLOv4-tiny",
            cfg="yolov4-tiny.cfg",
            weights="yolov4-tiny.weights",
            names="coco.names",
            input_size=(416, 416),
            dataset="COCO",
            classes=80,
            published_map50=40.2,
            source="Bochkovskiy et al., YOLOv4 (2020); Wang et al., Scaled-YOLOv4 (2021); "
            "github.com/AlexeyAB/darknet",
            heads=2,
            parameters=6_053_502,
            network_ms=173.0,
        ),
    )
}

DEFAULT_MODEL = "yolov3-tiny"
MODEL_CARD = MODELS[DEFAULT_MODEL]  # the default model


def model_card_for(key: str | None) -> ModelCard:
    """The card of model `key` (None: the default); ValueError naming the known ones."""
    if key is None:
        return MODEL_CARD
    try:
        return MODELS[key]
    except KeyError:
        raise ValueError(f"unknown model {key!r}; the models are {', '.join(MODELS)}") from None
