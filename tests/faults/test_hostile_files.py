"""Polyglot uploads: a valid PNG that is also an HTML page never reaches a visitor as HTML."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from styletransfer.config import PRESETS
from styletransfer.forms import KNOBS
from webapp.models import Job

pytestmark = pytest.mark.django_db

SCRIPT = b"<html><script>document.title='owned'</script></html>"


def polyglot(name: str) -> io.BytesIO:
    """A real picture with an HTML page after its end marker (browsers sniff such files)."""
    buffer = io.BytesIO()
    Image.effect_mandelbrot((64, 48), (-2, -1.2, 1, 1.2), 40).convert("RGB").save(buffer, "PNG")
    data = io.BytesIO(buffer.getvalue() + SCRIPT)
    data.name = name
    return data


def test_polyglot_picture_is_stored_re_encoded_and_served_as_a_png(client, make_user):
    client.force_login(make_user("artist"))
    knobs = {"preset": "quick", **{k: getattr(PRESETS["quick"], k) for k in KNOBS}}
    resp = client.post(
        "/style/", {**knobs, "content": polyglot("photo.html"), "styles": polyglot("style.png")}
    )
    job = Job.objects.get()
    assert resp.status_code == 302 and resp["Location"] == job.get_absolute_url()
    for name, path in job.params["inputs"].items():
        with default_storage.open(path, "rb") as fh:
            stored = fh.read()
        assert SCRIPT not in stored and stored.startswith(b"\x89PNG"), name
        served = client.get(f"/style/jobs/{job.id}/inputs/{name}.png")
        body = b"".join(served.streaming_content)
        assert served["Content-Type"] == "image/png"
        assert served["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in served["Content-Security-Policy"]
        assert SCRIPT not in body
