"""The `detect` job's video mode in the worker: a clip in, detections on every frame out.

parse (the clip checked from its headers again) -> load (the detector, from the model
cache) -> loop (decode frames with PyAV, detect in batches, draw, write the annotated
clip, report progress and a live preview) -> export (annotated.webm, frames.json and the
counts of each class over time in Job.result).

Frames are decoded as the loop asks and dropped once drawn and written, so memory follows
one batch of frames, not the clip's length.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from detection.annotate import annotate
from detection.modelcard import ModelCard
from detection.video import ClipWriter, VideoError, VideoInfo, VideoLimits, probe_video, read_frames
from detection.yolo import Detector
from webapp.runner import JobContext, JobError, thin

PREVIEW_EVERY_S = 1.0  # wall time between live previews
PREVIEW_WIDTH = 480
COUNT_POINTS = 600  # points of each class's count curve kept in Job.result


@dataclass(frozen=True)
class VideoRequest:
    model: ModelCard
    conf: float
    iou: float
    classes: list[str]
    class_conf: dict[str, float]
    batch_size: int
    name: str
    data: bytes
    info: VideoInfo
    limits: VideoLimits


def video_limits(params: dict[str, Any]) -> VideoLimits:
    """The limits a clip is checked against (the form stored none: the defaults)."""
    return VideoLimits()


def parse(ctx: JobContext, model: ModelCard) -> VideoRequest:
    """The clip job's request; `model`: the card the job asked for (detection.worker.job_model)."""
    params = ctx.params
    name = params.get("video_name") or "video"
    data = ctx.read_input("video")
    limits = video_limits(params)
    try:
        info = probe_video(data, name, limits)
    except VideoError as exc:
        raise JobError(str(exc)) from exc
    return VideoRequest(
        model=model,
        conf=float(params["conf"]),
        iou=float(params["iou"]),
        classes=list(params.get("classes") or []),
        class_conf={str(k): float(v) for k, v in (params.get("class_conf") or {}).items()},
        batch_size=max(1, min(int(params.get("batch_size", 8)), 32)),
        name=name,
        data=data,
        info=info,
        limits=limits,
    )


def run_video(
    ctx: JobContext, detector: Detector, request: VideoRequest, made: dict[str, Any]
) -> dict[str, Any]:
    """Detect on every frame (in batches), write the annotated clip, report as it goes."""
    info = request.info
    total = min(info.frames, request.limits.max_frames)
    ctx.report(
        0.0,
        metrics={
            "device": str(detector.device),
            "frames": total,
            "frames_done": 0,
            "video": {
                "width": info.width,
                "height": info.height,
                "fps": info.fps,
                "seconds": info.seconds,
                "codec": info.codec,
            },
        },
        force=True,
    )
    writer = ClipWriter(info.width, info.height, info.fps)
    per_frame: list[dict[str, Any]] = []
    counts: dict[str, list[int]] = {}
    started = last_preview = time.monotonic()
    batch: list[tuple[int, float, Image.Image]] = []

    def flush() -> None:
        nonlocal last_preview
        images = [image for _, _, image in batch]
        found = detector.detect(
            images,
            request.conf,
            request.iou,
            request.classes or None,
            class_conf=request.class_conf,
            batch_size=len(images),
        )
        for (index, seconds, image), dets in zip(batch, found, strict=True):
            drawn = annotate(image, dets)
            writer.write(_array(drawn))
            per_frame.append(
                {
                    "frame": index,
                    "time": round(seconds, 3),
                    "detections": [_public(d) for d in dets],
                }
            )
            for name in counts:
                counts[name].append(0)
            for d in dets:
                counts.setdefault(d.class_name, [0] * len(per_frame))[-1] += 1
        done = len(per_frame)
        now = time.monotonic()
        metrics = {"frames_done": done, "fps": round(done / max(now - started, 1e-6), 2)}
        if now - last_preview >= PREVIEW_EVERY_S or done == len(batch):
            last_preview = now
            url = ctx.save_file("preview.jpg", _preview(drawn))
            ctx.report(
                done / total,
                event="preview",
                metrics=metrics,
                force=True,
                data={
                    "url": f"{url}?frame={done}",
                    "frame": done,
                    "found": len(per_frame[-1]["detections"]),
                },
            )
        else:
            ctx.report(done / total, metrics=metrics)
        batch.clear()

    try:
        for index, seconds, rgb in read_frames(request.data, request.name, request.limits):
            if ctx.should_stop():
                break
            batch.append((index, seconds, Image.fromarray(rgb)))
            if len(batch) >= request.batch_size:
                flush()
        if batch:
            flush()
    except VideoError as exc:
        raise JobError(str(exc)) from exc
    clip = writer.close()
    elapsed = time.monotonic() - started
    return export(ctx, detector, request, per_frame, counts, clip, elapsed, made)


def export(
    ctx: JobContext,
    detector: Detector,
    request: VideoRequest,
    per_frame: list[dict[str, Any]],
    counts: dict[str, list[int]],
    clip: bytes,
    elapsed: float,
    made: dict[str, Any],
) -> dict[str, Any]:
    """The clip's files and result; `made`: how it was made (detection.worker.made_with)."""
    info = request.info
    times = [f["time"] for f in per_frame]
    frames_doc = {
        "video": request.name,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "conf": request.conf,
        "iou": request.iou,
        "class_conf": request.class_conf,
        "frames": per_frame,
    }
    files = [
        {
            "name": "annotated.webm",
            "url": ctx.save_file("annotated.webm", clip),
            "label": "The clip with its boxes (WebM)",
        },
        {
            "name": "frames.json",
            "url": ctx.save_file("frames.json", json.dumps(frames_doc).encode()),
            "label": "Detections of every frame (JSON)",
        },
    ]
    series = {
        name: thin([[t, c] for t, c in zip(times, values, strict=True)], COUNT_POINTS)
        for name, values in sorted(counts.items(), key=lambda kv: -max(kv[1]))
    }
    return {
        "mode": "video",
        "files": files,
        "video": {
            "name": request.name,
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "seconds": info.seconds,
            "codec": info.codec,
            "container": info.container,
            "frames": len(per_frame),
            "url": files[0]["url"],
            "frames_url": files[1]["url"],
            "processing_fps": round(len(per_frame) / max(elapsed, 1e-6), 2),
            "batch_size": request.batch_size,
        },
        "counts": series,
        **made,
        "precision": str(detector.dtype).removeprefix("torch."),
    }


def _array(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def _preview(image: Image.Image) -> bytes:
    small = image.copy()
    small.thumbnail((PREVIEW_WIDTH, PREVIEW_WIDTH))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _public(detection) -> dict[str, Any]:
    return {k: v for k, v in detection.to_dict().items() if k != "class_id"}
