"""The form's regions, refining from a result, the estimate shown before a job starts and
the before/after list: hostile masks are refused, and what is stored is reused."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image

from styletransfer.config import MAX_REGIONS
from styletransfer.services import MAX_SIZE
from tests.styletransfer.test_web import KNOB_DATA, _file, _raw, _stored
from webapp.models import Job, JobStatus
from webapp.pictures import UploadError, UploadLimits, read_label_map

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client, make_user):
    client.force_login(make_user("artist"))
    return client


def _labels(size=(60, 40), regions=2) -> io.BytesIO:
    """A label map as the page sends it: grey value = region number, vertical bands."""
    array = np.zeros((size[1], size[0]), np.uint8)
    for r in range(regions):
        array[:, r * size[0] // regions :] = r
    return _file("regions.png", Image.fromarray(array, "L").convert("RGBA"))


def _post(client, **fields):
    data = {**KNOB_DATA, "content": _file("photo.png"), "gallery": ["waves", "swirl"], **fields}
    return client.post("/style/", {k: v for k, v in data.items() if v is not None})


REGIONS = json.dumps([{"style": None, "strength": 1}, {"style": 1, "strength": 2.5}])


def test_painted_regions_are_stored_with_the_job(client):
    resp = _post(client, labels=_labels(), regions=REGIONS)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    job = Job.objects.get()
    assert job.params["regions"] == [
        {"style": None, "strength": 1.0},
        {"style": 1, "strength": 2.5},
    ]
    stored = np.asarray(_stored(job, "labels"))
    assert stored.shape == (40, 60, 3) and sorted(np.unique(stored)) == [0, 1]


HOSTILE = {
    "not a picture": ({"labels": _raw("regions.png", b"<svg>no</svg>")}, "not a picture"),
    "wrong shape": ({"labels": _labels((40, 40))}, "paint them over this photo"),
    "too many regions": (
        {"regions": json.dumps([{"style": 0}] * (MAX_REGIONS + 1))},
        f"At most {MAX_REGIONS} regions",
    ),
    "a style not chosen": (
        {"regions": json.dumps([{"style": 0}, {"style": 2}])},
        "asks for style 3",
    ),
    "non-finite strength": ({"regions": '[{"style": 0, "strength": NaN}]'}, "cannot be read"),
    "strength too high": ({"regions": '[{"style": 0, "strength": 1e9}]'}, "strength must be"),
    "regions without a map": ({"labels": None}, "Paint the regions"),
    "not JSON": ({"regions": "[{style"}, "cannot be read"),
    # issue 21: these two were queued, then failed in the worker
    "a coloured map": ({"labels": _file("regions.png", Image.new("RGB", (60, 40), (200, 30, 30)))},
                       "regions.png: not a label map (it has colours; region numbers are greys)"),
    "an undescribed region": ({"labels": _labels(regions=3)},
                              "regions.png: it marks region 3, but only 2 are described"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_regions_are_refused_and_nothing_is_queued(client, case):
    changes, message = HOSTILE[case]
    fields = {"labels": _labels(), "regions": REGIONS, **changes}
    resp = _post(client, **fields)
    assert resp.status_code == 400
    assert message in resp.content.decode()
    assert Job.objects.count() == 0


def test_the_worker_refuses_a_map_with_undescribed_regions_or_colours():
    limits = UploadLimits()
    three = _labels(regions=3).getvalue()
    with pytest.raises(UploadError, match="marks region 3, but only 2"):
        read_label_map(three, "the regions", limits, 2)
    assert read_label_map(three, "the regions", limits, 3).mode == "L"
    coloured = _file("c.png", Image.new("RGB", (8, 8), (1, 0, 0))).getvalue()
    with pytest.raises(UploadError, match="colours"):
        read_label_map(coloured, "the regions", limits, 2)
    with pytest.raises(UploadError, match="not a picture"):
        read_label_map(b"GIF89a-not-really", "the regions", limits, 2)


def _finish(job: Job, colour=(200, 30, 30)) -> Job:
    """Mark a job succeeded with a result picture, as its worker would."""
    buffer = io.BytesIO()
    Image.new("RGB", (60, 40), colour).save(buffer, "PNG")
    path = f"{job.storage_prefix}/result.png"
    default_storage.save(path, io.BytesIO(buffer.getvalue()))
    job.status = JobStatus.SUCCEEDED
    job.result = {"image_url": f"/jobs/{job.id}/files/result.png", "width": 60, "height": 40}
    job.save()
    return job


def test_run_again_reuses_the_regions_and_can_refine_the_result(client):
    _post(client, labels=_labels(), regions=REGIONS)
    first = _finish(Job.objects.get())
    body = client.get(f"/style/?from={first.id}").content.decode()
    assert "Use the regions of the earlier job" in body
    assert f"/style/jobs/{first.id}/inputs/labels.png" in body  # the painter loads them
    assert (
        "Start from the earlier job&#x27;s result" in body
        or "Start from the earlier job's result" in body
    )
    resp = client.post(
        "/style/",
        {
            **KNOB_DATA,
            "size": 96,
            "from_job": first.id,
            "reuse_content": "on",
            "reuse_style": ["0", "1"],
            "reuse_regions": "on",
            "regions": REGIONS,
            "refine": "on",
        },
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    second = Job.objects.exclude(pk=first.pk).get()
    assert _stored(second, "labels").tobytes() == _stored(first, "labels").tobytes()
    assert second.params["init_from"] == str(first.id)
    assert _stored(second, "init").getpixel((5, 5)) == (200, 30, 30)
    assert second.params["content_sha256"] == first.params["content_sha256"]


def test_only_a_finished_result_can_be_refined(client):
    _post(client)
    first = Job.objects.get()  # still queued: no result yet
    resp = client.post(
        "/style/",
        {
            **KNOB_DATA,
            "from_job": first.id,
            "reuse_content": "on",
            "reuse_style": ["0"],
            "refine": "on",
        },
    )
    assert resp.status_code == 400 and "Only a finished job" in resp.content.decode()


def test_the_estimate_offers_the_largest_size_that_fits(client):
    small = client.get("/style/estimate.json", {"preset": "standard", "size": 512}).json()
    assert small["over"] == "" and small["device"] == "cpu"
    assert 0 < small["memory_mb"] < small["budget"]["memory_mb"]
    big = client.get(
        "/style/estimate.json", {"preset": "print", "size": MAX_SIZE, "steps": 8, "levels": 4}
    ).json()
    assert big["over"].startswith("This job is too big")
    assert 1024 < big["largest_size"] < MAX_SIZE
    fits = client.get(
        "/style/estimate.json",
        {"preset": "print", "size": big["largest_size"], "steps": 8, "levels": 4},
    ).json()
    assert fits["over"] == ""
    # what the page may type half-way is estimated without it, never an error
    odd = client.get("/style/estimate.json", {"size": "1e999", "steps": "x", "styles": "-3"})
    assert odd.status_code == 200


def test_the_estimate_and_compare_need_a_login_and_compare_is_the_owners(client, make_user):
    _post(client)
    first = _finish(Job.objects.get())
    _post(client)
    second = _finish(Job.objects.exclude(pk=first.pk).get(), colour=(0, 0, 200))
    _post(client, content=_file("other.png", Image.new("RGB", (60, 40), (9, 9, 9))))
    other_photo = _finish(Job.objects.exclude(pk__in=[first.pk, second.pk]).get())
    listing = client.get(f"/style/jobs/{second.id}/compare.json").json()
    assert listing["photo"] == f"/style/jobs/{second.id}/inputs/content.png"
    assert [e["id"] for e in listing["earlier"]] == [str(first.id)]  # same photo only
    assert str(other_photo.id) not in json.dumps(listing)
    stranger = client.__class__()
    stranger.force_login(make_user("stranger"))
    assert stranger.get(f"/style/jobs/{second.id}/compare.json").status_code == 404
    anonymous = client.__class__()
    assert anonymous.get("/style/estimate.json").status_code == 302
