"""The new-job form: every bad picture is refused with a message and queues nothing;
odd but valid pictures are converted; "run again" starts from an earlier job."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.test import override_settings
from PIL import Image

from styletransfer.engine import MIN_SIDE, PRESETS
from styletransfer.gallery import STYLES
from styletransfer.services import KNOBS, MAX_SIZE
from webapp.models import Job

pytestmark = pytest.mark.django_db

KNOB_DATA = {"preset": "quick", **{k: getattr(PRESETS["quick"], k) for k in KNOBS}}
WAVES = f"gallery-{list(STYLES).index('waves')}-weight"  # the blend weight of the gallery's "waves"


def _file(name: str, picture: Image.Image | None = None, fmt: str = "PNG", **save) -> io.BytesIO:
    buffer = io.BytesIO()
    picture = picture or Image.effect_mandelbrot((60, 40), (-2, -1.2, 1, 1.2), 50).convert("RGB")
    picture.save(buffer, fmt, **save)
    buffer.seek(0)
    buffer.name = name
    return buffer


def _raw(name: str, data: bytes) -> io.BytesIO:
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


def _bomb_png(side: int = 50_000) -> bytes:
    """A PNG header claiming side x side pixels, with almost no data: a decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def client(client, make_user):
    client.force_login(make_user("artist"))
    return client


def _post(client, **fields):
    data = {**KNOB_DATA, "content": _file("photo.png"), "gallery": ["waves"], **fields}
    return client.post("/style/", {k: v for k, v in data.items() if v is not None})


def test_page_shows_the_cli_defaults_and_the_gallery(client):
    body = client.get("/style/").content.decode()
    standard = PRESETS["standard"]  # what `manage.py stylize` uses without options
    assert f'name="size" value="{standard.size}"' in body
    assert f'name="steps" value="{standard.steps}"' in body
    assert f'name="style_weight" value="{standard.style_weight}"' in body
    assert 'value="standard" selected' in body
    # the preset names the steps the field below shows, beside the total
    assert (
        f"Standard – {standard.size} px, {standard.steps} steps at full size, "
        f"{standard.total_steps} in all"
    ) in body
    for name in ("brush", "swirl", "waves", "mosaic", "stripes", "dots"):
        assert f'src="/style/gallery/{name}.png"' in body


def test_gallery_pictures_are_generated_the_same_every_time(client):
    first, second = client.get("/style/gallery/mosaic.png"), client.get("/style/gallery/mosaic.png")
    assert first["Content-Type"] == "image/png" and first.content == second.content
    assert Image.open(io.BytesIO(first.content)).size == (256, 256)
    assert client.get("/style/gallery/nothing.png").status_code == 404


def test_a_valid_form_queues_one_job_with_blended_styles(client):
    resp = _post(
        client,
        styles=[_file("a.png"), _file("b.jpg", fmt="JPEG")],
        **{"upload-0-weight": "3", "upload-1-weight": "1"},
        gallery=["waves"],
        **{WAVES: "0.5"},
    )
    job = Job.objects.get()
    assert resp.status_code == 302 and resp["Location"] == job.get_absolute_url()
    assert [(s["label"], s["weight"]) for s in job.params["styles"]] == [
        ("a.png", 3.0),
        ("b.jpg", 1.0),
        ("Woodblock sea", 0.5),
    ]
    assert job.params["config"]["size"] == PRESETS["quick"].size
    assert set(job.params["inputs"]) == {"content", "style0", "style1", "style2"}


BAD = {
    "not a picture": (lambda: _raw("notes.png", b"just some text"), "not a picture"),
    "truncated": (lambda: _raw("cut.png", _file("x.png").getvalue()[:300]), "truncated"),
    "decompression bomb": (lambda: _raw("bomb.png", _bomb_png()), "pixels"),
    "one pixel": (lambda: _file("dot.png", Image.new("RGB", (1, 1))), "1×1"),
    "too thin": (
        lambda: _file("thin.png", Image.new("RGB", (400, MIN_SIDE - 1))),
        f"at least {MIN_SIDE} pixels",
    ),
}


@pytest.mark.parametrize("case", BAD)
@pytest.mark.parametrize("role", ["content", "styles"])
def test_a_bad_picture_is_refused_with_a_message_and_nothing_is_queued(client, case, role):
    make, message = BAD[case]
    resp = _post(client, **{role: make()})
    assert resp.status_code == 400
    assert message in resp.content.decode()
    assert Job.objects.count() == 0


