"""The three paths a newcomer met when transfer, explain and teach were modes of the
training run, in real headless Chromium against the live stack: a teach job's page (not
an empty training run) and the teach page's Stop; explain tools offered only where they
run, with values past the net refused at the form; "run again" from every kind."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login, wait_job_done
from webapp.models import Job, JobStatus

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_a_teach_jobs_page_shows_what_it_learned_and_run_again_keeps_the_classes(page,
                                                                                 make_user):
    user = make_user()
    job = Job.objects.create(user=user, kind="teach", status=JobStatus.SUCCEEDED, title="teach",
                             params={"teach": {"classes": ["mug", "keys"], "files": [[], []],
                                               "epochs": 12}},
                             result={"teach": {"classes": ["mug", "keys"], "val_accuracy": 0.75,
                                               "held_out": False, "train_seconds": 1.5,
                                               "served": 3}, "files": []})  # fmt: skip
    browser_login(page, user)
    page.goto(job.get_absolute_url())
    expect(page.locator("#teach-summary")).to_contain_text("accuracy 75")
    expect(page.locator("#teach-summary")).to_contain_text("answered 3 picture(s)")
    expect(page.locator("#st-epoch")).to_have_count(0)  # no empty training run
    expect(page.locator("#plot-loss")).to_have_count(0)
    page.click("#job-again")
    expect(page.locator(".pg-class-name")).to_have_count(2)
    expect(page.locator(".pg-class-name").first).to_have_value("mug")
    expect(page.locator(".pg-class-name").last).to_have_value("keys")
    expect(page.locator("#teach-stop")).to_be_attached()  # shown with "Try it"
    assert page.js_errors == []


@pytest.mark.parametrize("task", ["segment", "verify"])
def test_explain_is_not_offered_on_a_unet_or_siamese_run(page, make_user, task):
    from tests.playground.test_task_jobs import params
    from webapp.jobs import job_create

    user = make_user()
    run = {**params(task), "epochs": 1}
    job = wait_job_done(job_create(user=user, kind="train", params=run), timeout=120)
    assert job.status == JobStatus.SUCCEEDED, job.error
    browser_login(page, user)
    page.goto(job.get_absolute_url())
    expect(page.locator("#pg-after")).to_be_visible()
    for form in ("#explain-form", "#unit-form", "#predict-form"):
        expect(page.locator(form)).to_have_count(0)
    assert page.js_errors == []


def test_a_unit_past_the_layer_is_refused_on_the_run_page_and_run_again_from_explain(
    page, make_user, tmp_path
):
    from PIL import Image

    from tests.playground.test_kinds import train_params
    from webapp.jobs import job_create

    user = make_user()
    run = wait_job_done(job_create(user=user, kind="train", params=train_params()), timeout=120)
    assert run.status == JobStatus.SUCCEEDED, run.error
    browser_login(page, user)
    page.goto(run.get_absolute_url())
    unit = page.locator("#unit-form")
    unit.locator("select[name=layer]").select_option("3")
    unit.locator("input[name=channel]").fill("99")
    unit.locator("button[type=submit]").click()
    expect(page.locator("#unit-out")).to_contain_text("Layer 3 has channels 0..15")
    assert Job.objects.count() == 1  # nothing queued, still on the run page

    # a picture's prediction runs on the worker and comes back to this page
    picture = tmp_path / "grey.png"
    buffer = io.BytesIO()
    Image.new("L", (30, 30), 128).save(buffer, format="PNG")
    picture.write_bytes(buffer.getvalue())
    page.set_input_files("#predict-form input[name=picture]", str(picture))
    page.click("#predict-form button[type=submit]")
    expect(page.locator("#predict-out li")).to_have_count(5, timeout=60_000)
    asked = Job.objects.get(kind="explain")
    assert asked.status == JobStatus.SUCCEEDED and asked.worker

    # an explanation's page has its own answer, and no "run again" into a stray form
    page.goto(asked.get_absolute_url())
    expect(page.locator("#ex-predict-summary")).to_contain_text("The net says")
    expect(page.locator("#job-again")).to_have_count(0)
    expect(page.locator("#ex-back a")).to_have_attribute("href", f"/jobs/{run.id}/")
    assert page.js_errors == []
