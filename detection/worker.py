"""The `detect` job kind in the worker: YOLO over the job's pictures, one at a time.

parse (thresholds, the stored uploads checked from their headers) -> load (the detector,
once per worker process) -> loop (decode one picture, detect, store its files, report
it) -> export (the summary file and Job.result). Pictures are decoded one at a time, so
a job's memory follows its largest picture, not how many it has (services.estimate).

For each picture the worker stores the normalised original (EXIF-rotated, RGB), every
candidate box above the engine's low floor (so the page re-filters without running the
model again), its X-ray (detection.xray: grids, anchors, objectness, every candidate before
NMS with the cell and anchor it came from) and a PNG annotated at the job's own thresholds.
"""

from __future__ import annotations

import io
import itertools
import json
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from PIL import Image

from detection.annotate import annotate
from detection.labels import LabelError, PictureSize, label_files, read_labels
from detection.modelcard import ModelCard, model_card_for
from detection.proposals import compare as compare_two_stage
from detection.services import KIND, model_card
from detection.thresholds import format_class_conf, threshold
from detection.windows import compare
from detection.xray import candidates as xray_candidates
from detection.xray import look, xray
from detection.yolo import Detection, Detector, bf16_supported, refilter, select
from webapp.modelfiles import ModelFileError, model_path
from webapp.pictures import (
    Picture,
    UploadError,
    UploadLimits,
    check_request_pixels,
    probe_upload,
    read_upload,
)
from webapp.runner import JobContext, JobError
from webapp.tools import upload_limits


@dataclass(frozen=True)
class DetectRequest:
    """What one job asks for, from its parameters and its stored uploads."""

    model: ModelCard
    conf: float
    iou: float
    classes: list[str]  # empty: every class
    class_conf: dict[str, float]  # some classes' own confidence instead of `conf`
    uploads: list[tuple[str, bytes]]  # (file name as uploaded, its bytes), in upload order
    total: int  # pictures in all uploads together
    limits: UploadLimits
    labels: list[tuple[str, bytes]]  # label files (zips opened), when the job measures mAP
    windows: int  # window side of the sliding-window comparison (first picture); 0: none
    compare: list[ModelCard]  # other models run over the same labelled pictures
    proposals: bool = False  # the two-stage comparison (region proposals) on the first picture


@dataclass(frozen=True)
class PictureDone:
    entry: dict[str, Any]  # the `picture` event's payload, also kept in Job.result
    detections: dict[str, Any]  # this picture in detections.json
    annotated: dict[str, str]  # the annotated PNG as a result file
    size: PictureSize  # the picture as decoded (upright)
    low: list[Detection]  # detections down to EVAL_FLOOR, for mAP (only when labelled)


def parse(ctx: JobContext) -> DetectRequest:
    """The job's settings and uploads; the uploads are checked again from their headers
    (the form did it, but the limits may have changed since)."""
    params = ctx.params
    names = params.get("upload_names", [])
    keys = sorted(k for k in params.get("inputs", {}) if k.startswith("upload-"))
    uploads = [
        (names[i] if i < len(names) else key, ctx.read_input(key)) for i, key in enumerate(keys)
    ]
    limits = upload_limits()
    try:
        infos = [info for name, data in uploads for info in probe_upload(data, name, limits)]
        check_request_pixels(infos, limits)
    except UploadError as exc:
        raise JobError(str(exc)) from exc
    if not infos:
        raise JobError("This job has no pictures.")
    model = job_model(params)
    label_names = params.get("label_names") or []
    label_keys = sorted(k for k in params.get("inputs", {}) if k.startswith("labels-"))
    labels: list[tuple[str, bytes]] = []
    if label_keys:
        try:  # checked by the form; again here, before any work, with the same rules
            labels = label_files(
                [(label_names[i] if i < len(label_names) else key, ctx.read_input(key))
                 for i, key in enumerate(label_keys)],
                limits,
            )  # fmt: skip
            names_ = load_class_names(model)
            read_labels(labels, [PictureSize(i.name, i.width, i.height) for i in infos], names_)
        except LabelError as exc:
            raise JobError(f"The labels cannot be used: {exc}") from exc
    return DetectRequest(
        model=model,
        conf=float(params["conf"]),
        iou=float(params["iou"]),
        classes=list(params.get("classes") or []),
        class_conf={str(k): float(v) for k, v in (params.get("class_conf") or {}).items()},
        uploads=uploads,
        total=len(infos),
        limits=limits,
        labels=labels,
        windows=int(params.get("windows") or 0),
        compare=[job_model({"model": k}) for k in params.get("compare") or []] if labels else [],
        proposals=bool(params.get("proposals")),
    )


