"""Retention on local files: a deleted job's folder (inputs and results) goes with it,
once the deletion commits (the object store's case is in test_object_store)."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from webapp.jobs import job_create

pytestmark = pytest.mark.django_db


def test_a_deleted_job_takes_its_local_files_along(make_user, django_capture_on_commit_callbacks):
    user = make_user("keeper")
    with django_capture_on_commit_callbacks(execute=True):
        job = job_create(user=user, kind="countdown-parked", params={}, files={"a": b"abc"})
    default_storage.save(f"{job.storage_prefix}/result.json", ContentFile(b"{}"))
    folder = Path(settings.MEDIA_ROOT) / job.storage_prefix
    assert (folder / "input" / "a").read_bytes() == b"abc" and (folder / "result.json").exists()
    other = job_create(user=user, kind="countdown-parked", params={}, files={"a": b"kept"})
    with django_capture_on_commit_callbacks(execute=True):
        user.jobs.filter(pk=job.pk).delete()
    assert not folder.exists()
    assert (Path(settings.MEDIA_ROOT) / other.storage_prefix / "input" / "a").exists()
