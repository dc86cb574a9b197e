"""Detection as a person meets it, in real headless Chromium against the live stack."""

from __future__ import annotations

import json
import re
import time

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


def test_per_class_confidence_and_the_xray(page, make_user, tmp_path):
    """A class's own confidence re-filters like the slider does; the X-ray draws the grids,
    the final boxes with their cells, NMS step by step and the IoU explorer."""
    browser_login(page, make_user("xavi"))
    page.goto("/detect/")
    picture = tmp_path / "oranges.png"
    picture.write_bytes(oranges_png())
    page.set_input_files("#id_pictures", str(picture))
    page.fill("#id_class_conf", "orange=0.3")
    page.select_option("#id_windows", "96")
    page.click("#det-submit")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    boxes = page.locator("#det-pictures .det-box")
    own = page.locator(".det-own[data-class=orange]")
    expect(own).to_have_value("0.3")  # the job's own per-class setting
    expect(boxes.first).to_be_visible()
    at_own = boxes.count()

    # The slider at 0.3 with no own value shows what orange=0.3 showed; orange=0.4 fewer.
    own.fill("")
    own.press("Enter")
    page.locator("#det-conf").fill("0.3")
    expect(boxes).to_have_count(at_own)
    page.locator("#det-conf").fill("0.25")
    own.fill("0.4")
    own.press("Enter")
    expect(boxes).not_to_have_count(at_own)
    at_high = boxes.count()
    assert 1 <= at_high < at_own
    with page.expect_download() as info:
        page.click("#det-export-coco")
    coco = json.loads(open(info.value.path()).read())
    assert coco["info"]["class_conf"] == {"orange": 0.4} and len(coco["annotations"]) == at_high

    page.click(".det-xray-toggle")
    xray = page.locator(".det-xray")
    expect(xray.locator(".det-xray-svg")).to_be_visible()
    expect(xray.locator(".det-xray-final")).to_have_count(at_high)  # the page's final boxes
    assert xray.locator(".det-xray-grid line").count() == 14 + 14  # 13x13 grid lines
    expect(xray.locator(".det-xray-summary")).to_contain_text("out of 2535 (13×13×3 + 26×26×3)")
    xray.locator("input[data-layer=heat0]").check()
    assert xray.locator(".det-xray-heat rect").count() > 0
    xray.locator("input[data-layer=anchors]").check()
    expect(xray.locator(".det-xray-anchor")).to_have_count(6)
    xray.locator(".det-xray-final").first.click(force=True)
    expect(xray.locator(".det-xray-explain")).to_contain_text("from the 13×13 grid, row")

    xray.locator("input[data-layer=nms]").check()
    step = xray.locator(".det-xray-step")
    expect(step).to_contain_text(f"Step 1 of {at_high}: keep orange")
    for _ in range(at_high - 1):
        xray.locator("[data-role=nms-next]").click()
    expect(step).to_contain_text(f"Step {at_high} of {at_high}")

    # At the lowest confidence the candidates overlap: steps suppress boxes, with their IoU.
    own.fill("")
    own.press("Enter")
    page.locator("#det-conf").fill("0.05")
    xray.locator("input[data-layer=candidates]").check()
    assert xray.locator(".det-xray-cand").count() > at_own
    xray.locator("input[data-layer=nms]").uncheck()
    xray.locator("input[data-layer=nms]").check()  # back to step 1
    expect(step).to_contain_text("Step 1 of")
    suppressed, texts = 0, []
    for _ in range(8):
        suppressed += xray.locator(".det-xray-suppressed").count()
        texts.append(step.inner_text())
        xray.locator("[data-role=nms-next]").click()
    assert suppressed > 0
    assert any(re.search(r"it suppresses \d+ orange box(es)? \(IoU 0\.\d\d", t) for t in texts)
    page.screenshot(path=str(SHOTS / "detection_xray_nms.png"), full_page=True)

    out = xray.locator(".det-iou-out")
    before = out.inner_text()
    first = xray.locator(".det-iou-box").first.bounding_box()
    page.mouse.move(first["x"] + 10, first["y"] + 10)
    page.mouse.down()
    page.mouse.move(first["x"] + 60, first["y"] + 30, steps=5)
    page.mouse.up()
    expect(out).not_to_have_text(before)
    assert "IoU 0." in out.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "detection_xray.png"), full_page=True)

    windows = page.locator("#det-windows")
    expect(windows).to_be_visible()
    expect(windows.locator(".det-windows-cell")).to_have_count(2 * 169)
    expect(page.locator("#det-windows-verdict")).to_contain_text(
        re.compile(r"faster here and did \d+\.\d× fewer multiply-adds")
    )
    expect(page.locator("#det-windows-fast")).to_contain_text("2.8 G multiply-adds")
    windows.screenshot(path=str(SHOTS / "detection_windows.png"))
    assert page.js_errors == []


