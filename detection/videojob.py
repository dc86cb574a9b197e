"""The `detect` job's video mode in the worker: a clip in, detections on every frame out.

parse (the clip checked from its headers again) -> load (the detector, from the model
cache) -> loop (decode frames with PyAV, detect in batches, draw, write the annotated
clip and the plain one, report progress and a live preview) -> export (annotated.webm,
clip.webm, frames.json, candidates.json, the key frame's X-ray and the counts of each
class over time in Job.result).

As for pictures (detection.worker), each frame's candidates – every box down to the
engine's floor (CANDIDATE_FLOOR, 0.05) after the near-duplicate NMS (CANDIDATE_IOU), at
most VIDEO_CANDIDATES a frame, rounded as stored – are kept, and the job's own boxes are
`refilter`ed from exactly those: the page re-filters them with the same function (in JS)
and gets the job's boxes back at the job's settings. candidates.json is compact (one flat
list of numbers per frame); clip.webm has no boxes drawn, at most PLAIN_SIDE pixels on
its longer side, for the page to draw the re-filtered boxes over (docs/detection.md).

The key frame (the first frame with the most boxes at the job's settings) is kept while
the loop goes and gets one more forward pass for its X-ray (detection.xray).

Frames are decoded as the loop asks and dropped once drawn and written, so memory follows
one batch of frames (and the key frame), not the clip's length.
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
from detection.modelcard import CANDIDATE_FLOOR, CANDIDATE_IOU, ModelCard
from detection.video import ClipWriter, VideoError, VideoInfo, VideoLimits, probe_video, read_frames
from detection.xray import look, xray
from detection.yolo import Detection, Detector, refilter
from webapp.runner import JobContext, JobError, thin

PREVIEW_EVERY_S = 1.0  # wall time between live previews
PREVIEW_WIDTH = 480
COUNT_POINTS = 600  # points of each class's count curve kept in Job.result
VIDEO_CANDIDATES = 100  # candidates kept per frame, best first (caps candidates.json)
PLAIN_SIDE = 960  # longer side of the plain clip the page plays (caps clip.webm)


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
    plain_size = _plain_size(info.width, info.height)
    plain = ClipWriter(*plain_size, info.fps)
    per_frame: list[dict[str, Any]] = []
    stored: list[list[float]] = []  # each frame's candidates, flat (candidates.json)
    counts: dict[str, list[int]] = {}
    key: tuple[int, int, Image.Image] | None = None  # (boxes, frame, picture) of the key frame
    started = last_preview = time.monotonic()
    batch: list[tuple[int, float, Image.Image]] = []

    def flush() -> None:
        nonlocal last_preview, key
        images = [image for _, _, image in batch]
        found = detector.candidates(images, batch_size=len(images))
        for (index, seconds, image), cands in zip(batch, found, strict=True):
            cands = kept_candidates(cands)
            dets = refilter(
                cands,
                conf=request.conf,
                iou=request.iou,
                classes=request.classes or None,
                class_conf=request.class_conf,
            )
            drawn = annotate(image, dets)
            writer.write(_array(drawn))
            small = image if image.size == plain_size else image.resize(plain_size, Image.BILINEAR)
            plain.write(_array(small))
            stored.append([v for d in cands for v in (d.class_id, d.score, *d.box)])
            per_frame.append(
                {
                    "frame": index,
                    "time": round(seconds, 3),
                    "detections": [_public(d) for d in dets],
                }
            )
            if key is None or len(dets) > key[0]:
                key = (len(dets), index, image)
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
    clips = {"annotated": writer.close(), "plain": plain.close()}
    elapsed = time.monotonic() - started
    frames = Frames(per_frame, stored, counts, key)
    return export(ctx, detector, request, frames, clips, elapsed, made)


@dataclass
class Frames:
    """What the loop found: each frame's boxes at the job's settings and its candidates."""

    per_frame: list[dict[str, Any]]  # frames.json's frames
    stored: list[list[float]]  # candidates.json's frames
    counts: dict[str, list[int]]  # class -> boxes on each frame
    key: tuple[int, int, Image.Image] | None  # (boxes, frame index, picture)


def kept_candidates(candidates: list[Detection]) -> list[Detection]:
    """A frame's candidates as candidates.json stores them: the best VIDEO_CANDIDATES,
    rounded as Detection.to_dict rounds (the job's boxes are re-filtered from these)."""
    return [
        Detection(d.class_id, d.class_name, round(d.score, 4), tuple(round(v, 1) for v in d.box))
        for d in candidates[:VIDEO_CANDIDATES]
    ]


def export(
    ctx: JobContext,
    detector: Detector,
    request: VideoRequest,
    frames: Frames,
    clips: dict[str, bytes],
    elapsed: float,
    made: dict[str, Any],
) -> dict[str, Any]:
    """The clip's files and result; `made`: how it was made (detection.worker.made_with)."""
    info = request.info
    per_frame = frames.per_frame
    times = [f["time"] for f in per_frame]
    settings = {
        "video": request.name,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "conf": request.conf,
        "iou": request.iou,
        "class_conf": request.class_conf,
    }
    candidates_doc = {
        **settings,
        "classes": request.classes,
        "floor": CANDIDATE_FLOOR,
        "candidate_iou": CANDIDATE_IOU,
        "per_frame": VIDEO_CANDIDATES,
        "class_names": detector.class_names,
        "layout": ["class_id", "score", "x1", "y1", "x2", "y2"],
        "times": times,
        "frames": frames.stored,
    }
    files = [
        {
            "name": "annotated.webm",
            "url": ctx.save_file("annotated.webm", clips["annotated"]),
            "label": "The clip with its boxes (WebM)",
        },
        {
            "name": "frames.json",
            "url": ctx.save_file(
                "frames.json", json.dumps({**settings, "frames": per_frame}).encode()
            ),
            "label": "Detections of every frame (JSON)",
        },
    ]
    plain = ctx.save_file("clip.webm", clips["plain"])
    candidates = json.dumps(candidates_doc, separators=(",", ":")).encode()
    candidates_url = ctx.save_file("candidates.json", candidates)
    series = {
        name: thin([[t, c] for t, c in zip(times, values, strict=True)], COUNT_POINTS)
        for name, values in sorted(frames.counts.items(), key=lambda kv: -max(kv[1]))
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
            "plain_url": plain,
            "candidates_url": candidates_url,
            "bytes": {
                "annotated": len(clips["annotated"]),
                "plain": len(clips["plain"]),
                "candidates": len(candidates),
            },
            "processing_fps": round(len(per_frame) / max(elapsed, 1e-6), 2),
            "batch_size": request.batch_size,
        },
        **({"key_frame": key_frame(ctx, detector, frames.key)} if frames.key else {}),
        "counts": series,
        **made,
        "precision": str(detector.dtype).removeprefix("torch."),
    }


def key_frame(
    ctx: JobContext, detector: Detector, key: tuple[int, int, Image.Image]
) -> dict[str, Any]:
    """The key frame's picture and X-ray (one more forward pass), as a picture's entry."""
    boxes, index, image = key
    doc = xray(detector, look(detector, image))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return {
        "index": index,
        "name": f"frame {index + 1}",
        "width": image.width,
        "height": image.height,
        "found": boxes,
        "url": ctx.save_file("keyframe.jpg", buffer.getvalue()),
        "xray_url": ctx.save_file("keyframe.xray.json", json.dumps(doc, allow_nan=False).encode()),
    }


def _plain_size(width: int, height: int) -> tuple[int, int]:
    """The plain clip's size: the clip's, its longer side at most PLAIN_SIDE."""
    scale = min(1.0, PLAIN_SIDE / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


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
