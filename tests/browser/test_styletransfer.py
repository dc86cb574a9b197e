"""Style transfer as a person meets it, in real headless Chromium against the live stack."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.conftest import browser_login, wait_for
from webapp.modelfiles import ModelFileError, model_path
from webapp.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True),
              pytest.mark.weights]


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
    expect(page.locator("#id_size")).to_have_value("256")
    page.fill("#id_size", "64")
    page.fill("#id_steps", "40")
    page.click("text=Advanced")
    page.fill("#id_levels", "1")
    page.click("#st-submit")

    page.wait_for_url("**/jobs/*/")
    job = Job.objects.get()
    preview = page.locator("#st-preview")
    first = wait_for(lambda: preview.get_attribute("src"), timeout=60, what="a first preview")
    wait_for(lambda: preview.get_attribute("src") not in (None, first), timeout=60,
             what="the preview to change")
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
