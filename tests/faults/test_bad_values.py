"""Hostile values to every endpoint: no 5xx, and a 4xx that names the field.

Property-based (hypothesis): non-finite, huge, wrong-typed and truncated values, sent
through Django's test client to the real views on the real test database; label files
(COCO, YOLO txt, the playground's boxes, points and masks) and teach's class list too.
Pictures are not varied here (the shared picture reader has its own tests).
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.models import Job, JobStatus

pytestmark = pytest.mark.django_db

# Few examples each: the file runs in well under a minute on two cores.
fast = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# JSON text of a value (not a Python value: NaN, Infinity and 1e309 only exist as text).
JSON_VALUES = st.one_of(
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "1e309",
            "-1e400",
            "1e308",
            "-0.0",
            "0",
            "-1",
            "4294967297",
            "1" * 4400,  # over Python's digit limit for int()
            "true",
            "null",
            "[]",
            "{}",
            '{"a": NaN}',
            "[1e999]",
            '""',
            '"32"',
            '"1e309"',
            '"NaN"',
            json.dumps("x" * 5000),
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=20).map(json.dumps),
)
# What a query string or form field can carry.
TEXT_VALUES = st.one_of(
    st.sampled_from(
        ["NaN", "inf", "-inf", "1e309", "-1", "0", "99999999999999999999", "", " ", "x" * 3000]
    ),
    st.text(max_size=30),
)


def _object(fields: dict[str, str]) -> str:
    """A JSON object from field names and JSON texts of their values."""
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in fields.items()) + "}"


def _names_field(resp, field: str) -> bool:
    data = resp.json()
    return field in (data.get("field") or "") or field in data.get("error", "")


@pytest.fixture
def user(make_user):
    return make_user("hostile")


@pytest.fixture
def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- the four 500s found by hand ------------------------------------------------------


@pytest.mark.parametrize("value", ["Infinity", "1e309", "-Infinity", "NaN"])
def test_summary_refuses_non_finite_picture_size(client, value):
    resp = client.post(
        "/playground/summary/",
        f'{{"spec": [], "dataset": "stripes", "image_size": {value}}}',
        content_type="application/json",
    )
    assert resp.status_code == 400
    assert resp.json()["field"] == "image_size"


def test_control_refuses_nan_naming_the_field(logged_in, user):
    job = Job.objects.create(user=user, kind="countdown", status=JobStatus.RUNNING)
    resp = logged_in.post(
        f"/jobs/{job.id}/control/", '{"lr": NaN}', content_type="application/json"
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "lr must be a finite number.", "field": "lr"}
    job.refresh_from_db()
    assert job.control == {}


def test_the_input_folder_is_not_a_result_file(logged_in, user):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    job = Job.objects.create(user=user, kind="countdown")
    default_storage.save(f"{job.storage_prefix}/input/photo.png", ContentFile(b"\x89PNG"))
    assert logged_in.get(f"/jobs/{job.id}/files/input").status_code == 404
    assert logged_in.get(f"/jobs/{job.id}/files/input/photo.png").status_code == 404


def test_action_next_never_leaves_the_site(logged_in, user):
    job = Job.objects.create(user=user, kind="countdown")
    resp = logged_in.post(f"/jobs/{job.id}/cancel/", {"next": "https://evil.example/"})
    assert resp.status_code == 302 and resp["Location"] == job.get_absolute_url()


# --- JSON endpoints: one hostile field at a time, and truncated bodies -------------------

SUMMARY = {
    "spec": json.dumps([{"type": "conv2d", "filters": 4}, {"type": "relu"}]),
    "dataset": '"stripes"',
    "image_size": "16",
    "channels": "3",
    "classes": "2",
}


@fast
@given(field=st.sampled_from(sorted(SUMMARY)), value=JSON_VALUES)
def test_summary_names_the_bad_field(client, field, value):
    resp = client.post(
        "/playground/summary/",
        _object({**SUMMARY, field: value}),
        content_type="application/json",
    )
    assert resp.status_code in (200, 400)
    if resp.status_code == 400:
        assert _names_field(resp, field), resp.json()


@fast
@given(cut=st.integers(min_value=0, max_value=len(_object(SUMMARY)) - 1))
def test_summary_answers_truncated_json_with_json(client, cut):
    resp = client.post(
        "/playground/summary/", _object(SUMMARY)[:cut], content_type="application/json"
    )
    assert resp.status_code == 400 and resp.json()["error"]


@fast
@given(field=st.sampled_from(["dataset", "image_size", "channels"]), value=TEXT_VALUES)
def test_preset_names_the_bad_query_field(client, field, value):
    query = {"dataset": "stripes", "image_size": "32", "channels": "3", field: value}
    resp = client.get("/playground/presets/lenet5/", query)
    assert resp.status_code in (200, 400)
    if resp.status_code == 400:
        assert _names_field(resp, field), resp.json()


@fast
@given(name=st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s))
def test_preset_of_any_name(client, name):
    resp = client.get(f"/playground/presets/{quote(name, safe='')}/")
    assert resp.status_code in (200, 400, 404)


@fast
@given(
    field=st.sampled_from(["lr", "paused", "momentum", "x" * 40]),
    value=JSON_VALUES,
    cut=st.none() | st.integers(min_value=0, max_value=30),
)
def test_control_names_the_bad_field(logged_in, user, field, value, cut):
    job = Job.objects.create(user=user, kind="countdown", status=JobStatus.RUNNING)
    body = _object({"paused": "false", field: value})
    resp = logged_in.post(
        f"/jobs/{job.id}/control/",
        body if cut is None else body[:cut],
        content_type="application/json",
    )
    assert resp.status_code in (200, 400)
    if resp.status_code == 400:
        assert resp.json()["error"]
        if cut is None:
            assert _names_field(resp, field[:32]), resp.json()
    job.delete()


@fast
@given(value=JSON_VALUES, cut=st.none() | st.integers(min_value=0, max_value=12))
def test_share_any_body(logged_in, user, value, cut):
    job = Job.objects.filter(user=user, kind="train").first() or Job.objects.create(
        user=user, kind="train", status=JobStatus.SUCCEEDED
    )
    body = _object({"off": value})
    resp = logged_in.post(
        f"/playground/runs/{job.id}/share/",
        body if cut is None else body[:cut],
        content_type="application/json",
    )
    assert resp.status_code in (200, 400)
    assert "error" in resp.json() or "url" in resp.json()


@fast
@given(value=TEXT_VALUES)
def test_predict_without_a_picture(logged_in, user, value):
    job = Job.objects.filter(user=user, kind="train").first() or Job.objects.create(
        user=user, kind="train", status=JobStatus.SUCCEEDED
    )
    resp = logged_in.post(f"/playground/runs/{job.id}/predict/", {"picture": value})
    assert resp.status_code == 400 and resp.json()["error"]


# --- forms, query strings and path segments: never a 5xx --------------------------------

FORMS = {
    "/accounts/signup/": ["username", "password1", "password2"],
    "/accounts/login/": ["username", "password"],
    "/playground/": ["spec", "preset", "dataset", "image_size", "max_samples",
                     "val_fraction", "optimizer", "lr", "batch_size", "epochs",
                     "weight_decay", "init", "seed", "activation_sample", "rotate", "shift"],
    "/style/": ["gallery", "from_job", "reuse_content", "reuse_style", "preset", "size",
                "steps", "levels", "coarse_steps", "style_weight", "content_weight",
                "tv_weight", "optimizer", "learning_rate", "init", "pooling", "seed"],
    "/detect/": ["conf", "iou", "classes", "class_conf", "windows"],
}  # fmt: skip


@fast
@given(
    url=st.sampled_from(sorted(FORMS)),
    data=st.data(),
)
def test_forms_never_fail_on_bad_values(logged_in, url, data):
    names = data.draw(st.lists(st.sampled_from(FORMS[url]), min_size=1, unique=True))
    values = {name: data.draw(TEXT_VALUES) for name in names}
    resp = logged_in.post(url, values)
    assert resp.status_code < 500
    if resp.status_code in (200, 400):  # the form again, with what is wrong
        assert b"error" in resp.content


@fast
@given(
    url=st.sampled_from(["/jobs/", "/playground/", "/style/", "/detect/", "/playground/compare/"]),
    key=st.sampled_from(["status", "page", "from", "runs"]),
    value=TEXT_VALUES,
)
def test_query_strings_never_fail(logged_in, url, key, value):
    assert logged_in.get(url, {key: value}).status_code < 500


@fast
@given(
    template=st.sampled_from(
        [
            "/jobs/{job}/files/{x}",
            "/style/gallery/{x}.png",
            "/style/jobs/{job}/inputs/{x}.png",
            "/playground/shared/{x}/",
            "/jobs/{x}/",
            "/ws/jobs/{x}/",
        ]
    ),
    segment=st.text(min_size=1, max_size=40),
)
def test_path_segments_never_fail(logged_in, user, template, segment):
    job = Job.objects.filter(user=user).first() or Job.objects.create(user=user, kind="countdown")
    url = template.format(job=job.id, x=quote(segment, safe=""))
    assert logged_in.get(url).status_code < 500


@fast
@given(action=st.sampled_from(["cancel", "retry"]), nxt=TEXT_VALUES)
def test_action_next_of_any_value(logged_in, user, action, nxt):
    job = Job.objects.create(user=user, kind="countdown", status=JobStatus.FAILED)
    resp = logged_in.post(f"/jobs/{job.id}/{action}/", {"next": nxt})
    assert resp.status_code in (302, 409)
    if resp.status_code == 302:
        assert resp["Location"].startswith("/")


# --- label files and teach's fields (issue 21: five 500s, and seconds of CPU each) ----------

# A hostile JSON text: one of the values above, or one nested too deeply for anything.
HOSTILE_JSON = JSON_VALUES | st.sampled_from(
    ["[" * 100_000, "[" * 70 + "]" * 70, "9" * 401, "-" + "7" * 5000, '{"a": [{}]}']
)


def _picture_bytes(size=(64, 48), mode="RGB", value=128) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, value).save(buffer, format="PNG")
    return buffer.getvalue()


@fast
@given(image_id=HOSTILE_JSON, category_id=HOSTILE_JSON,
       bbox=st.lists(HOSTILE_JSON, min_size=0, max_size=5), extra=HOSTILE_JSON)  # fmt: skip
def test_coco_labels_of_any_value_are_a_label_error(image_id, category_id, bbox, extra):
    from detection.labels import LabelError, PictureSize, label_files, read_labels
    from webapp.pictures import UploadLimits

    text = (f'{{"images": [{{"id": 1, "file_name": "a.png", "width": {extra}}}], '
            f'"categories": [{{"id": {category_id}, "name": "person"}}], '
            f'"annotations": [{{"image_id": {image_id}, "category_id": {category_id}, '
            f'"bbox": [{", ".join(bbox)}]}}, {extra}]}}')  # fmt: skip
    files = label_files([("l.json", text.encode())], UploadLimits())
    try:
        read_labels(files, [PictureSize("a.png", 64, 48)], ["person", "dog"])
    except LabelError as exc:
        assert exc.problems and all(p.startswith(("l.json", "a.png")) for p in exc.problems)


@fast
@given(lines=st.lists(st.lists(TEXT_VALUES | HOSTILE_JSON, max_size=6).map(" ".join),
                      max_size=6))  # fmt: skip
def test_yolo_labels_of_any_value_are_a_label_error(lines):
    from detection.labels import LabelError, PictureSize, label_files, read_labels
    from webapp.pictures import UploadLimits

    files = label_files([("a.txt", "\n".join(lines).encode())], UploadLimits())
    try:
        truth = read_labels(files, [PictureSize("a.png", 64, 48)], ["person", "dog"])
    except LabelError as exc:
        assert exc.problems and all(p.startswith(("a.txt", "a.png")) for p in exc.problems)
    else:
        assert all(0 <= t.box[0] < t.box[2] <= 64 for t in truth["a.png"])


@fast
@given(value=HOSTILE_JSON, text=TEXT_VALUES, data=st.data())
def test_the_playgrounds_box_point_and_mask_labels_of_any_value_are_an_upload_error(
    value, text, data
):
    import io
    import zipfile

    from playground.labelzips import labelled_zip_probe
    from webapp.pictures import UploadError
    from webapp.tools import upload_limits

    task = data.draw(st.sampled_from(["localise", "landmarks", "segment"]))
    files = {"a.png": _picture_bytes((12, 12), "L")}
    if task == "localise":
        files["labels.json" if data.draw(st.booleans()) else "labels.csv"] = data.draw(
            st.sampled_from([
                f'{{"labels": [{{"file": "a.png", "class": {value}, "box": [1, {value}, 5, 6]}}]}}',
                f'{{"labels": {value}}}',
                f"file,class,x0,y0,x1,y1\na.png,cat,1,{text},5,6\n",
            ]))  # fmt: skip
    elif task == "landmarks":
        points = f"[[1, {value}], [2, 3]]"
        files["labels.json"] = (f'{{"points": ["eye", {value}], '
                                f'"labels": [{{"file": "a.png", "points": {points}}}]}}')
    else:  # a mask of any size and mode, its classes any text
        size = data.draw(st.tuples(st.integers(1, 20), st.integers(1, 20)))
        mode = data.draw(st.sampled_from(["L", "RGB", "1", "I;16"]))
        files["masks/a.png"] = _picture_bytes(size, mode, 1)
        files["classes.txt"] = text
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    try:
        labelled_zip_probe(buffer.getvalue(), "d.zip", task, upload_limits())
    except UploadError as exc:
        assert str(exc)


@fast
@given(classes=HOSTILE_JSON | TEXT_VALUES, pictures=st.integers(0, 3))
def test_teach_refuses_any_class_list_with_a_message(logged_in, classes, pictures):
    data = {"classes": classes}
    for i in range(pictures):
        data[f"pictures-{i}"] = [SimpleUploadedFile("a.png", _picture_bytes((24, 24)), "image/png")]
    before = Job.objects.count()
    resp = logged_in.post("/playground/teach/", data)
    assert resp.status_code in (200, 400)  # 200: a good list and pictures, queued
    if resp.status_code == 400:
        assert resp.json()["error"] and Job.objects.count() == before


@fast
@given(labels=HOSTILE_JSON)
def test_the_detection_form_answers_any_coco_file_with_a_form_error(logged_in, labels):
    before = Job.objects.count()
    resp = logged_in.post("/detect/", {
        "conf": "0.25", "iou": "0.45",
        "pictures": [SimpleUploadedFile("a.png", _picture_bytes(), "image/png")],
        "labels": [SimpleUploadedFile("l.json", labels.encode(), "application/json")],
    })  # fmt: skip
    assert resp.status_code in (302, 400)
    if resp.status_code == 400:
        assert "Nothing was started." in resp.content.decode() and Job.objects.count() == before