@override_settings(UPLOAD_MAX_BYTES=2000)
def test_a_file_over_the_upload_limit_is_refused(client):
    resp = _post(client, content=_file("big.png", Image.effect_noise((80, 80), 60).convert("RGB")))
    assert "; the limit is 2 KB per picture" in resp.content.decode()
    assert Job.objects.count() == 0


@override_settings(UPLOAD_MAX_PIXELS=1000)
def test_a_picture_over_the_pixel_limit_is_refused(client):
    resp = _post(client, content=_file("wide.png", Image.new("RGB", (50, 40))))
    assert "the limit is 1,000" in resp.content.decode()
    assert Job.objects.count() == 0


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"gallery": None}, "Add at least one style picture"),
        ({"content": None}, "Choose a photo to paint"),
        ({WAVES: "-1"}, "must be a number from 0 to"),
        ({WAVES: "lots"}, "must be a number from 0 to"),
        ({WAVES: "0"}, "needs a blend weight above 0"),
        ({"size": 100_000}, "Choose a size from"),
        ({"steps": 5000}, "the limit is"),
        ({"optimizer": "sgd"}, "Select a valid choice"),
        ({"style_weight": "heavy"}, "Enter a number"),
    ],
)
def test_bad_settings_are_refused_and_kept(client, fields, message):
    resp = _post(client, **fields)
    body = resp.content.decode()
    assert resp.status_code == 400 and message in body
    assert Job.objects.count() == 0
    assert 'name="content_weight" value="1.0"' in body  # what was typed is still there


@override_settings(USER_MAX_ACTIVE_JOBS=0)
def test_over_the_job_limit_is_refused_with_a_message(client):
    resp = _post(client)
    assert resp.status_code == 409 and "the limit is 0" in resp.content.decode()
    assert Job.objects.count() == 0


def _stored(job: Job, name: str) -> Image.Image:
    with default_storage.open(job.params["inputs"][name], "rb") as fh:
        return Image.open(io.BytesIO(fh.read())).copy()


def test_alpha_greyscale_cmyk_and_exif_rotation_are_converted(client):
    clear = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # fully transparent red
    grey = Image.new("L", (40, 30), 90)
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # red in CMYK
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    rotated = Image.new("RGB", (60, 30), (0, 0, 200))
    resp = _post(
        client,
        content=_file("turned.jpg", rotated, "JPEG", exif=exif.tobytes()),
        styles=[
            _file("clear.png", clear),
            _file("grey.png", grey),
            _file("cmyk.jpg", cmyk, "JPEG"),
        ],
        gallery=None,
    )
    assert resp.status_code == 302
    job = Job.objects.get()
    assert _stored(job, "content").size == (30, 60)  # upright, as the camera meant
    pictures = [_stored(job, f"style{i}") for i in range(3)]
    assert all(p.mode == "RGB" for p in pictures)
    assert np.asarray(pictures[0])[5, 5].tolist() == [255, 255, 255]  # laid over white
    assert np.asarray(pictures[1])[5, 5].tolist() == [90, 90, 90]
    r, g, b = np.asarray(pictures[2])[5, 5].tolist()
    assert r > 200 and g < 60 and b < 60


