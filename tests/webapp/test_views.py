"""Pages and endpoints: who sees what, and refusals that leave nothing behind."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from webapp.jobs import JobRefused, job_create
from webapp.models import Job, JobStatus

pytestmark = pytest.mark.django_db


def _queued(user, **params) -> Job:
    # A row only: these tests are about the web side, no message is sent.
    return Job.objects.create(user=user, kind="countdown", params=params)


def test_signup_logs_in_and_lands_home(client):
    resp = client.post(
        reverse("signup"),
        {"username": "grace", "password1": "a-long-pass-42", "password2": "a-long-pass-42"},
        follow=True,
    )
    assert resp.status_code == 200
    assert resp.context["user"].username == "grace"


def test_my_jobs_lists_only_mine(client, make_user):
    me, other = make_user("me"), make_user("other")
    mine, theirs = _queued(me, steps=1), _queued(other, steps=1)
    client.force_login(me)
    body = client.get(reverse("job_list")).content.decode()
    assert str(mine.id) in body and str(theirs.id) not in body


@pytest.mark.parametrize("name", ["job_detail", "job_json"])
def test_other_users_job_pages_are_404(client, make_user, name):
    job = _queued(make_user("owner"))
    client.force_login(make_user("mallory"))
    assert client.get(reverse(name, args=[job.id])).status_code == 404


def test_staff_sees_any_job(client, make_user):
    job = _queued(make_user("owner"))
    client.force_login(make_user("op", staff=True))
    assert client.get(reverse("job_detail", args=[job.id])).status_code == 200


def test_result_files_only_for_owner_and_never_as_html(client, make_user):
    owner = make_user("owner")
    job = _queued(owner)
    default_storage.save(
        f"{job.storage_prefix}/page.html", ContentFile(b"<script>alert(1)</script>")
    )
    default_storage.save(f"{job.storage_prefix}/out.png", ContentFile(b"\x89PNG\r\n\x1a\n"))
    url = reverse("job_file", args=[job.id, "page.html"])
    client.force_login(make_user("mallory"))
    assert client.get(url).status_code == 404
    client.force_login(owner)
    resp = client.get(url)
    assert resp["Content-Type"] == "application/octet-stream"
    assert resp["Content-Disposition"].startswith("attachment")
    assert "sandbox" in resp["Content-Security-Policy"]
    png = client.get(reverse("job_file", args=[job.id, "out.png"]))
    assert png["Content-Type"] == "image/png" and png["X-Content-Type-Options"] == "nosniff"


def test_cancel_needs_post_and_csrf(make_user):
    from django.test import Client

    user = make_user("owner")
    job = _queued(user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    url = reverse("job_cancel", args=[job.id])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_requeue_is_staff_only(client, make_user):
    job = _queued(make_user("owner"))
    client.force_login(job.user)
    resp = client.post(reverse("job_requeue", args=[job.id]))
    assert resp.status_code == 302 and "/admin/login/" in resp["Location"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        json.dumps({"x": {"nested": 1}}),
        json.dumps({f"k{i}": i for i in range(20)}),
    ],
)
def test_control_rejects_malformed_bodies(client, make_user, body):
    job = _queued(make_user("owner"))
    client.force_login(job.user)
    resp = client.post(reverse("job_control", args=[job.id]), body, content_type="application/json")
    assert resp.status_code == 400
    job.refresh_from_db()
    assert job.control == {}


def test_control_merges_commands(client, make_user):
    job = _queued(make_user("owner"))
    client.force_login(job.user)
    url = reverse("job_control", args=[job.id])
    client.post(url, json.dumps({"paused": True}), content_type="application/json")
    resp = client.post(url, json.dumps({"lr": 0.01}), content_type="application/json")
    assert resp.json()["control"] == {"paused": True, "lr": 0.01}


def test_active_job_limit_per_user(make_user, settings):
    settings.USER_MAX_ACTIVE_JOBS = 2
    user = make_user()
    for _ in range(2):
        _queued(user)
    with pytest.raises(JobRefused, match="limit is 2"):
        job_create(user=user, kind="countdown", params={})
    assert Job.objects.filter(user=user).count() == 2


def test_dashboard_is_staff_only(client, make_user):
    client.force_login(make_user("pleb"))
    assert client.get(reverse("dashboard")).status_code == 302
    client.force_login(make_user("op", staff=True))
    assert client.get(reverse("dashboard")).status_code == 200
