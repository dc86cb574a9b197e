"""The playground as a person meets it, in real headless Chromium against the live stack."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login
from webapp.models import Job, JobStatus

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_build_from_preset_train_watch_it_learn_and_stop(page, make_user):
    user = make_user()
    browser_login(page, user)
    page.goto("/playground/")
    # LeNet-5 is loaded by default; the server's table follows every edit
    expect(page.locator("#summary tbody tr")).to_have_count(12)
    page.click("button[data-preset=deep_sigmoid]")
    expect(page.locator("#preset-note")).to_contain_text("Deep sigmoid")
    expect(page.locator("#summary tbody tr").first).to_contain_text("floor((16+2*1-3)/1)+1 = 16")

    # break it: a 13x13 kernel cannot fit... the limit is 11, so ask for 11 after pooling
    page.click("button[data-preset=lenet5]")
    expect(page.locator("#summary tbody tr")).to_have_count(12)
    kernel = page.locator("#layers li[data-index='3'] input[data-param=kernel]")
    kernel.fill("11")
    expect(page.locator("#summary-error")).to_contain_text("Layer 3 (conv2d): kernel 11 is larger")
    expect(page.locator("#layers li[data-index='3']")).to_have_class(re.compile("bad"))
    expect(page.locator("#start-training")).to_be_disabled()
    kernel.fill("3")
    expect(page.locator("#summary-error")).to_be_hidden()

    # a quick run on a small generated set
    page.fill("input[name=max_samples]", "1500")
    page.fill("input[name=epochs]", "30")
    page.fill("input[name=batch_size]", "16")
    page.click("#start-training")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    expect(page.locator("#job-status")).to_have_text("running", timeout=30_000)
    expect(page.locator("#plot-loss path.line").first).to_be_visible(timeout=20_000)
    expect(page.locator("#acts figure")).to_have_count(3)  # the input and two conv layers
    first = page.locator("#acts figure img").nth(1).get_attribute("src")
    expect(page.locator("#acts figure img").nth(1)).not_to_have_attribute("src", first,
                                                                          timeout=20_000)
    expect(page.locator("#confusion table")).to_be_visible(timeout=30_000)
    expect(page.locator("#samples figure").first).to_be_visible()

    page.click("#ctl-stop")
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=30_000)
    job = Job.objects.get(user=user)
    assert job.status == JobStatus.SUCCEEDED and job.result["summary"]["stopped"]
    expect(page.locator("#job-result")).to_contain_text("TorchScript")
    expect(page.locator("#pg-after")).to_be_visible()

    # a reload draws the finished run from the snapshot alone
    page.reload()
    expect(page.locator("#plot-loss path.line").first).to_be_visible()
    expect(page.locator("#confusion table")).to_be_visible()
    assert page.js_errors == []


def test_pause_frees_the_worker_and_resume_goes_on_from_the_page(page, make_user):
    from tests.playground.test_job import params
    from webapp.jobs import job_create

    user = make_user()
    browser_login(page, user)
    job = job_create(user=user, kind="train", params=params(epochs=50, max_samples=2000,
                                                            batch_size=8))
    page.goto(job.get_absolute_url())
    expect(page.locator("#job-status")).to_have_text("running", timeout=30_000)
    page.click("#ctl-pause")
    expect(page.locator("#job-status")).to_have_text("paused", timeout=20_000)
    expect(page.locator("#ctl-pause")).to_have_text("Resume")
    expect(page.locator("#ctl-note")).to_contain_text("holds no worker")
    expect(page.locator("#job-result")).to_contain_text("checkpoint.pt")
    assert Job.objects.get(pk=job.pk).worker == ""

    page.wait_for_timeout(2500)  # a pause of some seconds: not "waited" once it runs again
    page.click("#ctl-pause")
    expect(page.locator("#job-status")).to_have_text("running", timeout=30_000)
    expect(page.locator("#ctl-pause")).to_have_text("Pause")
    # the note follows the state: no "Paused…" under a running run
    expect(page.locator("#ctl-note")).to_contain_text("Resumed from its checkpoint")
    expect(page.locator("#ctl-note")).not_to_contain_text("Paused")
    resumed = Job.objects.get(pk=job.pk)
    waited = re.search(r"waited (\d+) s", page.locator("#job-meta").inner_text())
    assert waited and int(waited.group(1)) <= resumed.wait_seconds + 1, waited
    page.click("#ctl-stop")
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=30_000)
    summary = Job.objects.get(pk=job.pk).result["summary"]
    assert summary["stopped"]
    said = (f"after epoch {summary['epochs']} of 50" if summary["epochs"]
            else "during its first epoch (of 50)")
    expect(page.locator("#pg-stopped")).to_have_text(
        f"Stopped {said}: the model as it was then is kept below.")
    assert page.js_errors == []


def test_a_diverging_run_says_why_on_its_page(page, make_user):
    from playground.presets import preset
    from tests.playground.test_job import params
    from webapp.jobs import job_create

    user = make_user()
    browser_login(page, user)
    job = job_create(user=user, kind="train", params=params(
        spec=preset("vgg_small", (1, 16, 16)), optimizer="sgd", lr=10.0, init="he"))
    page.goto(job.get_absolute_url())
    expect(page.locator("#job-status")).to_have_text("failed", timeout=40_000)
    expect(page.locator("#job-error")).to_contain_text("The training diverged")
    expect(page.locator("#job-error")).to_contain_text("Lower the learning rate or add batch norm")
    expect(page.locator("#plot-loss path.line")).not_to_have_count(0)  # the curve up to it
    assert page.js_errors == []
