"""The new-detection page: defaults, model card, "run again" and every kind of bad upload.

A refused upload must say what is wrong and start nothing (the Job count stays the same):
a bad upload or setting is a 400, a job over a limit or the budget a 409.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from detection.services import KIND
from webapp.jobs import job_create
from webapp.models import Job

pytestmark = pytest.mark.django_db


def png(size=(64, 48), colour="orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def zipped(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def upload(name: str, data: bytes, ctype: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=ctype)


@pytest.fixture
def user(make_user):
    return make_user("dora")


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def post(client, files, **fields):
    data = {"conf": "0.25", "iou": "0.45", **fields, "pictures": files}
    return client.post("/detect/", data)


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/detect/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_form_has_defaults_and_the_model_card(logged_in):
    html = logged_in.get("/detect/").content.decode()
    assert 'name="conf"' in html and 'value="0.25"' in html and 'value="0.45"' in html
    for text in ("YOLOv3-tiny", "416 × 416", "80 (COCO)", "33.1 mAP@0.5"):
        assert text in html
    assert 'value="person"' in html and 'value="toothbrush"' in html  # the class filter


def test_a_good_upload_queues_one_job_with_the_settings(logged_in, user):
    response = post(
        logged_in,
        [upload("a.png", png()), upload("b.png", png((30, 90)))],
        conf="0.4",
        iou="0.3",
        classes=["person", "dog"],
        class_conf=" cup=0.5 , person=0.3,",
    )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert job.user == user and job.kind == KIND and job.status == "queued"
    assert job.params["conf"] == 0.4 and job.params["iou"] == 0.3
    assert job.params["classes"] == ["person", "dog"]
    assert job.params["class_conf"] == {"cup": 0.5, "person": 0.3}
    assert job.params["upload_names"] == ["a.png", "b.png"] and len(job.params["inputs"]) == 2
    assert job.title == "a.png and 1 more"


def test_a_zip_counts_its_pictures(logged_in):
    archive = zipped({"x/1.png": png(), "x/2.png": png()})
    post(logged_in, [upload("set.zip", archive, "application/zip")])
    job = Job.objects.get()
    assert job.params["picture_count"] == 2 and job.title == "set.zip (2 pictures)"


def stored_files() -> list[Path]:
    return sorted(Path(settings.MEDIA_ROOT).rglob("*"))


def _refused(client, files, message: str, status: int = 400, **fields) -> None:
    before, files_before = Job.objects.count(), stored_files()
    response = post(client, files, **fields)
    html = response.content.decode()
    assert response.status_code == status, "a refused upload stays on the form"
    assert "Nothing was started." in html
    assert message in html, html[html.find("det-errors") :][:600]
    assert Job.objects.count() == before
    assert stored_files() == files_before, "nothing is stored"


def test_no_file(logged_in):
    _refused(logged_in, [], "Choose at least one picture, a zip of pictures, or a clip.")


def test_not_a_picture(logged_in):
    _refused(
        logged_in,
        [upload("notes.txt", b"hello, not a picture", "text/plain")],
        "notes.txt: not a picture we can read",
    )


def test_corrupt_picture(logged_in):
    _refused(
        logged_in,
        [upload("broken.png", png((200, 200))[:300])],
        "broken.png: the picture is corrupt or incomplete",
    )


def test_one_bad_file_among_good_ones_refuses_all(logged_in):
    _refused(
        logged_in,
        [upload("ok.png", png()), upload("bad.jpg", b"\xff\xd8junk", "image/jpeg")],
        "bad.jpg: not a picture we can read",
    )


def test_oversized_file(logged_in, settings):
    settings.UPLOAD_MAX_BYTES = 1000
    _refused(
        logged_in,
        [upload("big.png", png((400, 400), "white") + b"\0" * 2000)],
        "is more than the 1000\xa0bytes allowed per file",
    )


def test_too_many_pixels(logged_in, settings):
    settings.UPLOAD_MAX_PIXELS = 100 * 100
    _refused(
        logged_in, [upload("wide.png", png((200, 100)))], "wide.png: 200x100 pixels is too large"
    )


def test_zip_with_a_path_leaving_the_folder(logged_in):
    _refused(
        logged_in,
        [upload("evil.zip", zipped({"../../etc/x.png": png()}), "application/zip")],
        "evil.zip: the entry &#x27;../../etc/x.png&#x27; points outside the zip&#x27;s folder",
    )


def test_zip_bomb(logged_in):
    bomb = zipped({"bomb.png": b"\0" * 8_000_000})
    assert len(bomb) < 100_000
    _refused(
        logged_in,
        [upload("bomb.zip", bomb, "application/zip")],
        "more than a picture can (zip bomb?)",
    )


def test_zip_with_too_many_files(logged_in):
    tiny = png((2, 2))
    many = zipped({f"p{i}.png": tiny for i in range(201)}, zipfile.ZIP_STORED)
    _refused(
        logged_in, [upload("many.zip", many, "application/zip")], "many.zip: 201 files, at most 200"
    )


def test_too_many_pictures_over_several_files(logged_in):
    tiny = png((2, 2))
    half = zipped({f"p{i}.png": tiny for i in range(150)}, zipfile.ZIP_STORED)
    zips = [upload(name, half, "application/zip") for name in ("a.zip", "b.zip")]
    _refused(logged_in, zips, "That is 300 pictures; at most 200 go in one job.")


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("conf", "0.01", "Ensure this value is greater than or equal to 0.05."),
        ("conf", "abc", "Enter a number."),
        ("iou", "0.95", "Ensure this value is less than or equal to 0.9."),
        (
            "classes",
            ["unicorn"],
            "Select a valid choice. unicorn is not one of the available choices.",
        ),
        ("class_conf", "unicorn=0.5", "Per-class confidence: “unicorn” is not a class"),
        ("class_conf", "cup=0.01", "the confidence for cup must be between 0.05 and 1"),
        ("class_conf", "cup=inf", "the confidence for cup must be between 0.05 and 1"),
        ("class_conf", "cup:0.5", "is not class=confidence"),
    ],
)
def test_bad_settings(logged_in, field, value, message):
    _refused(logged_in, [upload("ok.png", png())], message, **{field: value})


def test_over_the_active_job_limit(logged_in, user, settings):
    settings.USER_MAX_ACTIVE_JOBS = 1
    job_create(user=user, kind=KIND, params={"conf": 0.25, "iou": 0.45})
    _refused(logged_in, [upload("ok.png", png())], "(the limit is 1)", status=409)


def test_run_again_prefills_the_knobs_of_an_earlier_job(logged_in, user):
    job = job_create(
        user=user,
        kind=KIND,
        params={"conf": 0.6, "iou": 0.3, "classes": ["cat"], "class_conf": {"cup": 0.55}},
    )
    html = logged_in.get(f"/detect/?from={job.id}").content.decode()
    assert 'value="0.6"' in html and 'value="0.3"' in html and 'value="cup=0.55"' in html
    assert re.search(r'<input[^>]*value="cat"[^>]*checked', html)
    assert not re.search(r'<input[^>]*value="dog"[^>]*checked', html)
    assert "Settings copied from" in html


def test_run_again_ignores_someone_elses_job_and_nonsense(logged_in, make_user):
    other = job_create(user=make_user("eve"), kind=KIND, params={"conf": 0.9, "iou": 0.2})
    for query in (f"?from={other.id}", "?from=not-a-uuid"):
        html = logged_in.get(f"/detect/{query}").content.decode()
        assert 'value="0.25"' in html and 'value="0.9"' not in html
        assert "Settings copied from" not in html


def test_a_jpeg_cut_short_is_a_form_error_naming_it(logged_in):
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), "teal").save(buffer, "JPEG")
    _refused(
        logged_in,
        [upload("cut.jpg", buffer.getvalue()[:200], "image/jpeg")],
        "cut.jpg: the picture is corrupt or incomplete",
    )


def test_tiny_zip_of_huge_pictures_is_refused_from_its_headers(logged_in, settings):
    """Issue 10: 24 blank 1-bit PNGs of 6324x6324 are 120 KB zipped and 2.9 GB decoded.
    The request's pixel budget refuses them from their headers; nothing is stored."""
    blank = io.BytesIO()
    Image.new("1", (6324, 6324)).save(blank, "PNG")
    archive = zipped({f"p{i:02d}.png": blank.getvalue() for i in range(24)}, zipfile.ZIP_STORED)
    assert len(archive) < 150_000
    _refused(
        logged_in,
        [upload("pixels.zip", archive, "application/zip")],
        f"These pictures hold 960 million pixels together; at most "
        f"{settings.UPLOAD_MAX_REQUEST_PIXELS // 10**6} million go in one job.",
    )


def test_a_job_over_the_memory_budget_says_how_large_a_picture_fits(logged_in, settings):
    settings.JOB_MAX_MEMORY_MB = 1000
    _refused(
        logged_in,
        [upload("big.png", png((4000, 3000)))],
        "it would need about 1,074 MB of memory on the cpu (the limit is 1,000 MB): "
        "send smaller pictures (at most 5.5 million pixels each)",
        status=409,
    )


def test_run_again_from_a_job_of_another_kind_starts_from_the_defaults(logged_in, user):
    other = job_create(user=user, kind="countdown", params={"conf": 0.9})
    html = logged_in.get(f"/detect/?from={other.id}").content.decode()
    assert 'value="0.25"' in html and 'value="0.9"' not in html
    assert "That job cannot be copied here; starting from the defaults." in html
