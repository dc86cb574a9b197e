"""The "detect" job kind: YOLO over the job's pictures in a worker.

For each picture the worker stores the normalised original (EXIF-rotated, RGB), every
candidate box above the engine's low floor (so the page re-filters without running the
model again) and a PNG annotated at the job's own thresholds.
"""

from __future__ import annotations

import io
import json
import threading
from typing import Any

from webapp.jobkinds import JobKind, register
from webapp.runner import JobContext, JobError

_detectors: dict[tuple, Any] = {}
_detectors_lock = threading.Lock()


def detector_for_this_process():
    """The default Detector, built once per worker process (rebuilt if its files change)."""
    import torch

    from detection.yolo import MODEL_CARD, Detector
    from webapp.modelfiles import ModelFileError, model_path

    try:
        paths = [model_path(n) for n in (MODEL_CARD.cfg, MODEL_CARD.weights, MODEL_CARD.names)]
    except ModelFileError as exc:
        raise JobError(f"The detection model is not installed on this worker: {exc}") from exc
    device = "cuda" if torch.cuda.is_available() else "cpu"
    key = (device, *((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths))
    with _detectors_lock:
        if key not in _detectors:
            _detectors.clear()
            _detectors[key] = Detector.from_files(*paths, device=device)
        return _detectors[key]


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def _jpeg(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def run(ctx: JobContext) -> dict[str, Any]:
    from PIL import ImageOps

    from detection.annotate import annotate
    from detection.services import model_card, upload_limits
    from detection.uploads import UploadError, read_upload
    from detection.yolo import refilter

    conf, iou = float(ctx.params["conf"]), float(ctx.params["iou"])
    wanted = ctx.params.get("classes") or None
    names = ctx.params.get("upload_names", [])
    pictures = []
    for index, key in enumerate(sorted(ctx.params["inputs"])):
        name = names[index] if index < len(names) else key
        try:
            pictures += read_upload(io.BytesIO(ctx.read_input(key)), name, upload_limits())
        except UploadError as exc:  # the form checked it; only a changed limit gets here
            raise JobError(str(exc)) from exc
    detector = detector_for_this_process()
    total = len(pictures)
    ctx.report(0.0, metrics={"device": str(detector.device), "pictures": total, "done": 0},
               force=True)

    entries: list[dict[str, Any]] = []
    files: list[dict[str, str]] = []
    default_detections: list[dict[str, Any]] = []
    for index, picture in enumerate(pictures):
        if ctx.should_stop():
            break
        image = ImageOps.exif_transpose(picture.image).convert("RGB")
        candidates = detector.candidates([image])[0]
        kept = refilter(candidates, conf=conf, iou=iou, classes=wanted)
        stem = f"picture-{index + 1:03d}"
        candidate_doc = {
            "name": picture.name, "width": image.width, "height": image.height,
            "candidates": [d.to_dict() for d in candidates],
        }
        entry = {
            "index": index,
            "name": picture.name,
            "width": image.width,
            "height": image.height,
            "url": ctx.save_file(f"{stem}.jpg", _jpeg(image)),
            "candidates_url": ctx.save_file(
                f"{stem}.candidates.json", json.dumps(candidate_doc).encode()
            ),
            "annotated_url": ctx.save_file(f"{stem}.annotated.png", _png(annotate(image, kept))),
            "candidates": len(candidates),
            "found": len(kept),
        }
        entries.append(entry)
        files.append({"name": f"{stem}.annotated.png", "url": entry["annotated_url"],
                      "label": f"{picture.name}, annotated (PNG)"})
        default_detections.append({
            "image": picture.name, "width": image.width, "height": image.height,
            "detections": [{k: v for k, v in d.to_dict().items() if k != "class_id"}
                           for d in kept],
        })
        ctx.report((index + 1) / total, event="picture", data={"picture": entry},
                   metrics={"done": index + 1}, force=True)

    summary_url = ctx.save_file("detections.json", json.dumps(default_detections).encode())
    files.insert(0, {"name": "detections.json", "url": summary_url,
                     "label": f"Detections at confidence {conf:g}, IoU {iou:g} (JSON)"})
    return {
        "files": files,
        "pictures": entries,
        "class_names": detector.class_names,
        "model": model_card(),
        "conf": conf,
        "iou": iou,
        "classes": wanted or [],
        "device": str(detector.device),
    }


register(JobKind(
    name="detect",
    label="Object detection",
    run="detection.tasks:run",
    template="detection/job.html",
    new_url_name="detection:new",
    blurb="Upload photos (or a zip of them) and find 80 kinds of everyday objects with "
          "YOLOv3-tiny; tune confidence and overlap live, export JSON or COCO.",
))