EVAL_FLOOR = 0.005  # lowest score counted for mAP (COCO-style evaluations go low)


def job_model(params: dict[str, Any]) -> ModelCard:
    """The model a job asked for (jobs from before the choice: the default)."""
    try:
        return model_card_for(params.get("model"))
    except ValueError as exc:
        raise JobError(f"This job asks for a model this worker does not know: {exc}") from exc


def load_class_names(card: ModelCard) -> list[str]:
    """A model's class names, without loading the model."""
    try:
        path = model_path(card.names)
    except ModelFileError as exc:
        raise JobError(f"The detection model is not installed on this worker: {exc}") from exc
    return [n.strip() for n in path.read_text().splitlines() if n.strip()]


def load(ctx: JobContext, card: ModelCard, *, bf16: bool = False) -> Detector:
    """Model `card`'s detector on this worker's device, from the per-process model cache
    (`bf16`: its bfloat16 twin, for a CPU with native bfloat16; see Detector)."""
    try:
        paths = [model_path(n) for n in (card.cfg, card.weights, card.names)]
    except ModelFileError as exc:
        raise JobError(f"The detection model is not installed on this worker: {exc}") from exc
    device = ctx.device
    return ctx.models.get(
        f"{KIND}:{card.key}:{device}" + (":bf16" if bf16 else ""),
        paths,
        lambda: Detector.from_files(*paths, device=device, bf16=bf16),
    )


def pictures(request: DetectRequest) -> Iterator[Picture]:
    """The job's pictures, each decoded only when the loop asks for it."""
    for name, data in request.uploads:
        try:
            yield from read_upload(data, name, request.limits)
        except UploadError as exc:  # damage inside the pixel data, which headers cannot show
            raise JobError(str(exc)) from exc


def loop(ctx: JobContext, detector: Detector, request: DetectRequest) -> list[PictureDone]:
    """Detect in each picture, store its files and report it as soon as it is done."""
    ctx.report(
        0.0,
        metrics={"device": str(detector.device), "pictures": request.total, "done": 0},
        force=True,
    )
    done: list[PictureDone] = []
    for index, picture in enumerate(pictures(request)):
        if ctx.should_stop():
            break
        done.append(detect_one(ctx, detector, request, index, picture))
        del picture  # let it go before the next one is decoded
        ctx.report(
            (index + 1) / request.total,
            event="picture",
            data={"picture": done[-1].entry},
            metrics={"done": index + 1},
            force=True,
        )
    return done


def detect_one(
    ctx: JobContext, detector: Detector, request: DetectRequest, index: int, picture: Picture
) -> PictureDone:
    image = picture.image
    seen = look(detector, image)  # one forward pass for the candidates and the X-ray
    candidates = xray_candidates(detector, seen)
    kept = refilter(
        candidates,
        conf=request.conf,
        iou=request.iou,
        classes=request.classes or None,
        class_conf=request.class_conf,
    )
    low = []
    if request.labels:  # mAP counts every box down to a low floor, as COCO's evaluation does
        boxes = select(seen.rows, net_size=seen.net_size, conf=EVAL_FLOOR, iou=request.iou)
        low = detector._to_detections(*boxes, seen.letterbox)
    stem = f"picture-{index + 1:03d}"
    size = {"width": image.width, "height": image.height}
    candidate_doc = {"name": picture.name, **size, "candidates": [d.to_dict() for d in candidates]}
    annotated_url = ctx.save_file(f"{stem}.annotated.png", _png(annotate(image, kept)))
    entry = {
        "index": index,
        "name": picture.name,
        **size,
        "url": ctx.save_file(f"{stem}.jpg", _jpeg(image)),
        "candidates_url": ctx.save_file(
            f"{stem}.candidates.json", json.dumps(candidate_doc).encode()
        ),
        "annotated_url": annotated_url,
        "xray_url": ctx.save_file(
            f"{stem}.xray.json", json.dumps(xray(detector, seen), allow_nan=False).encode()
        ),
        "candidates": len(candidates),
        "found": len(kept),
    }
    return PictureDone(
        entry=entry,
        detections={"image": picture.name, **size, "detections": [_public(d) for d in kept]},
        annotated={
            "name": f"{stem}.annotated.png",
            "url": annotated_url,
            "label": f"{picture.name}, annotated (PNG)",
        },
        size=PictureSize(picture.name, image.width, image.height),
        low=low,
    )


