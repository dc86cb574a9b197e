"""Presets fill in their training settings; transfer learning from the builder to the
comparison charts, in real headless Chromium against the live stack."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login, require_model_file

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_a_preset_fills_in_its_training_settings(page, make_user):
    browser_login(page, make_user())
    page.goto("/playground/")
    page.click("button[data-preset=resnet_small]")
    expect(page.locator("#preset-note")).to_contain_text("its training settings")
    expect(page.locator("input[name=lr]")).to_have_value("0.002")
    expect(page.locator("input[name=epochs]")).to_have_value("15")
    expect(page.locator("select[name=schedule]")).to_have_value("cosine")
    expect(page.locator("input[name=shift]")).to_have_value("2")
    page.click("button[data-preset=deep_sigmoid]")
    expect(page.locator("input[name=shift]")).to_have_value("0")
    expect(page.locator("select[name=schedule]")).to_have_value("constant")


def test_compare_scratch_frozen_and_finetune_in_one_click(page, make_user, tmp_path):
    require_model_file("vgg19_caffe_q.bin")
    browser_login(page, make_user())
    page.goto("/playground/")
    page.click("#to-transfer")
    expect(page.locator("h1")).to_have_text("Start from VGG19 trained on ImageNet")
    page.select_option("select[name=dataset]", "digits")
    page.fill("input[name=per_class]", "lots")
    page.click("#start-transfer")
    expect(page.locator(".field-error")).to_contain_text("Write whole numbers")
    page.fill("input[name=per_class]", "2, 5")
    page.fill("input[name=cut]", "1")
    page.fill("input[name=epochs]", "2")
    page.click("#start-transfer")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=240_000)
    # one line per mode against pictures per class, one per (mode, size) against epochs
    expect(page.locator("#tl-sizes path.line")).to_have_count(3)
    expect(page.locator("#tl-epochs path.line")).to_have_count(6)
    # cut after block 1: frozen mode freezes it, fine-tune trains it (its last block)
    expect(page.locator("#tl-summary tbody tr.pg-frozen")).to_have_count(1)
    expect(page.locator("#tl-totals")).to_contain_text("parameters train")
    expect(page.locator("#job-result a")).to_have_count(2)
    page.screenshot(path="/tmp/transfer_page.png", full_page=True)
    page.reload()  # the charts come back from the job's stored rows
    expect(page.locator("#tl-sizes path.line")).to_have_count(3)
