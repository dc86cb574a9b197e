"""`/metrics`: who may scrape it, that Prometheus's own parser reads it, and that its
counters move when a job runs through the real worker."""

from __future__ import annotations

import urllib.request

import pytest
from django.conf import settings as django_settings
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import session_cookie, wait_for, wait_job_done
from webapp.jobs import job_create
from webapp.models import JobStatus, Worker

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def scrape_over_http(stack, cookie: str) -> str:
    """A scrape through the real ASGI server, as Prometheus would make it."""
    request = urllib.request.Request(
        stack.base_url + "/metrics",
        headers={"Cookie": f"{django_settings.SESSION_COOKIE_NAME}={cookie}"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        return resp.read().decode()


def samples(text: str) -> dict[tuple, float]:
    """(sample name, sorted labels) -> value, through Prometheus's text parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_only_staff_or_the_token_may_scrape(make_user, settings):
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    wrong = Client().get("/metrics", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 403
    user = Client()
    user.force_login(make_user("pleb"))
    assert user.get("/metrics").status_code == 403
    token = Client().get("/metrics", headers={"Authorization": "Bearer scrape-token-0123456789"})
    assert token.status_code == 200 and b"studio_jobs_finished_total" in token.content
    settings.METRICS_TOKEN = ""  # no token configured: a bearer header opens nothing
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403


def test_counters_move_when_a_job_runs_through_the_real_worker(stack, make_user):
    cookie = session_cookie(make_user("op", staff=True))
    # An earlier test's flush empties the Worker table; the worker's next beat writes its row back.
    wait_for(Worker.objects.exists, timeout=10, what="the worker's heartbeat to write its row")
    before = samples(scrape_over_http(stack, cookie))
    workers = [labels for (name, labels), v in before.items() if name == "studio_worker_up"]
    assert workers and all(before[("studio_worker_up", w)] == 1 for w in workers)

    job = job_create(user=make_user(), kind="countdown", params={"steps": 3, "delay": 0.2})
    wait_job_done(job)
    assert job.status == JobStatus.SUCCEEDED
    after = samples(scrape_over_http(stack, cookie))

    def moved(name: str, **labels) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0)

    kind = {"kind": "countdown"}
    assert moved("studio_jobs_finished_total", state="succeeded", **kind) == 1
    assert moved("studio_job_run_seconds_count", **kind) == 1
    assert moved("studio_job_wait_seconds_count", **kind) == 1
    assert moved("studio_job_run_seconds_bucket", le="+Inf", **kind) == 1
    # three steps of 0.2 s: longer than half a second, so not in the first bucket
    assert moved("studio_job_run_seconds_bucket", le="0.5", **kind) == 0
    assert 0.6 <= moved("studio_job_run_seconds_sum", **kind) < 60
    (worker,) = [dict(w)["worker"] for w in workers if dict(w)["worker"] == job.worker]
    assert moved("studio_worker_jobs_total", worker=worker) >= 1
    assert after[("studio_worker_resident_memory_bytes", (("worker", worker),))] > 10 * 2**20
    for queue in ("gpu", "default"):
        assert ("studio_queue_oldest_job_age_seconds", (("queue", queue),)) in after
        assert ("studio_queue_messages", (("queue", queue),)) in after