def export(
    ctx: JobContext, detector: Detector, request: DetectRequest, done: list[PictureDone]
) -> dict[str, Any]:
    """detections.json at the job's thresholds, and the job's result."""
    summary_url = ctx.save_file(
        "detections.json", json.dumps([d.detections for d in done]).encode()
    )
    own = f" ({format_class_conf(request.class_conf)})" if request.class_conf else ""
    summary = {
        "name": "detections.json",
        "url": summary_url,
        "label": f"Detections at confidence {request.conf:g}{own}, IoU {request.iou:g} (JSON)",
    }
    evaluation = evaluate_labels(ctx, detector, request, done) if request.labels else None
    windows = compare_windows(ctx, detector, request, done) if request.windows and done else None
    compared = evaluation and request.compare
    models = compare_models(ctx, detector, request, done) if compared else None
    two_stage = (
        compare_proposals(ctx, detector, request, done) if request.proposals and done else None
    )
    return {
        **({"evaluation": evaluation} if evaluation else {}),
        **({"comparison": models} if models else {}),
        **({"windows": windows} if windows else {}),
        **({"proposals": two_stage} if two_stage else {}),
        "files": [summary, *(d.annotated for d in done)],
        "pictures": [d.entry for d in done],
        **made_with(detector, request),
    }


def evaluate_labels(
    ctx: JobContext, detector: Detector, request: DetectRequest, done: list[PictureDone]
) -> dict[str, Any]:
    """mAP on the job's labels (pycocotools, detection.evaluate) and, at the job's own
    thresholds, each picture's hits, false positives (with why) and misses.
    Stores evaluation.json; returns its summary for Job.result."""
    sizes = [d.size for d in done]
    try:  # again with the decoded (upright) sizes; pixel boxes follow the picture
        truth = read_labels(request.labels, sizes, detector.class_names)
    except LabelError as exc:
        raise JobError(f"The labels cannot be used: {exc}") from exc
    found = {d.size.name: d.low for d in done}
    from detection.evaluate import evaluate, explain  # pycocotools: only jobs with labels

    metric = evaluate(sizes, truth, found, detector.class_names)
    outcomes = []
    for d in done:
        shown = [
            x for x in d.low
            if x.score >= threshold(x.class_name, request.conf, request.class_conf)
            and (not request.classes or x.class_name in request.classes)
        ]  # fmt: skip
        outcomes.append({"index": d.entry["index"], "name": d.size.name,
                         "outcomes": explain(truth[d.size.name], shown, 0.0)})  # fmt: skip
    counts = {k: sum(o["kind"] == k for p in outcomes for o in p["outcomes"])
              for k in ("tp", "fp", "miss")}  # fmt: skip
    doc = {**metric, "floor": EVAL_FLOOR, "conf": request.conf, "iou": request.iou,
           "class_conf": request.class_conf, "counts": counts, "pictures": outcomes}  # fmt: skip
    url = ctx.save_file("evaluation.json", json.dumps(doc, allow_nan=False).encode())
    return {
        "url": url,
        "map50": metric["map50"],
        "map": metric["map"],
        "labelled": metric["labelled"],
        "counts": counts,
        "classes": [{k: v for k, v in c.items() if k != "pr"} for c in metric["classes"]],
    }


def compare_windows(
    ctx: JobContext, detector: Detector, request: DetectRequest, done: list[PictureDone]
) -> dict[str, Any]:
    """Sliding windows vs the convolutional pass on the first picture (detection.windows);
    stores windows.json (both grids) and returns it for Job.result."""
    ctx.report(1.0, metrics={"comparing_windows": True}, force=True)
    first = next(pictures(request))
    try:
        doc = compare(detector, first.image, window=request.windows)
    except ValueError as exc:
        raise JobError(str(exc)) from exc
    doc = {"picture": first.name, "index": done[0].entry["index"], **doc}
    url = ctx.save_file("windows.json", json.dumps(doc, allow_nan=False).encode())
    return {**doc, "url": url}


