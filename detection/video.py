"""Video clips, the untrusted kind: checked from their headers, decoded one frame at a time,
and the annotated clip written back. PyAV (FFmpeg) does the reading and writing.

- `probe_video(data, name, limits)`: the container and its video stream's declared size,
  frame rate, length and frame count, checked against `VideoLimits` before any frame is
  decoded (what the web process does); a clip that declares no length (a browser's
  recording) has its packets counted instead, still without decoding;
- `read_frames(data, name, limits)`: the frames as RGB arrays, one at a time, each checked
  again (a stream may declare one size and carry another), at most `max_frames`;
- `ClipWriter`: annotated frames -> a WebM (VP9) the browser plays.

Every failure is a `VideoError` whose message names the file and says what is wrong.
No Django here, and no picture decoding by PIL: frames come from FFmpeg's decoders.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

# Containers FFmpeg names for MP4/MOV and WebM/Matroska; anything else is refused.
CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4/MOV", "matroska,webm": "WebM/MKV"}


class VideoError(ValueError):
    """A clip we will not process; the message is for the person who sent it."""


@dataclass(frozen=True)
class VideoLimits:
    """What one clip may be (docs/detection.md, "Video")."""

    max_bytes: int = 20 * 2**20
    max_seconds: float = 60.0
    max_frames: int = 1800  # frames processed (60 s at 30 fps)
    max_side: int = 1920
    max_pixels: int = 1920 * 1080  # per frame


@dataclass(frozen=True)
class VideoInfo:
    name: str
    container: str  # "MP4/MOV" or "WebM/MKV"
    codec: str
    width: int
    height: int
    fps: float
    seconds: float
    frames: int  # declared, or estimated from length x rate

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _open(data: bytes, name: str):
    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise VideoError(f"{name}: not a video we can read ({_reason(exc)})") from exc


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.split(": '<")[0].strip()


def probe_video(data: bytes, name: str, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """The clip's declared facts, checked against `limits`; no frame is decoded."""
    if len(data) > limits.max_bytes:
        raise VideoError(f"{name}: larger than the {limits.max_bytes:,} bytes allowed")
    with _open(data, name) as container:
        kind = CONTAINERS.get(container.format.name)
        if kind is None:
            raise VideoError(
                f"{name}: a {container.format.long_name or container.format.name} file, "
                "not an MP4, MOV or WebM video"
            )
        if not container.streams.video:
            raise VideoError(f"{name}: the file holds no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if stream.duration is not None and stream.time_base:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / av.time_base
        else:
            seconds = 0.0
        frames = stream.frames or (round(seconds * fps) if fps else 0)
        if frames <= 0 and fps:  # a recording in progress declares no length: count it
            frames, seconds = _count_packets(container, stream, fps, name, limits)
        codec = stream.codec_context.name
    if not width or not height:
        raise VideoError(f"{name}: the video stream declares no picture size")
    if max(width, height) > limits.max_side or width * height > limits.max_pixels:
        raise VideoError(
            f"{name}: {width}×{height} frames; at most {limits.max_side} pixels on a side and "
            f"{limits.max_pixels / 1e6:.1f} million pixels per frame"
        )
    if not math.isfinite(seconds) or seconds > limits.max_seconds:
        raise VideoError(f"{name}: {seconds:.0f} s long; at most {limits.max_seconds:.0f} s")
    if not 0 < fps <= 240:
        raise VideoError(f"{name}: the frame rate ({fps:g}) is not one we can use")
    if frames <= 0:
        raise VideoError(f"{name}: the video declares no frames")
    return VideoInfo(name, kind, codec, width, height, fps, seconds, frames)


def _count_packets(container, stream, fps: float, name: str, limits: VideoLimits):
    """(frames, seconds) of a stream that declares neither – a browser's MediaRecorder
    writes its WebM while recording, so no duration or cues – from its packets (one per
    frame), demuxed but none decoded, and refused once past `max_frames`."""
    frames, first, last = 0, None, None
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            frames += 1
            if frames > limits.max_frames:
                raise VideoError(f"{name}: more than {limits.max_frames:,} frames; at most "
                                 f"{limits.max_frames:,} are processed")  # fmt: skip
            if packet.pts is not None:
                end = packet.pts + (packet.duration or 0)
                first = packet.pts if first is None else min(first, packet.pts)
                last = end if last is None else max(last, end)
    except av.error.FFmpegError as exc:
        raise VideoError(f"{name}: the video is damaged after {frames} frames "
                         f"({_reason(exc)})") from exc  # fmt: skip
    if first is None or not stream.time_base:
        return frames, frames / fps
    return frames, float((last - first) * stream.time_base)


def read_frames(
    data: bytes, name: str, limits: VideoLimits = VideoLimits()
) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, time in seconds, (H, W, 3) uint8 RGB) of each frame, decoded as asked.

    Stops after `limits.max_frames`; raises VideoError when a frame is damaged or larger
    than the limits, and when the clip yields no frame at all.
    """
    info = probe_video(data, name, limits)
    count = 0
    with _open(data, name) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if count >= limits.max_frames:
                    break
                if frame.width * frame.height > limits.max_pixels or (
                    max(frame.width, frame.height) > limits.max_side
                ):
                    raise VideoError(
                        f"{name}: frame {count + 1} is {frame.width}×{frame.height}, larger "
                        "than the limits"
                    )
                seconds = float(frame.time) if frame.time is not None else count / info.fps
                yield count, seconds, frame.to_ndarray(format="rgb24")
                count += 1
        except av.error.FFmpegError as exc:
            raise VideoError(
                f"{name}: the video is damaged after {count} frames ({_reason(exc)})"
            ) from exc
    if count == 0:
        raise VideoError(f"{name}: no frame could be decoded")


class ClipWriter:
    """Frames in, a WebM (VP9, realtime settings) out: `write(rgb)` per frame, `close()`
    returns the bytes. Odd sizes are cropped by one pixel (4:2:0 needs even sides)."""

    def __init__(self, width: int, height: int, fps: float):
        self.buffer = io.BytesIO()
        self.container = av.open(self.buffer, mode="w", format="webm")
        self.stream = self.container.add_stream(
            "libvpx-vp9", rate=Fraction(fps).limit_denominator(1001)
        )
        self.width, self.height = width - width % 2, height - height % 2
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1",
                               "crf": "32", "b": "0"}  # fmt: skip

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(rgb[: self.height, : self.width]), format="rgb24"
        )
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def close(self) -> bytes:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        return self.buffer.getvalue()


def encode_clip(
    frames: list[np.ndarray],
    fps: float,
    *,
    container: str = "mp4",
    codec: str = "libx264",
    options: dict[str, str] | None = None,
) -> bytes:
    """A clip from RGB frames in any container and codec PyAV writes (for tests and benches:
    the clips a person might send). `options` go to the muxer: {"live": "1"} for WebM writes
    it as a browser's MediaRecorder does, with no duration and no cues."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container, options=options or {}) as out:
        stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        h, w = frames[0].shape[:2]
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()
