"""The two-stage (region proposals) comparison on the detection job page, in real
headless Chromium against the live stack: the option in the form, the worker's counts."""

from __future__ import annotations

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


def test_proposals_classified_one_by_one_beside_yolos_single_pass(page, make_user, tmp_path):
    require_model_file("yolov3-tiny.weights")
    browser_login(page, make_user("ross"))
    page.goto("/detect/")
    picture = tmp_path / "oranges.png"
    picture.write_bytes(oranges_png())
    page.set_input_files("#id_pictures", str(picture))
    page.check("#id_proposals")
    page.click("#det-submit")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=120_000)

    panel = page.locator("#det-proposals")
    expect(panel).to_be_visible()
    slow = page.locator("#det-proposals-slow").inner_text()
    passes = int(re.match(r"(\d+) network passes", slow).group(1))
    assert passes > 10
    expect(panel.locator(".det-proposal")).to_have_count(passes)  # one pass per proposal
    expect(page.locator("#det-proposals-fast")).to_contain_text("1 network pass")
    expect(page.locator("#det-proposals-fast")).to_contain_text("2.8 G multiply-adds")
    # YOLOv3-tiny's convs on one 160 × 160 crop: 411,609,600 multiply-adds (conv_macs)
    assert f"{passes * 411_609_600 / 1e9:.1f} G multiply-adds" in slow
    expect(page.locator("#det-proposals-verdict")).to_contain_text(
        re.compile(r"one pass was \d+× faster and did \d+\.\d× fewer multiply-adds")
    )
    expect(page.locator("#det-proposals-two")).to_contain_text("orange")
    expect(page.locator("#det-proposals-one")).to_contain_text("orange")
    SHOTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(SHOTS / "detection_proposals.png"))
    assert page.js_errors == []
