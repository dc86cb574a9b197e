"""The playground's tasks beyond classification as a person meets them, in real headless
Chromium against the live stack: choose a task, build a U-Net, watch masks and IoU; watch
verification's embeddings and try the one-shot demo."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from webapp.models import Job, JobStatus

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_segment_with_a_unet_built_in_the_builder_and_watch_the_masks(page, make_user):
    user = make_user()
    browser_login(page, user)
    page.goto("/playground/")
    expect(page.locator("#summary tbody tr")).to_have_count(12)  # LeNet-5 to classify
    page.select_option("#id_task", "segment")
    # the task's first preset and dataset come with it, its head explained
    expect(page.locator("input[name=dataset][value=overlaps]")).to_be_checked()
    expect(page.locator("input[name=dataset][value=stripes]")).to_be_hidden()
    expect(page.locator("#task-loss")).to_contain_text("mean over pixels of cross-entropy")
    expect(page.locator("#preset-note")).to_contain_text("Encoder–decoder, nearest")
    expect(page.locator("#summary tbody tr").last).to_contain_text("mask head")
    expect(page.locator("#summary tbody tr").last).to_contain_text("4×32×32")

    page.click("button[data-preset=unet]")
    expect(page.locator("#preset-note")).to_contain_text("U-Net")
    row = page.locator("#summary tbody tr", has_text="convtranspose2d").first
    expect(row).to_contain_text("(8-1)*2-2*0+2 = 16")
    # break the skip: concatenate a layer of another size, refused naming the layer
    skips = page.locator("#layers li input[data-param=from]")
    expect(skips).to_have_count(2)
    expect(skips.last).to_have_value("enc1")
    skips.last.fill("enc2")
    expect(page.locator("#summary-error")).to_contain_text("(concat)")
    expect(page.locator("#summary-error")).to_contain_text("same H×W")
    expect(page.locator("#start-training")).to_be_disabled()
    skips.last.fill("enc1")
    expect(page.locator("#summary-error")).to_be_hidden()

    page.fill("input[name=max_samples]", "300")
    page.fill("input[name=epochs]", "3")
    page.fill("input[name=batch_size]", "16")
    page.click("#start-training")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#task-panel")).to_be_visible(timeout=30_000)
    expect(page.locator("#pg-classify-panels")).to_be_hidden()
    expect(page.locator("#task-view .pg-maskrow").first).to_be_visible(timeout=60_000)
    expect(page.locator("#task-class-iou")).to_contain_text("circle: IoU")
    expect(page.locator("#task-headline")).to_contain_text("Mean IoU")
    expect(page.locator("#st-val-label")).to_have_text("val pixel accuracy")
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=90_000)
    job = Job.objects.get(user=user)
    assert job.status == JobStatus.SUCCEEDED and job.params["task"] == "segment"
    expect(page.locator("#predict-form")).to_be_hidden()
    page.reload()  # from the snapshot alone
    expect(page.locator("#task-view .pg-maskrow")).to_have_count(8)
    assert page.js_errors == []


def test_verification_shows_embeddings_histograms_roc_and_the_one_shot_demo(page, make_user):
    from tests.playground.test_task_jobs import params
    from webapp.jobs import job_create

    user = make_user()
    browser_login(page, user)
    run = {**params("verify"), "verify_loss": "triplet", "epochs": 2}
    job = job_create(user=user, kind="train", params=run)
    page.goto(job.get_absolute_url())
    expect(page.locator("#task-projection circle").first).to_be_attached(timeout=60_000)
    rings = page.locator("#task-projection circle[fill=none]")  # the held-out classes
    assert rings.count() > 0
    expect(page.locator("#task-histogram #task-threshold")).to_be_attached()
    expect(page.locator("#task-roc path.line").first).to_be_visible()
    expect(page.locator("#task-headline")).to_contain_text("never trained on (7, 8, 9)")
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=120_000)  # no redraw
    gallery = page.locator("#oneshot figure")
    gallery.first.click()
    expect(gallery.first).to_have_class("pick")
    expect(page.locator("#oneshot-note")).to_contain_text("judged right against this one")
    marked = page.locator("#oneshot figure.match, #oneshot figure.nomatch")
    assert marked.count() == gallery.count() - 1
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=90_000)
    assert page.js_errors == []