def test_big_pictures_are_stored_no_larger_than_the_largest_output(client):
    largest = MAX_SIZE  # the print sizes: refined in tiles
    _post(client, content=_file("huge.png", Image.new("RGB", (largest * 2, largest))))
    assert _stored(Job.objects.get(), "content").size == (largest, largest // 2)


def test_run_again_prefills_the_settings_and_reuses_the_pictures(client, make_user):
    _post(
        client,
        styles=[_file("mine.png")],
        **{"upload-0-weight": "2"},
        style_weight="7.5",
        preserve_color="luminance",
    )
    first = Job.objects.get()
    body = client.get(f"/style/?from={first.id}").content.decode()
    assert 'name="style_weight" value="7.5"' in body
    assert 'value="luminance" selected' in body
    assert f'src="/style/jobs/{first.id}/inputs/content.png"' in body
    assert 'name="reuse-0-weight" value="2.0"' in body

    # Submitting without new uploads uses the earlier job's photo and styles.
    resp = client.post(
        "/style/",
        {
            **KNOB_DATA,
            "from_job": first.id,
            "reuse_content": "on",
            "reuse_style": ["0", "1"],
            "reuse-0-weight": "4",
        },
    )
    assert resp.status_code == 302
    second = Job.objects.exclude(pk=first.pk).get()
    # the photo keeps its own name, in the title and for a third run
    assert first.title.startswith("photo.png × ")
    assert second.title == "photo.png × mine.png + Woodblock sea"
    assert second.params["content_label"] == "photo.png"
    assert [(s["label"], s["weight"]) for s in second.params["styles"]] == [
        ("mine.png", 4.0),
        ("Woodblock sea", 1.0),
    ]
    for name in ("content", "style0", "style1"):
        assert second.params["inputs"][name] != first.params["inputs"][name]
        assert _stored(second, name).tobytes() == _stored(first, name).tobytes()

    other = client.__class__()
    stranger = make_user("someone-else")
    other.force_login(stranger)
    detect_job = Job.objects.create(user=stranger, kind="detect", params={"conf": 0.5})
    # another user's job, a job of another kind, or no job: start from the defaults
    for from_ in (first.id, detect_job.id, "not-a-uuid"):
        resp = other.get(f"/style/?from={from_}", follow=True)
        body = resp.content.decode()
        assert resp.status_code == 200 and "starting from the defaults" in body
        assert f"/style/jobs/{first.id}/inputs/" not in body
        assert 'name="style_weight" value="3.0"' in body
    assert other.get(f"/style/jobs/{first.id}/inputs/content.png").status_code == 404
    assert client.get(f"/style/jobs/{first.id}/inputs/content.png")["Content-Type"] == "image/png"


def test_the_job_page_shows_the_pictures_and_settings(client):
    _post(client, styles=[_file("mine.png")])
    job = Job.objects.get()
    body = client.get(job.get_absolute_url()).content.decode()
    assert f"/style/jobs/{job.id}/inputs/style1.png" in body
    assert 'id="st-preview"' in body and 'id="st-plot"' in body and "Woodblock sea" in body


def _cut_jpeg() -> io.BytesIO:
    """A photo's JPEG cut to its first 200 bytes, as a broken download leaves it."""
    return _raw(
        "cut.jpg",
        _file("x.jpg", Image.effect_noise((200, 150), 60).convert("RGB"), "JPEG").getvalue()[:200],
    )


def test_a_jpeg_cut_to_200_bytes_is_a_form_error_not_a_server_error(client):
    resp = _post(client, styles=[_cut_jpeg()])
    assert resp.status_code == 400
    assert "cut.jpg: the picture is corrupt or incomplete (the file is truncated)" in (
        resp.content.decode()
    )
    assert Job.objects.count() == 0


def _huge_png() -> bytes:
    """A 1-bit PNG of 6324x6324 pixels: about 5 KB that decode to 40 million pixels."""
    return _file("h.png", Image.new("1", (6324, 6324))).getvalue()


def test_a_request_over_the_pixel_budget_is_refused_from_the_headers(client):
    huge = _huge_png()
    resp = _post(
        client,
        content=_raw("photo.png", huge),
        styles=[_raw(f"s{i}.png", huge) for i in range(8)],
    )
    assert resp.status_code == 400
    assert "360 million pixels together; at most 200 million" in resp.content.decode()
    assert Job.objects.count() == 0


def _png_with_broken_pixels() -> bytes:
    """A PNG whose header and checksums are right but whose pixel data is not zlib."""
    png = _file("x.png").getvalue()
    start = png.index(b"IDAT") - 4
    length = struct.unpack(">I", png[start : start + 4])[0]
    garbage = b"\x78\x9c" + b"\xff" * (length - 2)
    chunk = b"IDAT" + garbage
    broken = struct.pack(">I", length) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return png[:start] + broken + png[start + 12 + length :]


def test_pixels_broken_behind_a_good_header_are_refused_by_the_decoding_child(client):
    resp = _post(client, styles=[_raw("hidden.png", _png_with_broken_pixels())])
    assert resp.status_code == 400
    assert "hidden.png: the picture is corrupt or incomplete" in resp.content.decode()
    assert Job.objects.count() == 0


def test_the_largest_settings_are_refused_naming_the_steps_to_lower_to(client):
    """768 px, 1000 L-BFGS steps and 26 styles would run for hours on a CPU worker."""
    resp = _post(
        client,
        size=768,
        steps=1000,
        levels=1,
        coarse_steps=0,
        optimizer="lbfgs",
        styles=[_file(f"s{i}.png") for i in range(20)],
        gallery=list(STYLES),
    )
    body = resp.content.decode()
    assert resp.status_code == 409
    assert "This job is too big: it would run for about" in body
    assert "lower the steps to " in body
    assert Job.objects.count() == 0


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_with_its_defaults_is_accepted(client, name):
    knobs = {"preset": name, **{k: getattr(PRESETS[name], k) for k in KNOBS}}
    resp = _post(client, **knobs, gallery=list(STYLES))
    assert resp.status_code == 302
