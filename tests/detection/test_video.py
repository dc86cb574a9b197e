"""Video: clips made here (PyAV encodes them) read back, hostile clips refused with a clear
message, a drawn object moving across frames found on each frame, and a video job through
the real worker, server and Redis."""

from __future__ import annotations

import asyncio
import io
import json

import av
import numpy as np
import pytest
from django.test import Client
from PIL import Image

from detection.video import (
    ClipWriter,
    VideoError,
    VideoLimits,
    encode_clip,
    probe_video,
    read_frames,
)
from detection.videojob import _public
from detection.yolo import refilter
from tests.conftest import session_cookie, ws_collect
from tests.detection.test_worker import _get, oranges_png
from webapp.models import Job


def moving_oranges(n: int = 10, size=(480, 270)) -> list[np.ndarray]:
    """Grey frames with the oranges photo crop sliding right (`patch_x` says where)."""
    orange = np.array(Image.open(io.BytesIO(oranges_png())).convert("RGB"))
    frames = []
    for i in range(n):
        frame = np.full((size[1], size[0], 3), 128, np.uint8)
        x = patch_x(i, n, size[0])
        frame[50:210, x : x + 160] = orange
        frames.append(frame)
    return frames


def patch_x(i: int, n: int, width: int = 480) -> int:
    return 20 + i * min(25, (width - 200) // max(n - 1, 1))


def empty_clip() -> bytes:
    """An MP4 whose header was written with a video track and not one frame (FFmpeg
    drops the empty track on reading)."""
    buffer = io.BytesIO()
    out = av.open(buffer, "w", format="mp4")
    stream = out.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    out.start_encoding()
    out.close()
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("container", "codec", "kind"),
    [
        ("mp4", "libx264", "MP4/MOV"),
        ("webm", "libvpx-vp9", "WebM/MKV"),
        ("mov", "mpeg4", "MP4/MOV"),
    ],
)
def test_clips_are_probed_and_read_frame_by_frame(container, codec, kind):
    frames = moving_oranges(6)
    data = encode_clip(frames, 12, container=container, codec=codec)
    info = probe_video(data, f"clip.{container}")
    assert (info.container, info.width, info.height, info.fps) == (kind, 480, 270, 12)
    assert info.frames == 6 and info.seconds == pytest.approx(0.5, abs=0.1)
    got = list(read_frames(data, f"clip.{container}"))
    assert [i for i, _, _ in got] == list(range(6))
    assert got[3][1] == pytest.approx(3 / 12, abs=1e-3)
    # the picture survives lossy coding: the orange patch is where it was drawn
    assert np.abs(got[3][2].astype(int) - frames[3]).mean() < 8


def test_frames_past_the_limit_are_not_decoded():
    data = encode_clip(moving_oranges(8), 8)
    assert len(list(read_frames(data, "c.mp4", VideoLimits(max_frames=5)))) == 5


def recorded_webm(n: int) -> bytes:
    """A WebM as a browser's MediaRecorder writes it: no duration, no cues."""
    return encode_clip(moving_oranges(n, (320, 240)), 10, container="webm", codec="libvpx",
                       options={"live": "1"})  # fmt: skip


def test_a_recording_that_declares_no_length_is_counted_and_read():
    data = recorded_webm(12)
    with av.open(io.BytesIO(data)) as clip:  # what the browser's file declares: nothing
        assert clip.duration is None and not clip.streams.video[0].frames
    info = probe_video(data, "recording.webm")
    assert (info.container, info.frames, info.fps) == ("WebM/MKV", 12, 10)
    assert info.seconds == pytest.approx(1.2, abs=0.11)
    assert [i for i, _, _ in read_frames(data, "recording.webm")] == list(range(12))


def test_a_recording_past_the_frame_cap_is_refused_from_its_packets():
    with pytest.raises(VideoError, match="recording.webm: more than 10 frames; at most 10"):
        probe_video(recorded_webm(12), "recording.webm", VideoLimits(max_frames=10))


