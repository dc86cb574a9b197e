"""Style transfer as a person meets it, in real headless Chromium against the live stack."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.conftest import browser_login, wait_for
from webapp.modelfiles import ModelFileError, model_path
from webapp.models import Job

pytestmark = [
    pytest.mark.browser,
    pytest.mark.stack,
    pytest.mark.django_db(transaction=True),
    pytest.mark.weights,
]


def _png(path, seed: int) -> str:
    picture = Image.effect_mandelbrot((72, 54), (-2 + seed * 0.3, -1.2, 1, 1.2), 60)
    picture.convert("RGB").save(path, "PNG")
    return str(path)


def test_upload_two_pictures_watch_the_preview_change_and_download(page, make_user, tmp_path):
    try:
        model_path("vgg19_caffe_q.bin")
    except ModelFileError as exc:
        pytest.skip(str(exc))
    browser_login(page, make_user("painter"))
    page.goto("/style/")
    expect(page.locator("#id_size")).to_have_value("512")  # the CLI's defaults are filled in

    page.set_input_files("#id_content", _png(tmp_path / "photo.png", 0))
    page.set_input_files("#id_styles", _png(tmp_path / "painting.png", 3))
    # thumbnails of the chosen pictures appear before anything is uploaded
    expect(page.locator("#st-content-preview img")).to_have_count(1)
    expect(page.locator("#st-style-previews img")).to_have_count(1)
    expect(page.locator("#st-style-count")).to_have_text("1 chosen")

    page.select_option("#id_preset", "quick")
    expect(page.locator("#id_size")).to_have_value("384")
    page.fill("#id_size", "64")
    page.fill("#id_steps", "40")
    page.click("text=Advanced")
    page.fill("#id_levels", "1")
    page.click("#st-submit")

    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get()
    preview = page.locator("#st-preview")
    first = wait_for(lambda: preview.get_attribute("src"), timeout=60, what="a first preview")
    wait_for(
        lambda: preview.get_attribute("src") not in (None, first),
        timeout=60,
        what="the preview to change",
    )
    expect(page.locator("#st-plot svg path.line").first).to_be_visible()

    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#st-canvas-title")).to_have_text("Result")
    expect(page.locator("#job-cancel")).to_be_hidden()
    expect(page.locator("#st-result-meta")).to_contain_text("on cpu")
    with page.expect_download() as info:
        page.click("#st-download")
    download = info.value
    assert download.suggested_filename == "result.png"
    picture = Image.open(io.BytesIO(open(download.path(), "rb").read()))
    assert picture.size == (64, 48)
    assert job.title.startswith("photo.png")
    assert page.js_errors == []


def test_paint_regions_run_compare_before_and_after_and_open_the_recipe(page, make_user, tmp_path):
    try:
        model_path("vgg19_caffe_q.bin")
    except ModelFileError as exc:
        pytest.skip(str(exc))
    browser_login(page, make_user("regions"))
    page.goto("/style/")
    page.set_input_files("#id_content", _png(tmp_path / "photo.png", 0))
    page.check("input[name=gallery][value=waves]", force=True)
    page.check("input[name=gallery][value=swirl]", force=True)
    page.click("#st-paint-toggle")
    canvas = page.locator("#st-canvas")
    expect(canvas).to_be_visible()
    page.click("#st-split")  # two regions by colour to start from
    rows = page.locator("#st-region-list tr")
    expect(rows).to_have_count(2)
    rows.nth(0).locator("select").select_option("")  # region 1 keeps the photo
    rows.nth(1).locator("select").select_option("1")  # region 2: the second style (swirl)
    rows.nth(1).locator("input[type=number]").fill("2")
    box = canvas.bounding_box()
    rows.nth(1).locator("input[type=radio]").check()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 8, steps=5)
    page.mouse.up()
    # the estimate from the measured model is shown before anything is sent
    expect(page.locator("#st-estimate-text")).to_contain_text("Estimated on the cpu worker")
    shots = Path(__file__).resolve().parents[2] / "data" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.locator("#st-regions").screenshot(path=str(shots / "style-regions-painted.png"))
    page.select_option("#id_preset", "quick")
    page.fill("#id_size", "64")
    page.fill("#id_steps", "6")
    page.click("text=Advanced")
    page.fill("#id_levels", "1")
    page.click("#st-submit")

    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get()
    assert job.params["regions"] == [
        {"style": None, "strength": 1.0},
        {"style": 1, "strength": 2.0},
    ]
    from django.core.files.storage import default_storage

    with default_storage.open(job.params["inputs"]["labels"], "rb") as fh:
        labels = Image.open(io.BytesIO(fh.read())).convert("L")
    assert sorted(np.unique(np.asarray(labels)).tolist()) == [0, 1]
    assert labels.getpixel((2, 2)) == 1  # painted by the stroke
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=90_000)

    # before / after: the photo over the result, cut where the slider is
    expect(page.locator("#st-before-after")).to_be_visible()
    expect(page.locator("#st-compare-with option")).to_have_count(1)
    page.locator("#st-slider").fill("20")
    assert "80%" in page.locator("#st-before").get_attribute("style")
    expect(page.locator("#st-recipe")).to_have_attribute(
        "href", f"/jobs/{job.id}/files/recipe.json?download=1"
    )

    # the recipe opens the form filled in, regions included, and runs again
    page.click("#st-recipe-open")
    expect(page.locator("#id_size")).to_have_value("64")
    expect(page.locator("#id_reuse_regions")).to_be_checked()
    expect(page.locator("#st-region-list tr")).to_have_count(2)
    page.click("#st-submit")
    page.wait_for_url("**/jobs/*/")
    again = Job.objects.exclude(pk=job.pk).get()
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=90_000)
    # an earlier result of the same photo is offered for comparison
    expect(page.locator("#st-compare-with option")).to_have_count(2)
    first, second = (Job.objects.get(pk=j.pk) for j in (job, again))
    assert second.params["regions"] == first.params["regions"]

    def result_bytes(j: Job) -> bytes:
        with default_storage.open(f"{j.storage_prefix}/result.png", "rb") as fh:
            return fh.read()

    # the same recipe on the same worker: the same picture, bit for bit
    assert (
        Image.open(io.BytesIO(result_bytes(first))).tobytes()
        == Image.open(io.BytesIO(result_bytes(second))).tobytes()
    )
    assert page.js_errors == []


def test_a_size_too_big_for_the_worker_is_refused_before_sending_with_an_offer(page, make_user):
    browser_login(page, make_user("printer"))
    page.goto("/style/")
    page.select_option("#id_preset", "print")
    page.fill("#id_size", "4096")
    text = page.locator("#st-estimate-text")
    expect(text).to_contain_text("too big")
    offer = page.locator("#st-estimate-fix")
    expect(offer).to_be_visible()
    largest = int(offer.get_attribute("data-size"))
    assert 1024 < largest < 4096
    offer.click()
    expect(page.locator("#id_size")).to_have_value(str(largest))
    expect(text).not_to_contain_text("too big")
    assert page.js_errors == []
