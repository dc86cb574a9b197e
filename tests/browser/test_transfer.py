"""Presets fill in their training settings; transfer learning from the builder to the
comparison charts, in real headless Chromium against the live stack."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, browser_login, require_model_file

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_a_preset_fills_in_its_training_settings(page, make_user):
    browser_login(page, make_user())
    page.goto("/playground/")
    page.click("button[data-preset=resnet_small]")
    expect(page.locator("#preset-note")).to_contain_text("its training settings")
    expect(page.locator("input[name=lr]")).to_have_value("0.002")
    expect(page.locator("input[name=epochs]")).to_have_value("15")
    expect(page.locator("select[name=schedule]")).to_have_value("cosine")
    # the builder starts on stripes, 16 px: the ±2 px, ±10° stated for 28 px become ±1 px
    expect(page.locator("input[name=shift]")).to_have_value("1")
    expect(page.locator("input[name=rotate]")).to_have_value("0")
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


def test_why_this_prediction_and_a_confusion_cell_from_the_run_page(page, make_user, tmp_path):
    import io

    from PIL import Image

    from playground.presets import preset
    from tests.conftest import wait_job_done
    from webapp.jobs import job_create
    from webapp.models import JobStatus

    user = make_user()
    params = {"spec": preset("lenet5", (1, 8, 8)), "preset": "lenet5", "dataset": "digits",
              "image_size": 32, "max_samples": 400, "val_fraction": 0.2, "optimizer": "adam",
              "lr": 0.003, "batch_size": 32, "epochs": 2, "weight_decay": 0.0,
              "init": "default", "seed": 0, "activation_sample": 0,
              "augment": {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0,
                          "color": 0.0}}  # fmt: skip
    run = wait_job_done(job_create(user=user, kind="train", params=params), timeout=120)
    assert run.status == JobStatus.SUCCEEDED
    browser_login(page, user)
    page.goto(run.get_absolute_url())
    # a diagonal cell: pictures the net got right, most confident first
    page.locator("#confusion table.pg-confusion tr").nth(2).locator("td").nth(1).click()
    page.wait_for_url(lambda url: "/jobs/" in url and str(run.id) not in url)
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#ex-cell figure").first).to_be_visible()
    expect(page.locator("#ex-cell-summary")).to_contain_text("most confident first")
    # results name layers as the forms do ("layer 5: avgpool"), not by module ("layers.5")
    expect(page.locator("#ex-cell-summary")).to_contain_text(re.compile(r"at layer \d+: \w+"))
    expect(page.locator("#ex-cell-summary")).not_to_contain_text("layers.")

    picture = tmp_path / "stroke.png"
    image = Image.new("L", (40, 40), 0)
    image.paste(255, (18, 4, 22, 36))  # a vertical stroke: a one
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    picture.write_bytes(buffer.getvalue())
    page.goto(run.get_absolute_url())
    page.set_input_files("#explain-form input[name=picture]", str(picture))
    page.click("#explain-form button[type=submit]")
    page.wait_for_url(lambda url: "/jobs/" in url and str(run.id) not in url)
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#ex-summary")).to_contain_text("The net predicts")
    expect(page.locator("#ex-summary")).to_contain_text(re.compile(r"at layer \d+: \w+\."))
    expect(page.locator("#ex-top tbody tr")).to_have_count(5)
    assert page.locator("#ex-gradcam").evaluate("img => img.naturalWidth") > 0
    page.screenshot(path="/tmp/explain_page.png", full_page=True)

    page.goto(run.get_absolute_url())
    page.select_option("#unit-form select[name=layer]", "3")
    page.fill("#unit-form input[name=channel]", "2")
    page.click("#unit-form button[type=submit]")
    page.wait_for_url(lambda url: "/jobs/" in url and str(run.id) not in url)
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=90_000)
    expect(page.locator("#ex-patches figure")).to_have_count(9)
    expect(page.locator("#ex-unit-summary")).to_contain_text("Unit 2 of layer 3: conv2d")
    # the optimised picture, upscaled crisply to a size one can see
    optimised = page.locator("#ex-optimised")
    expect(optimised).to_have_css("image-rendering", re.compile("pixelated|crisp-edges"))
    assert optimised.evaluate("img => img.getBoundingClientRect().width") >= 160
    for width in (1400, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(
            path=str(ROOT / "data" / "screenshots" / f"unit-page-{width}.png"), full_page=True
        )
    page.screenshot(path="/tmp/unit_page.png", full_page=True)


def test_the_step_scrubber_moves_filters_maps_confusion_and_curves_together(page, make_user):
    import json

    from django.core.files.storage import default_storage

    from playground.presets import preset
    from tests.conftest import wait_job_done
    from webapp.jobs import job_create
    from webapp.models import JobStatus

    user = make_user()
    params = {"spec": preset("lenet5", (1, 8, 8)), "preset": "lenet5", "dataset": "digits",
              "image_size": 32, "max_samples": 300, "val_fraction": 0.2, "optimizer": "adam",
              "lr": 0.003, "batch_size": 32, "epochs": 3, "weight_decay": 0.0,
              "init": "default", "seed": 0, "activation_sample": 0,
              "augment": {"hflip": False, "vflip": False, "rotate": 0.0, "shift": 0,
                          "color": 0.0}}  # fmt: skip
    run = wait_job_done(job_create(user=user, kind="train", params=params), timeout=120)
    assert run.status == JobStatus.SUCCEEDED
    views = run.metrics["views"]
    assert [v["epoch"] for v in views] == [1, 2, 3]
    assert [v["step"] for v in views] == [8, 16, 24]  # 240 pictures in batches of 32
    with default_storage.open(f"{run.storage_prefix}/view-1.json") as fh:
        first = json.loads(fh.read())
    assert first["filters"]["step"] == first["activations"]["step"] == 8  # the epoch's own

    browser_login(page, user)
    page.goto(run.get_absolute_url())
    expect(page.locator("#scrub-box")).to_be_visible()
    expect(page.locator("#scrub-label")).to_contain_text("epoch 3 (live)")
    expect(page.locator("#plot-loss line.marker")).to_have_count(0)
    page.locator("#scrub").evaluate("s => { s.value = 0; s.dispatchEvent(new Event('input')); }")
    expect(page.locator("#scrub-label")).to_have_text("epoch 1, step 8")
    expect(page.locator("#filters-shape")).to_contain_text("step 8")
    expect(page.locator("#acts-step")).to_have_text("step 8")
    expect(page.locator("#conf-label")).to_contain_text("epoch 1")
    expect(page.locator("#plot-loss line.marker")).to_have_count(1)
    expect(page.locator("#plot-acc line.marker")).to_have_count(1)
    page.locator("#scrub").evaluate("s => { s.value = 2; s.dispatchEvent(new Event('input')); }")
    expect(page.locator("#scrub-label")).to_contain_text("(live)")
    expect(page.locator("#filters-shape")).to_contain_text("step 24")
    expect(page.locator("#plot-loss line.marker")).to_have_count(0)
