"""Teach it your own objects: what the web side refuses before anything is queued (the
page keeps the pictures), and the frame endpoint's refusals. The whole flow through the
worker, with a fake camera, is tests/browser/test_teach.py."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from webapp.jobs import job_create
from webapp.models import Job

pytestmark = pytest.mark.django_db


def picture(name="a.png", colour=(200, 20, 20)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 24), colour).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), "image/png")


def post(client, classes, pictures):
    data = {"classes": json.dumps(classes)}
    for i, pics in enumerate(pictures):
        data[f"pictures-{i}"] = pics
    return client.post(reverse("playground:teach"), data)


@pytest.mark.parametrize(
    "classes, pictures, message",
    [
        (["cup"], [[picture()]], "at least two classes"),
        (["cup", "cup"], [[picture()], [picture()]], "each its own name"),
        (["cup", ""], [[picture()], [picture()]], "each its own name"),
        (["cup", "pen"], [[picture()], []], "Class 'pen' has no pictures yet"),
        (["cup", "pen"], [[picture()], [SimpleUploadedFile("pen.png", b"\x89PNG\r\n\x1a\n..")]],
         "pen.png"),
    ],
)
def test_bad_classes_and_pictures_are_refused_and_nothing_starts(
    client, make_user, classes, pictures, message
):
    client.force_login(make_user())
    resp = post(client, classes, pictures)
    assert resp.status_code == 400 and message in resp.json()["error"]
    assert Job.objects.count() == 0


def test_a_huge_picture_is_refused_from_its_header_and_nothing_starts(client, make_user):
    buffer = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buffer, format="PNG")  # 64 Mpx in a few kB
    huge = SimpleUploadedFile("huge.png", buffer.getvalue(), "image/png")
    client.force_login(make_user())
    resp = post(client, ["cup", "pen"], [[picture()], [huge]])
    assert resp.status_code == 400 and "huge.png" in resp.json()["error"]
    assert Job.objects.count() == 0


def test_the_page_and_its_refusals_for_strangers(client, make_user):
    page = client.get(reverse("playground:teach")).content.decode()
    assert 'id="teach-data"' in page and "playground/teach.js" in page
    assert post(client, ["a", "b"], [[picture()], [picture()]]).status_code == 401
    client.force_login(make_user())
    resp = client.post(reverse("playground:teach"), {"classes": "{not json"})
    assert resp.status_code == 400 and "list" in resp.json()["error"]


def test_a_good_request_queues_one_train_job_with_every_picture(client, make_user):
    client.force_login(make_user())
    resp = post(client, [" cup ", "pen"], [[picture("c1.png"), picture("c2.png")],
                                          [picture("p1.png", (0, 0, 200))]])  # fmt: skip
    assert resp.status_code == 200, resp.content
    job = Job.objects.get()
    answer = resp.json()
    assert answer["url"] == job.get_absolute_url() and answer["id"] == str(job.id)
    teach = job.params["teach"]
    assert teach["classes"] == ["cup", "pen"] and [len(f) for f in teach["files"]] == [2, 1]
    assert set(job.params["inputs"]) == {n for names in teach["files"] for n in names}
    # frames only go to a model that is serving, and only its owner's
    url = reverse("playground:teach_frame", args=[job.id])
    resp = client.post(url, {"frame": picture(), "id": "f1"})
    assert resp.status_code == 400 and "not taking pictures" in resp.json()["error"]
    other = Client()
    other.force_login(make_user("eve"))
    assert other.post(url, {"frame": picture(), "id": "f1"}).status_code == 404
    assert client.post(url, {"id": "f1"}).status_code == 400


def test_frames_of_a_serving_model_are_checked_by_header_and_queued(client, make_user, settings):
    from webapp.inbox import job_inbox_receive

    user = make_user()
    client.force_login(user)
    job = job_create(user=user, kind="teach", params={"teach": {"classes": ["a", "b"],
                                                                "files": [[], []]}})  # fmt: skip
    Job.objects.filter(pk=job.pk).update(status="running", metrics={"teach": {"ready": True}})
    url = reverse("playground:teach_frame", args=[job.id])
    broken = SimpleUploadedFile("f.jpg", b"\xff\xd8\xff\xe0 not a jpeg", "image/jpeg")
    assert client.post(url, {"frame": broken, "id": "f0"}).status_code == 400
    for n in range(4):
        assert client.post(url, {"frame": picture(), "id": f"f{n}"}).status_code == 202
    # the job's inbox holds only the newest frames, in order, for the worker to take
    waiting = [job_inbox_receive(job.id, timeout=1) for _ in range(2)]
    assert [w["id"] for w in waiting] == ["f2", "f3"]
    assert job_inbox_receive(job.id, timeout=1) is None
    settings.JOB_INBOX_MAX_BYTES = 40  # a frame over the inbox's cap: said, nothing queued
    resp = client.post(url, {"frame": picture(), "id": "big"})
    assert resp.status_code == 400 and "at most 40 at a time" in resp.json()["error"]
    assert job_inbox_receive(job.id, timeout=1) is None


def test_a_tiny_file_of_a_huge_frame_is_refused_from_its_header(client, make_user):
    """Issue 21: a 4.9 KB blank 1-bit PNG of 6324 × 6324 made the worker decode 40 Mpx."""
    user = make_user()
    client.force_login(user)
    job = job_create(user=user, kind="teach", params={"teach": {"classes": ["a", "b"],
                                                                "files": [[], []]}})  # fmt: skip
    Job.objects.filter(pk=job.pk).update(status="running", metrics={"teach": {"ready": True}})
    buffer = io.BytesIO()
    Image.new("1", (6324, 6324)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 10_000
    huge = SimpleUploadedFile("f.png", buffer.getvalue(), "image/png")
    resp = client.post(reverse("playground:teach_frame", args=[job.id]), {"frame": huge})
    assert resp.status_code == 400 and "pixels" in resp.json()["error"]


@pytest.mark.parametrize("classes, message", [
    ("[" * 50_000, "nested more than 64 deep"),  # issue 21: was a 500 (RecursionError)
    ('["cup", ' + "7" * 5000 + "]", "[1] must be a finite number of at most 30 digits"),
    ('["cup", "pen"' + ', "x"' * 100_000 + "]", "Give 2 to"),
])  # fmt: skip
def test_hostile_class_lists_are_refused_and_nothing_starts(client, make_user, classes, message):
    client.force_login(make_user())
    resp = client.post(reverse("playground:teach"), {"classes": classes})
    assert resp.status_code == 400 and message in resp.json()["error"]
    assert Job.objects.count() == 0