def test_map_on_own_labels_with_the_gallery_of_errors(page, make_user, tmp_path):
    browser_login(page, make_user("mira"))
    page.goto("/detect/")
    picture = tmp_path / "oranges.png"
    picture.write_bytes(oranges_png())
    labels = tmp_path / "oranges.txt"
    # An orange where YOLOv3-tiny finds one (bottom right) and a cup that is not there.
    labels.write_text("49 0.75 0.78 0.2 0.2\n41 0.2 0.2 0.2 0.2\n")
    page.set_input_files("#id_pictures", str(picture))
    page.locator(".det-labels summary").click()
    page.set_input_files("#id_labels", str(labels))
    page.click("#det-submit")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)

    panel = page.locator("#det-eval")
    expect(panel).to_be_visible()
    assert re.fullmatch(r"\d+\.\d", page.locator("#det-eval-map50").inner_text())
    expect(page.locator("#det-eval-classes tbody tr")).to_have_count(2)  # orange, cup
    expect(page.locator("#det-eval-pr svg")).to_be_visible()
    page.select_option("#det-eval-filter", "miss")
    expect(page.locator(".det-eval-tile.miss").first).to_contain_text("missed: cup")
    page.select_option("#det-eval-filter", "all")
    kinds = {page.locator(".det-eval-tile").nth(i).get_attribute("data-kind")
             for i in range(page.locator(".det-eval-tile").count())}  # fmt: skip
    assert "miss" in kinds and len(kinds) >= 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "detection_evaluation.png"), full_page=True)
    assert page.js_errors == []


def wait_true(page, expression: str, timeout: float = 30) -> None:
    """Poll `expression` until true (page.wait_for_function polls with eval, which the
    site's policy refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        page.wait_for_timeout(100)


def frame_count(page) -> tuple[int, int]:
    """(boxes, frame number) of the video page's "N objects on frame F of M"."""
    text = page.locator("#det-video-frame").inner_text()
    found = re.match(r"(\d+) objects? on frame (\d+) of \d+", text)
    assert found, text
    return int(found.group(1)), int(found.group(2))


PAINTED = """() => {
  const c = document.getElementById('det-video-overlay');
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < px.length; i += 4) n += px[i] > 0;
  return n;
}"""


def test_a_clip_plays_back_annotated_with_counts_over_time(page, make_user, tmp_path):
    from detection.video import encode_clip
    from tests.detection.test_video import moving_oranges

    browser_login(page, make_user("vito"))
    page.goto("/detect/")
    clip = tmp_path / "oranges.mp4"
    clip.write_bytes(encode_clip(moving_oranges(16), 8))
    page.set_input_files("#id_video", str(clip))
    page.fill("#id_conf", "0.1")
    page.click("#det-submit")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=90_000)
    expect(page.locator("#det-video-status")).to_contain_text("16 frames done")
    video = page.locator("#det-video-clip")
    expect(video).to_be_visible()
    # Chromium reads the annotated WebM: 16 frames at 8 a second is 2 s.
    wait_true(page, "document.getElementById('det-video-clip').readyState >= 1")
    duration = page.evaluate("document.getElementById('det-video-clip').duration")
    assert abs(duration - 2.0) < 0.2
    expect(page.locator("#det-video-counts svg")).to_be_visible()
    expect(page.locator("#det-video-counts")).to_contain_text("orange")
    expect(page.locator("#det-video-files a")).to_have_count(2)
    expect(page.locator("#det-video-files a").first).to_have_attribute(
        "href", re.compile(r"annotated\.webm\?download=1$")
    )

    # The plain clip plays under a canvas with the boxes of the frame on screen, at the
    # job's settings first: as many as the job found on that frame.
    clip_el = page.locator("#det-video-clip")
    expect(clip_el).to_have_attribute("data-from", re.compile(r"/clip\.webm$"))
    assert clip_el.evaluate("v => v.src").startswith("blob:")  # seekable without ranges
    expect(page.locator("#det-video-frame")).to_contain_text("on frame 1 of 16")
    frames_url = page.evaluate("document.querySelectorAll('#det-video-files a')[1].href")
    frames = page.request.get(frames_url).json()["frames"]
    at_job, _ = frame_count(page)
    assert at_job == len(frames[0]["detections"]) >= 1
    assert page.evaluate(PAINTED) > 0
    expect(page.locator("#det-conf-value")).to_have_text("0.10")

    # The confidence slider re-filters the frame on screen: none at 1, more at 0.05.
    page.locator("#det-conf").fill("1")
    expect(page.locator("#det-video-frame")).to_contain_text("0 objects on frame 1")
    assert page.evaluate(PAINTED) == 0
    page.locator("#det-conf").fill("0.05")
    expect(page.locator("#det-video-frame")).not_to_contain_text("0 objects on frame 1")
    low, _ = frame_count(page)
    assert low >= at_job
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "detection_video.png"), full_page=True)

    # The class filter hides a class on the frame and in the chart.
    expect(page.locator("#det-video-boxes")).to_contain_text("orange")
    oranges = page.locator("#det-video-boxes").inner_text().count("orange ")
    page.locator("#det-classes input[type=checkbox][value=orange]").uncheck()
    expect(page.locator("#det-video-boxes")).not_to_contain_text("orange")
    expect(page.locator("#det-video-counts svg")).not_to_contain_text("orange")
    without, _ = frame_count(page)
    assert without == low - oranges
    page.click("#det-all")
    expect(page.locator("#det-video-boxes")).to_contain_text("orange")
    page.click("#det-reset")  # back to the job's settings: the job's count again
    expect(page.locator("#det-conf-value")).to_have_text("0.10")
    assert frame_count(page) == (at_job, 1)

    # Seeking shows that frame's boxes; the X-ray is the key frame's.
    page.evaluate("document.getElementById('det-video-clip').currentTime = 10.5 / 8")
    expect(page.locator("#det-video-frame")).to_contain_text("on frame 11 of 16")
    page.click("#det-video-xray-toggle")
    expect(page.locator("#det-video-xray-box .det-xray-svg")).to_be_visible()
    expect(page.locator("#det-video-xray-what")).to_contain_text("X-ray of frame")
    page.screenshot(path=str(SHOTS / "detection_video_xray.png"), full_page=True)
    assert page.js_errors == []