def test_the_annotated_clip_is_a_webm_the_frames_come_back_from():
    writer = ClipWriter(481, 271, 10)  # odd sides: cropped to even
    for frame in moving_oranges(5, (481, 271)):
        writer.write(frame)
    data = writer.close()
    info = probe_video(data, "out.webm")
    assert (info.container, info.codec, info.width, info.height) == ("WebM/MKV", "vp9", 480, 270)
    assert len(list(read_frames(data, "out.webm"))) == 5


def hostile() -> list[tuple[str, bytes, VideoLimits, str]]:
    good = encode_clip(moving_oranges(4), 4)
    return [
        ("cut.mp4", good[: len(good) // 2], VideoLimits(), "cut.mp4: not a video we can read"),
        (
            "photo.mp4",
            oranges_png(),
            VideoLimits(),
            "a piped png sequence file, not an MP4, MOV or WebM",
        ),
        (
            "notes.webm",
            b"hello, not a video\n" * 50,
            VideoLimits(),
            "notes.webm: not a video we can read",
        ),
        ("nothing.mp4", b"", VideoLimits(), "nothing.mp4: not a video we can read"),
        (
            "huge.mp4",
            encode_clip([np.zeros((1600, 2000, 3), np.uint8)], 1),
            VideoLimits(),
            "huge.mp4: 2000×1600 frames; at most 1920 pixels on a side",
        ),
        ("long.mp4", good, VideoLimits(max_seconds=0.5), "long.mp4: 1 s long; at most 0 s"),
        ("big.mp4", good, VideoLimits(max_bytes=100), "big.mp4: larger than the 100 bytes"),
        ("empty.mp4", empty_clip(), VideoLimits(), "empty.mp4: the file holds no video stream"),
    ]


@pytest.mark.parametrize(
    ("name", "data", "limits", "message"), hostile(), ids=lambda v: str(v)[:12]
)
def test_hostile_clips_get_a_clear_error(name, data, limits, message):
    with pytest.raises(VideoError) as info:
        list(read_frames(data, name, limits))
    assert message in str(info.value)


@pytest.mark.weights
def test_a_drawn_object_moving_is_found_on_every_frame(real_files):
    from detection.yolo import Detector

    detector = Detector.from_files(*real_files)
    data = encode_clip(moving_oranges(10), 10)
    frames = [Image.fromarray(rgb) for _, _, rgb in read_frames(data, "oranges.mp4")]
    found = detector.detect(frames, 0.1, 0.45, batch_size=5)
    centres = []
    for i, dets in enumerate(found):
        x = patch_x(i, 10)
        inside = [
            d
            for d in dets
            if d.class_name == "orange"
            and x <= (d.box[0] + d.box[2]) / 2 <= x + 160
            and 50 <= (d.box[1] + d.box[3]) / 2 <= 210
        ]
        assert inside, f"frame {i}: no orange on the patch at x={x}"
        centres.append(np.mean([(d.box[0] + d.box[2]) / 2 for d in inside]))
    assert centres[-1] - centres[0] > 150  # the boxes moved with the patch (225 pixels)
    # batched or one by one: the same boxes
    single = [detector.detect([f], 0.1, 0.45)[0] for f in frames[:3]]
    for a, b in zip(found[:3], single, strict=True):
        assert [d.class_name for d in a] == [d.class_name for d in b]
        np.testing.assert_allclose([d.box for d in a], [d.box for d in b], atol=1e-2)


def _upload(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


@pytest.mark.stack
@pytest.mark.weights
@pytest.mark.django_db(transaction=True)
def test_a_video_job_streams_previews_and_gives_clip_frames_and_counts(
    stack, make_user, real_files
):
    user = make_user("vera")
    client = Client()
    client.force_login(user)
    clip = encode_clip(moving_oranges(20), 10)
    response = client.post(
        "/detect/", {"conf": "0.1", "iou": "0.45", "video": _upload("oranges.mp4", clip)}
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    job = Job.objects.get()
    assert job.params["mode"] == "video" and job.params["frame_count"] == 20
    url = stack.base_url.replace("http", "ws") + f"/ws/jobs/{job.id}/"
    events = asyncio.run(
        ws_collect(
            url,
            cookie=session_cookie(user),
            origin=stack.base_url,
            timeout=90,
            until=lambda m: m["type"] == "result" or m.get("job", {}).get("status") == "failed",
        )
    )
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    previews = [e for e in events if e["type"] == "preview"]
    assert previews and previews[0]["frame"] == 8  # after the first batch of 8
    assert Image.open(io.BytesIO(_get(client, previews[0]["url"]))).format == "JPEG"

    result = job.result
    assert result["video"]["frames"] == 20 and result["video"]["batch_size"] == 8
    assert result["counts"]["orange"][0][0] == 0 and len(result["counts"]["orange"]) == 20
    assert all(count >= 1 for _, count in result["counts"]["orange"])
    annotated = b"".join(_get(client, result["video"]["url"]) for _ in [0])
    assert len(list(read_frames(annotated, "annotated.webm"))) == 20
    frames = json.loads(_get(client, result["video"]["frames_url"]))
    assert [f["frame"] for f in frames["frames"]] == list(range(20))
    assert all(
        f["detections"] and f["detections"][0]["class"] == "orange" for f in frames["frames"]
    )

    # The page's data: the plain clip (no boxes) and every frame's candidates, which
    # re-filter at the job's settings to exactly the boxes the job found and drew.
    plain = _get(client, result["video"]["plain_url"])
    assert len(list(read_frames(plain, "clip.webm"))) == 20
    assert result["video"]["bytes"]["plain"] == len(plain)
    stored = json.loads(_get(client, result["video"]["candidates_url"]))
    assert stored["floor"] == 0.05 and stored["times"] == [f["time"] for f in frames["frames"]]
    assert len(stored["frames"]) == 20
    lowest = []
    for found, flat in zip(frames["frames"], stored["frames"], strict=True):
        cands = stored_candidates(flat, stored["class_names"])
        assert len(cands) <= stored["per_frame"]
        lowest.append(min(d.score for d in cands))
        again = refilter(cands, conf=0.1, iou=0.45, classes=None, class_conf={})
        assert [_public(d) for d in again] == found["detections"]
        assert len(refilter(cands, conf=0.6, iou=0.45)) <= len(found["detections"])
    assert min(lowest) < 0.1  # below the job's confidence: the page's slider can go lower
    key = result["key_frame"]
    assert key["found"] == max(len(f["detections"]) for f in frames["frames"])
    assert len(frames["frames"][key["index"]]["detections"]) == key["found"]
    assert json.loads(_get(client, key["xray_url"]))["candidates"]
    assert Image.open(io.BytesIO(_get(client, key["url"]))).size == (480, 270)


def stored_candidates(flat: list[float], names: list[str]):
    """One frame of candidates.json back as Detections (class_id, score, x1, y1, x2, y2)."""
    from detection.yolo import Detection

    rows = [flat[i : i + 6] for i in range(0, len(flat), 6)]
    return [Detection(int(c), names[int(c)], s, (x1, y1, x2, y2)) for c, s, x1, y1, x2, y2 in rows]


@pytest.mark.django_db
def test_a_hostile_clip_is_refused_by_the_form_and_nothing_is_stored(
    client, make_user, settings, tmp_path
):
    client.force_login(make_user("hugo"))
    settings.MEDIA_ROOT = str(tmp_path)
    for name, data, limits, message in hostile():
        if limits != VideoLimits():  # those need a tighter limit than the site's
            continue
        if not data:  # Django's own check: "The submitted file is empty."
            continue
        response = client.post(
            "/detect/", {"conf": "0.25", "iou": "0.45", "video": _upload(name, data)}
        )
        html = response.content.decode()
        assert response.status_code == 400 and "Nothing was started." in html
        assert message in html
    both = client.post(
        "/detect/",
        {
            "conf": "0.25",
            "iou": "0.45",
            "video": _upload("a.mp4", encode_clip(moving_oranges(2), 2)),
            "pictures": [_upload("p.png", oranges_png())],
        },
    )
    assert "Send pictures or one clip, not both" in both.content.decode()
    assert Job.objects.count() == 0 and list(tmp_path.rglob("*.*")) == []
