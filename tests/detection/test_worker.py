"""A detection job through the real worker, the real ASGI server and Redis, on the real model."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import zipfile
import zlib

import pytest
from django.test import Client
from PIL import Image, ImageOps

from tests.conftest import require_model_file, session_cookie, wait_job_done, ws_collect
from webapp.models import Job

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True), pytest.mark.weights]


def oranges_png() -> bytes:
    """A 160x160 crop of scikit-learn's bundled flower photo where YOLOv3-tiny sees oranges
    (scores from about 0.05 up to about 0.4: some above, some below the default 0.25)."""
    from sklearn.datasets import load_sample_image

    photo = ImageOps.mirror(Image.fromarray(load_sample_image("flower.jpg")))
    buffer = io.BytesIO()
    photo.crop((240, 0, 400, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def sideways_jpeg() -> bytes:
    """64x32 pixels stored, with EXIF saying "rotate 90°": people see it 32x64."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), "teal").save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def real_model():
    require_model_file("yolov3-tiny.weights")


def test_a_job_detects_reports_per_picture_and_stores_boxes_in_picture_pixels(stack, make_user):
    user = make_user("olga")
    client = Client()
    client.force_login(user)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("more/sideways.jpg", sideways_jpeg())
    response = client.post(
        "/detect/",
        {
            "conf": "0.25",
            "iou": "0.45",
            "pictures": [
                _file("oranges.png", oranges_png()),
                _file("more.zip", archive.getvalue()),
            ],
        },
    )
    job = Job.objects.get()
    assert response.status_code == 302

    url = stack.base_url.replace("http", "ws") + f"/ws/jobs/{job.id}/"
    events = asyncio.run(
        ws_collect(
            url,
            cookie=session_cookie(user),
            origin=stack.base_url,
            timeout=60,
            until=lambda m: m["type"] == "result" or m.get("job", {}).get("status") == "failed",
        )
    )
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    types = [e["type"] for e in events]
    assert types[-1] == "result"
    pictures_events = [e for e in events if e["type"] == "picture"]
    assert [e["picture"]["name"] for e in pictures_events] == ["oranges.png", "more/sideways.jpg"]
    assert [e["progress"] for e in pictures_events] == [0.5, 1.0]

    result = events[-1]["job"]["result"]
    assert result["model"]["name"] == "YOLOv3-tiny" and len(result["class_names"]) == 80
    oranges, sideways = result["pictures"]
    assert (oranges["width"], oranges["height"]) == (160, 160)
    assert (sideways["width"], sideways["height"]) == (32, 64), "EXIF rotation is applied"

    stored = json.loads(_get(client, oranges["candidates_url"]))
    found = stored["candidates"]
    assert {d["class"] for d in found if d["score"] >= 0.25} == {"orange"}
    assert min(d["score"] for d in found) < 0.25 < max(d["score"] for d in found)
    for d in found:
        x1, y1, x2, y2 = d["box"]
        assert 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 160
    assert oranges["found"] == sum(1 for d in found if d["score"] >= 0.25) - _merged(found)

    xray = json.loads(_get(client, oranges["xray_url"]))
    assert [h["grid"] for h in xray["heads"]] == [[13, 13], [26, 26]]
    assert xray["letterbox"] == {"scale_x": 2.6, "scale_y": 2.6, "pad_x": 0, "pad_y": 0,
                                 "width": 160, "height": 160}  # fmt: skip
    oranges_seen = [c for c in xray["candidates"] if c["class"] == "orange"]
    assert len(oranges_seen) >= oranges["found"] and xray["candidates"][0]["score"] == max(
        d["score"] for d in found
    )

    annotated = Image.open(io.BytesIO(_get(client, oranges["annotated_url"])))
    assert annotated.format == "PNG" and annotated.size == (160, 160)
    original = Image.open(io.BytesIO(_get(client, sideways["url"])))
    assert original.size == (32, 64) and original.mode == "RGB"
    summary = json.loads(_get(client, result["files"][0]["url"]))
    assert [p["image"] for p in summary] == ["oranges.png", "more/sideways.jpg"]
    assert len(summary[0]["detections"]) == oranges["found"]
    assert set(summary[0]["detections"][0]) == {"class", "score", "box"}


