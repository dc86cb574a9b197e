"""Every page carries a strict Content-Security-Policy, and no template needs a looser one.
(The browser tests check that real pages break no rule: tests/conftest.py `watch_csp`.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.urls import reverse

from webapp.models import Job

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"


def _policy(resp) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in resp["Content-Security-Policy"].split(";"))


@pytest.mark.parametrize("name", ["home", "login", "signup", "job_list", "dashboard",
                                  "playground:new", "styletransfer:new", "detection:new"])
def test_every_page_forbids_inline_and_foreign_scripts(client, make_user, name):
    client.force_login(make_user("op", staff=True))
    resp = client.get(reverse(name))
    assert resp.status_code == 200
    policy = _policy(resp)
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert "unsafe" not in resp["Content-Security-Policy"]


def test_a_job_page_is_covered_and_knows_its_urls(client, make_user):
    user = make_user()
    job = Job.objects.create(user=user, kind="countdown")
    client.force_login(user)
    resp = client.get(job.get_absolute_url())
    assert _policy(resp)["script-src"] == "'self'"
    html = resp.content.decode()
    site = json.loads(re.search(r'<script id="studio-site" type="application/json">(.*?)</script>',
                                html, re.S).group(1))
    assert site["urls"]["job_cancel"].replace("{id}", str(job.id)) == reverse(
        "job_cancel", args=[job.id])
    assert site["urls"]["job_socket"] == "/ws/jobs/{id}/"
    assert site["urls"]["my_jobs_socket"] == "/ws/my-jobs/"
    assert set(site["active_states"]) == {"queued", "running", "paused"}


def test_a_file_keeps_its_own_sandbox_policy(client, make_user):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    user = make_user()
    job = Job.objects.create(user=user, kind="countdown")
    default_storage.save(f"{job.storage_prefix}/a.txt", ContentFile(b"hello"))
    client.force_login(user)
    resp = client.get(reverse("job_file", args=[job.id, "a.txt"]))
    assert resp.status_code == 200
    assert resp["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_no_template_has_inline_script_style_or_handler():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text), path
        assert not re.search(r"\sstyle=", text), path
        assert not re.search(r"\son[a-z]+=", text), path
