"""Detection as a person meets it, in real headless Chromium against the live stack."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, browser_login, require_model_file
from tests.detection.test_worker import oranges_png

SHOTS = ROOT / "data" / "screenshots"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.stack,
    pytest.mark.django_db(transaction=True),
    pytest.mark.weights,
]


@pytest.fixture(autouse=True)
def real_model():
    require_model_file("yolov3-tiny.weights")


def count_text(page) -> int:
    return int(re.match(r"(\d+) object", page.locator("#det-total").inner_text()).group(1))


def test_upload_see_boxes_filter_them_live_and_export(page, make_user, tmp_path):
    user = make_user("pia")
    browser_login(page, user)
    page.goto("/detect/")
    expect(page.locator("#det-model-card")).to_contain_text("33.1 mAP@0.5")
    expect(page.locator("#id_conf")).to_have_value("0.25")

    # A bad file first: the form says why and nothing starts.
    page.set_input_files(
        "#id_pictures",
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture"}],
    )
    page.click("#det-submit")
    expect(page.locator("#det-errors")).to_contain_text("notes.txt: not a picture we can read")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "detection_form_refused.png"), full_page=True)

    picture = tmp_path / "oranges.png"
    picture.write_bytes(oranges_png())
    page.set_input_files("#id_pictures", str(picture))
    expect(page.locator("#det-chosen")).to_contain_text("1 file")
    page.fill("#id_conf", "0.3")
    page.click("#det-submit")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)

    expect(page.locator("#det-conf-value")).to_have_text("0.30")  # the job's own setting
    boxes = page.locator("#det-pictures .det-box")
    expect(boxes.first).to_be_visible()
    at_default = boxes.count()
    assert at_default >= 2 and count_text(page) == at_default
    expect(page.locator(".det-label").first).to_contain_text(re.compile(r"orange 0\.\d\d"))
    expect(page.locator("#det-classes")).to_contain_text("orange")

    page.locator("#det-conf").fill("0.4")
    expect(page.locator("#det-conf-value")).to_have_text("0.40")
    expect(boxes).not_to_have_count(at_default)
    high = boxes.count()
    assert 1 <= high < at_default and count_text(page) == high

    with page.expect_download() as info:
        page.click("#det-export-json")
    exported = json.loads(open(info.value.path()).read())
    assert [p["image"] for p in exported] == ["oranges.png"]
    assert len(exported[0]["detections"]) == high
    assert all(
        d["score"] >= 0.4 and d["class"] == "orange" and len(d["box"]) == 4
        for d in exported[0]["detections"]
    )

    with page.expect_download() as info:
        page.click("#det-export-coco")
    coco = json.loads(open(info.value.path()).read())
    assert len(coco["annotations"]) == high and len(coco["categories"]) == 80
    orange_id = next(c["id"] for c in coco["categories"] if c["name"] == "orange")
    x, y, w, h = coco["annotations"][0]["bbox"]
    assert coco["annotations"][0]["category_id"] == orange_id and w > 0 and h > 0

    with page.expect_download() as info:
        page.click(".det-download")
    assert info.value.suggested_filename == "oranges.detected.png"

    # Unticking the class hides its boxes; the slider back down shows more again.
    page.locator("#det-classes input[value=orange]").uncheck()
    expect(boxes).to_have_count(0)
    page.locator("#det-classes input[value=orange]").check()
    page.locator("#det-conf").fill("0.05")
    expect(boxes).not_to_have_count(high)
    assert boxes.count() > at_default
    page.locator("#det-conf").fill("0.3")
    assert page.js_errors == []

    # "Run again with these settings" opens the form with this job's knobs.
    page.click("#job-again")
    expect(page.locator("#id_conf")).to_have_value("0.3")
    expect(page.locator(".flash.info")).to_contain_text("Settings copied from")
    page.go_back()
    expect(page.locator("#det-pictures .det-box").first).to_be_visible()
    page.set_viewport_size({"width": 420, "height": 900})  # a phone: one column
    page.screenshot(path=str(SHOTS / "detection_job_narrow.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