def test_damage_inside_the_pixels_fails_the_job_naming_the_picture(stack, make_user):
    """The form checks headers only; the worker, decoding, finds what they cannot show."""
    client = Client()
    client.force_login(make_user("otto"))
    response = client.post(
        "/detect/",
        {"conf": "0.25", "iou": "0.45", "pictures": [_file("garbled.png", garbled_png())]},
    )
    assert response.status_code == 302
    job = wait_job_done(Job.objects.get())
    assert job.status == "failed"
    assert job.error.startswith("garbled.png: the picture is corrupt or incomplete")


def garbled_png() -> bytes:
    """A PNG whose header and checksums are right but whose pixel data is not zlib."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"\x00not zlib at all" * 8)
        + chunk(b"IEND", b"")
    )


def _merged(found) -> int:
    """How many of the boxes at >= 0.25 the default NMS (IoU 0.45) merges into another."""
    from detection.yolo import Detection, refilter

    kept = [Detection(d["class_id"], d["class"], d["score"], tuple(d["box"])) for d in found]
    above = [d for d in kept if d.score >= 0.25]
    return len(above) - len(refilter(kept, conf=0.25, iou=0.45))


def _file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def _get(client: Client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, url
    return b"".join(response.streaming_content)


def test_a_job_with_labels_measures_map_and_explains_errors(stack, make_user, real_files):
    """Two pictures labelled in YOLO format: the oranges YOLOv3-tiny finds (one box left
    out) on the first, a cup where there is none on the second. mAP comes back in the
    result, and evaluation.json holds PR curves and every hit, false positive and miss."""
    from detection.yolo import Detector

    detector = Detector.from_files(*real_files)
    picture = Image.open(io.BytesIO(oranges_png()))
    found = detector.detect([picture], 0.25, 0.45)[0]
    assert len(found) >= 2
    lines = [f"49 {(d.box[0] + d.box[2]) / 320} {(d.box[1] + d.box[3]) / 320} "
             f"{(d.box[2] - d.box[0]) / 160} {(d.box[3] - d.box[1]) / 160}"
             for d in found[1:]]  # fmt: skip  (49: orange in COCO's order)
    client = Client()
    client.force_login(make_user("elke"))
    response = client.post(
        "/detect/",
        {"conf": "0.25", "iou": "0.45",
         "pictures": [_file("oranges.png", oranges_png()), _file("teal.jpg", sideways_jpeg())],
         "labels": [_file("oranges.txt", "\n".join(lines).encode()),
                    _file("teal.txt", b"41 0.5 0.5 0.5 0.25\n")]},  # fmt: skip
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = wait_job_done(Job.objects.get())
    assert job.status == "succeeded", job.error
    assert job.title == "oranges.png and 1 more, with labels"
    evaluation = job.result["evaluation"]
    assert 0 < evaluation["map"] <= evaluation["map50"] < 1
    assert evaluation["labelled"] == len(found)
    assert {c["class"] for c in evaluation["classes"]} == {"orange", "cup"}
    cup = next(c for c in evaluation["classes"] if c["class"] == "cup")
    assert cup["ap50"] == 0 and cup["labelled"] == 1
    assert evaluation["counts"]["miss"] >= 1 and evaluation["counts"]["fp"] >= 1

    doc = json.loads(_get(client, evaluation["url"]))
    oranges_out, teal_out = doc["pictures"]
    assert [o["kind"] for o in teal_out["outcomes"]] == ["miss"]
    assert teal_out["outcomes"][0]["class"] == "cup"
    assert sum(o["kind"] == "tp" for o in oranges_out["outcomes"]) == len(found) - 1
    left_out = [o for o in oranges_out["outcomes"] if o["kind"] == "fp"]
    assert left_out and left_out[0]["why"].startswith(("background", "low IoU"))
    orange = next(c for c in doc["classes"] if c["class"] == "orange")
    assert len(orange["pr"]) == 101 and orange["pr"][0][1] <= 1


def test_bad_labels_are_refused_by_the_form_by_file_and_line(stack, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    client = Client()
    client.force_login(make_user("ivo"))
    bad = b"49 0.5 0.5 0.2 0.2\n49 0.5 0.5 0.2\n99 .5 .5 .1 .1\n"
    response = client.post(
        "/detect/",
        {"conf": "0.25", "iou": "0.45", "pictures": [_file("oranges.png", oranges_png())],
         "labels": [_file("oranges.txt", bad)]},  # fmt: skip
    )
    html = response.content.decode()
    assert response.status_code == 400 and "Nothing was started." in html
    assert "oranges.txt:2: 4 columns" in html
    assert "oranges.txt:3: class 99 is not one of the model&#x27;s 80 classes" in html
    assert Job.objects.count() == 0 and list(tmp_path.rglob("*.*")) == []  # nothing stored


def test_a_job_runs_the_model_it_asked_for(stack, make_user):
    """YOLOv4-tiny chosen on the form: the worker loads it, and the result and the X-ray
    are its own (two heads whose scale_x_y is 1.05; YOLOv3-tiny's is 1)."""
    require_model_file("yolov4-tiny.weights")
    user = make_user("vera")
    client = Client()
    client.force_login(user)
    client.post("/detect/", {"conf": "0.25", "iou": "0.45", "model": "yolov4-tiny",
                             "pictures": [_file("oranges.png", oranges_png())]})  # fmt: skip
    job = wait_job_done(Job.objects.get(), timeout=90)
    assert job.status == "succeeded", job.error

    assert job.result["model"]["key"] == "yolov4-tiny"
    assert job.result["model"]["name"] == "YOLOv4-tiny"
    assert job.result["model"]["published_map50"] == 40.2
    (oranges,) = job.result["pictures"]
    assert oranges["found"] >= 1
    xray = json.loads(_get(client, oranges["xray_url"]))
    assert [(h["grid"], h["scale_x_y"]) for h in xray["heads"]] == [([13, 13], 1.05),
                                                                    ([26, 26], 1.05)]  # fmt: skip
    stored = json.loads(_get(client, oranges["candidates_url"]))
    assert {d["class"] for d in stored["candidates"] if d["score"] >= 0.25} == {"orange"}


def test_a_job_compares_models_on_the_same_labels(stack, make_user):
    """Labels of the oranges YOLOv3-tiny finds, YOLOv4-tiny to compare with: both models'
    mAP, AP per class, PR curves and time per picture; the chosen model's mAP is the one
    the job's own evaluation measured."""
    require_model_file("yolov4-tiny.weights")
    client = Client()
    client.force_login(make_user("cora"))
    labels = b"49 0.75 0.78 0.2 0.2\n49 0.4 0.6 0.2 0.2\n41 0.2 0.2 0.2 0.2\n"
    response = client.post("/detect/", {
        "conf": "0.25", "iou": "0.45", "model": "yolov3-tiny", "compare": ["yolov4-tiny"],
        "pictures": [_file("oranges.png", oranges_png())],
        "labels": [_file("oranges.txt", labels)]})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    job = wait_job_done(Job.objects.get(), timeout=120)
    assert job.status == "succeeded", job.error

    comparison = job.result["comparison"]
    models = comparison["models"]
    assert [m["model"]["key"] for m in models] == ["yolov3-tiny", "yolov4-tiny"]
    assert models[0]["map50"] == pytest.approx(job.result["evaluation"]["map50"])
    for m in models:
        assert 0 <= m["map"] <= m["map50"] <= 1 and m["ms_per_picture"] > 0
        assert [c["class"] for c in m["classes"]] == ["cup", "orange"]  # the labelled ones
    assert models[0]["classes"][0]["ap50"] == models[1]["classes"][0]["ap50"] == 0  # no cup
    doc = json.loads(_get(client, comparison["url"]))
    assert [len(c["pr"]) for m in doc["models"] for c in m["classes"]] == [101] * 4