def test_choosing_yolov4_tiny_runs_it_and_draws_its_boxes(page, make_user, tmp_path):
    """The strongest model we can install (no full-size model's weights are on the
    registry): chosen on the form, named on the job page, its boxes drawn, "run again"
    keeps it, and the X-ray offers a grid for each of its scales."""
    require_model_file("yolov4-tiny.weights")
    browser_login(page, make_user("yuki"))
    page.goto("/detect/")
    table = page.locator("#det-model-table")
    expect(table.locator("tr[data-model=yolov4-tiny]")).to_contain_text("40.2")
    expect(table.locator("tr[data-model=yolov4-tiny]")).to_contain_text("6,053,502")
    expect(page.locator("#det-models input[value=yolov3-tiny]")).to_be_checked()
    picture = tmp_path / "oranges.png"
    picture.write_bytes(oranges_png())
    page.set_input_files("#id_pictures", str(picture))
    page.locator("#det-models input[value=yolov4-tiny]").check()
    page.click("#det-submit")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=90_000)

    expect(page.locator("#det-model")).to_contain_text("YOLOv4-tiny, 416×416 input")
    expect(page.locator("#det-model")).to_contain_text("40.2 mAP@0.5")
    boxes = page.locator("#det-pictures .det-box")
    expect(boxes.first).to_be_visible()
    assert boxes.count() >= 2 and count_text(page) == boxes.count()
    expect(page.locator(".det-label").first).to_contain_text(re.compile(r"orange 0\.\d\d"))

    page.click(".det-xray-toggle")
    xray = page.locator(".det-xray")
    expect(xray.locator("input[data-layer=grid0]")).to_be_checked()
    expect(xray.locator("input[data-layer=grid1]")).not_to_be_checked()
    xray.locator("input[data-layer=grid1]").check()
    assert xray.locator(".det-xray-grid line").count() == (14 + 14) + (27 + 27)
    expect(xray.locator(".det-xray-summary")).to_contain_text("(13×13×3 + 26×26×3)")
    page.screenshot(path=str(SHOTS / "detection_yolov4_tiny.png"), full_page=True)
    assert page.js_errors == []

    page.click("#job-again")
    expect(page.locator("#det-models input[value=yolov4-tiny]")).to_be_checked()


def test_models_compared_side_by_side_on_own_labels(page, make_user, tmp_path):
    require_model_file("yolov4-tiny.weights")
    browser_login(page, make_user("carl"))
    page.goto("/detect/")
    picture = tmp_path / "oranges.png"
    picture.write_bytes(oranges_png())
    labels = tmp_path / "oranges.txt"
    labels.write_text("49 0.75 0.78 0.2 0.2\n41 0.2 0.2 0.2 0.2\n")  # an orange, a cup
    page.set_input_files("#id_pictures", str(picture))
    page.locator(".det-labels summary").click()
    page.locator("#det-compare-with input[value=yolov4-tiny]").check()
    page.click("#det-submit")  # no labels yet: refused, saying why
    expect(page.locator("#det-errors")).to_contain_text("Comparing models needs your labels")
    page.set_input_files("#id_pictures", str(picture))
    page.set_input_files("#id_labels", str(labels))
    expect(page.locator("#det-compare-with input[value=yolov4-tiny]")).to_be_checked()
    page.click("#det-submit")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=120_000)

    panel = page.locator("#det-compare")
    expect(panel).to_be_visible()
    expect(panel.locator("thead th")).to_have_text(["", "YOLOv3-tiny", "YOLOv4-tiny"])
    expect(panel.locator("tr.det-compare-class th")).to_have_text(["AP@0.5 cup", "AP@0.5 orange"])
    times = panel.locator("tbody tr").nth(3).locator("td")
    expect(times.first).to_contain_text(re.compile(r"^\d+ ms$"))
    expect(panel.locator(".det-compare-curve svg")).to_have_count(2)
    expect(panel.locator(".det-compare-curve[data-model=yolov4-tiny]")).to_contain_text("mAP@0.5")
    panel.screenshot(path=str(SHOTS / "detection_models_compared.png"))
    assert page.js_errors == []
