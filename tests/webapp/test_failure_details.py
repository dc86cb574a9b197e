"""A job that crashes in the worker: staff see why (type, message, traceback, parameters,
device), its owner sees the short message only, and nobody else sees the job at all."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import session_cookie, wait_job_done, ws_collect
from tests.webapp.testkind import SECRET_DETAIL
from webapp.jobs import job_create
from webapp.models import JobStatus

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]

TRACEBACK_HEAD = "Traceback (most recent call last)"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ws(stack, path: str, user, until) -> list[dict]:
    url = stack.base_url.replace("http", "ws") + path
    return asyncio.run(
        ws_collect(url, cookie=session_cookie(user), origin=stack.base_url, until=until)
    )


def _failed(msg: dict) -> bool:
    return msg.get("job", {}).get("status") == "failed"


def test_a_crash_is_explained_to_staff_and_never_to_its_owner(stack, make_user):
    owner, other = make_user("owner"), make_user("other")
    staff = make_user("op", staff=True)
    job = job_create(
        user=owner, kind="countdown", params={"steps": 30, "delay": 0.05, "crash_at": 20}
    )
    # The owner watches the job fail live: no event on the way carries the details.
    live = _ws(stack, f"/ws/jobs/{job.id}/", owner, until=_failed)
    wait_job_done(job)
    assert job.status == JobStatus.FAILED
    assert job.error == "Internal error (ValueError). The operators have the details."
    assert job.failure["type"] == "ValueError"
    assert SECRET_DETAIL in job.failure["message"]
    assert job.failure["traceback"].startswith(TRACEBACK_HEAD)
    assert "testkind.py" in job.failure["traceback"]
    assert job.failure["params"]["crash_at"] == 20
    assert job.failure["device"] == "cpu" and job.failure["worker"] == job.worker

    page = reverse("job_detail", args=[job.id])
    as_json = reverse("job_json", args=[job.id])
    owner_sees = [
        json.dumps(live),
        _client(owner).get(page).content.decode(),
        _client(owner).get(as_json).content.decode(),
        json.dumps(_ws(stack, f"/ws/jobs/{job.id}/", owner, until=lambda m: True)),
    ]
    for text in owner_sees:
        assert SECRET_DETAIL not in text and TRACEBACK_HEAD not in text
    assert "The operators have the details" in owner_sees[1]
    assert 'id="job-failure"' not in owner_sees[1]

    assert _client(other).get(page).status_code == 404
    assert _client(other).get(as_json).status_code == 404

    snapshot = _client(staff).get(as_json).json()
    assert snapshot["failure"]["traceback"].startswith(TRACEBACK_HEAD)
    assert SECRET_DETAIL in snapshot["failure"]["message"]
    staff_page = _client(staff).get(page).content.decode()
    assert 'id="job-failure"' in staff_page and SECRET_DETAIL in staff_page
    [first] = _ws(stack, f"/ws/jobs/{job.id}/", staff, until=lambda m: True)
    assert SECRET_DETAIL in first["job"]["failure"]["message"]

    # The dashboard's failure list (staff only) names the exception, with its traceback.
    [push] = _ws(stack, "/ws/dashboard/", staff, until=lambda m: m["type"] == "dashboard")
    [row] = [f for f in push["stats"]["failures"] if f["id"] == str(job.id)]
    assert row["exception"] == "ValueError" and SECRET_DETAIL in row["message"]
    assert "testkind.py" in row["traceback"]
