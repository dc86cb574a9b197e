"""The site with its files in a real S3 server (moto's, in its own process): a job of each
kind runs, streams and serves its results with nothing on the local disk; a deleted job
takes its files along; a worker that cannot reach the store takes no jobs and says so."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import (
    Stack,
    countdown_on,
    free_port,
    require_model_file,
    session_cookie,
    wait_for,
)
from tests.multihost.kinds import (
    KINDS,
    WEIGHTS,
    check_whole,
    dashboard_workers,
    fetch,
    result_files,
    start,
    submit,
    watch,
)
from webapp.models import Job, Worker

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def site_worker(s3_site, django_db_blocker):
    with django_db_blocker.unblock():
        return s3_site.worker(name="s3w", queues="gpu,default")


def _local_files(site, job) -> list[Path]:
    """Anything of `job` on a local disk: the site's media folder or the suite's."""
    return [p for root in (site.media, settings.MEDIA_ROOT)
            for p in Path(root).glob(f"{job.storage_prefix}/**/*")]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_of_each_kind_keeps_its_files_only_in_the_object_store(
    kind, s3_site, site_worker, make_user
):
    if kind in WEIGHTS:
        require_model_file(WEIGHTS[kind])
    user = make_user(f"s3-{kind}")
    job = start(kind, user)
    events = watch(s3_site, job)
    job.refresh_from_db()
    assert job.status == "succeeded", (job.error, s3_site.processes[-1].log()[-3000:])
    live = [e for e in events if e["type"] not in ("snapshot", "status", "result")]
    assert live, f"no live event before the result: {[e['type'] for e in events]}"
    assert events[-1]["type"] == "result"

    stored = s3_site.store.objects(f"{job.storage_prefix}/")
    files = result_files(job)
    assert files, job.result
    for name, url in files:
        body = fetch(s3_site, user, url)
        assert body == stored[f"{job.storage_prefix}/{name}"], name
        check_whole(name, body)
    assert any(key.startswith(f"{job.storage_prefix}/input/") for key in stored) or kind == "train"
    assert not _local_files(s3_site, job), "a job file was written to a local disk"

    job.delete()  # retention: the job's files go with it
    wait_for(lambda: not s3_site.store.objects(f"{job.storage_prefix}/"), timeout=10,
             what="the deleted job's objects to go")  # fmt: skip


def test_a_result_is_served_only_to_its_owner(s3_site, site_worker, make_user):
    owner, other = make_user("s3-owner"), make_user("s3-other")
    job = start("train", owner)
    watch(s3_site, job)
    job.refresh_from_db()
    name, url = result_files(job)[0]
    assert fetch(s3_site, owner, url)
    request = urllib.request.Request(
        s3_site.base_url + url,
        headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_cookie(other)}"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 404


def test_a_worker_that_cannot_reach_the_store_takes_no_jobs_and_says_so(
    s3_site, make_user, django_db_blocker
):
    dead = s3_site.store.url().replace(f":{s3_site.store.port}", f":{free_port()}")
    lonely = Stack(s3_site.log_dir, **{**s3_site.env, "STORAGE_URL": dead})
    with django_db_blocker.unblock():
        proc = lonely.worker(name="nostore", queues="lonely")
    try:
        row = Worker.objects.get(name__in=proc.worker_names)
        assert row.queues == "" and "cannot reach the object store" in row.stats["refused"]
        job = countdown_on("lonely", user=make_user("s3-lonely"), steps=1)
        time.sleep(4)  # long enough for a willing worker to have taken it
        job.refresh_from_db()
        assert job.status == "queued"
        assert Job.objects.filter(pk=job.pk, worker="").exists()

        shown = dashboard_workers(s3_site, make_user("s3-staff", staff=True))[row.name]
        assert "Takes no jobs: cannot reach the object store" in shown["stats"]["refused"]
    finally:
        lonely.stop()


def test_while_the_store_is_down_files_answer_503_and_forms_keep_nothing(
    s3_site, site_worker, make_user
):
    user = make_user("s3-down")
    done = start("train", user)
    watch(s3_site, done)
    done.refresh_from_db()
    name, url = result_files(done)[0]
    with s3_site.store.down():
        request = urllib.request.Request(
            s3_site.base_url + url,
            headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}"},
        )
        with pytest.raises(urllib.error.HTTPError) as unavailable:
            urllib.request.urlopen(request, timeout=60)
        assert unavailable.value.code == 503
        assert b"file store cannot be reached" in unavailable.value.read()
        refused = submit("detect", user)
        assert refused.status_code == 409
        assert "file store cannot be reached" in refused.content.decode()
        assert Job.objects.filter(user=user).count() == 1
    assert fetch(s3_site, user, url)  # back, with what it held