def compare_models(
    ctx: JobContext, detector: Detector, request: DetectRequest, done: list[PictureDone]
) -> dict[str, Any]:
    """The chosen model and each model of `request.compare` over the same labelled
    pictures: mAP, AP per class and PR curves by pycocotools (detection.evaluate, every box
    down to EVAL_FLOOR, as `evaluate_labels`) and the median time per picture (letterbox,
    network, decoding, NMS; one picture at a time, the same for every model). Stores
    comparison.json; returns its summary for Job.result."""
    from detection.evaluate import evaluate

    sizes = [d.size for d in done]
    truth = read_labels(request.labels, sizes, detector.class_names)  # checked by evaluate_labels
    rows = []
    for n, card in enumerate([request.model, *request.compare]):
        ctx.report(1.0, metrics={"comparing_models": f"{n + 1} of {len(request.compare) + 1}"},
                   force=True)  # fmt: skip
        model = detector if n == 0 else load(ctx, card)
        if model.class_names != detector.class_names:
            raise JobError(f"{card.name} has other classes than {request.model.name}.")
        found: dict[str, list[Detection]] = {}
        seconds = []
        for picture in itertools.islice(pictures(request), len(done)):
            if ctx.should_stop():
                return {}
            start = time.perf_counter()
            found[picture.name] = model.detect([picture.image], EVAL_FLOOR, request.iou)[0]
            seconds.append(time.perf_counter() - start)
        metric = evaluate(sizes, truth, found, model.class_names)
        rows.append({"model": model_card(card), "ms_per_picture": 1000 * statistics.median(seconds),
                     **metric})  # fmt: skip
    url = ctx.save_file("comparison.json", json.dumps({"models": rows}, allow_nan=False).encode())
    summary = [{**r, "classes": [{k: v for k, v in c.items() if k != "pr"} for c in r["classes"]]}
               for r in rows]  # fmt: skip
    return {"url": url, "models": summary}


def compare_proposals(
    ctx: JobContext, detector: Detector, request: DetectRequest, done: list[PictureDone]
) -> dict[str, Any]:
    """The two-stage detector vs YOLO's one pass on the first picture (detection.proposals),
    at the job's thresholds; stores proposals.json and returns it for Job.result."""
    ctx.report(1.0, metrics={"comparing_proposals": True}, force=True)
    first = next(pictures(request))
    doc = compare_two_stage(detector, first.image, conf=request.conf, iou=request.iou)
    doc = {"picture": first.name, "index": done[0].entry["index"], **doc}
    url = ctx.save_file("proposals.json", json.dumps(doc, allow_nan=False).encode())
    return {**doc, "url": url}


def made_with(detector: Detector, request: Any) -> dict[str, Any]:
    """What every detection result records of how it was made: model, thresholds, device."""
    return {
        "class_names": detector.class_names,
        "model": model_card(request.model),
        "conf": request.conf,
        "iou": request.iou,
        "classes": request.classes,
        "class_conf": request.class_conf,
        "device": str(detector.device),
    }


def run(ctx: JobContext) -> dict[str, Any]:
    """The `detect` job: see the module's docstring (a clip: detection.videojob)."""
    if ctx.params.get("mode") == "video":
        from detection import videojob  # PyAV: only clips

        clip = videojob.parse(ctx, job_model(ctx.params))
        # Throughput matters most for a clip: bfloat16 where the CPU does it natively.
        detector = load(ctx, clip.model, bf16=bf16_supported(ctx.device))
        return videojob.run_video(ctx, detector, clip, made_with(detector, clip))
    request = parse(ctx)
    detector = load(ctx, request.model)
    return export(ctx, detector, request, loop(ctx, detector, request))


def _public(detection: Detection) -> dict[str, Any]:
    """A detection as our JSON export shows it (no class index)."""
    return {k: v for k, v in detection.to_dict().items() if k != "class_id"}


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=False)
    return buffer.getvalue()


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()
