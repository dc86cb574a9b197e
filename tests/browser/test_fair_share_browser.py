"""Preemptive fair share as the people involved see it, in real Chromium: the owner's job
page and the staff dashboard say that a job yielded and will resume by itself."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login, countdown_on, wait_for, watch_csp
from tests.webapp.test_fair_share import QUEUE, one_worker  # noqa: F401 - the fixture
from webapp.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_the_job_page_and_the_dashboard_show_a_job_that_yielded(
    page, stack, one_worker, make_user, browser  # noqa: F811 - the fixture
):
    ada, bob = make_user("ada"), make_user("bob")
    operator = make_user("operator", staff=True)
    staff = browser.new_context(base_url=stack.base_url).new_page()
    staff_violations = watch_csp(staff)
    browser_login(staff, operator)
    staff.goto("/staff/dashboard/")
    expect(staff.locator("#dash-conn")).to_have_text("live")

    browser_login(page, ada)
    long = countdown_on(QUEUE, user=ada, steps=150, delay=0.1)
    page.goto(long.get_absolute_url())
    expect(page.locator("#job-status")).to_have_text("running", timeout=30_000)
    wait_for(lambda: Job.objects.get(pk=long.pk).progress > 0.02, what="the long job to start")
    theirs = countdown_on(QUEUE, user=bob, steps=60, delay=0.1)  # six seconds of the worker

    expect(page.locator("#job-status")).to_have_text("queued", timeout=30_000)
    note = page.locator("#job-error")
    expect(note).to_be_visible()
    expect(note).to_have_class("flash info")
    expect(note).to_contain_text("Yielded the worker to another user's job")
    expect(note).to_contain_text("resumes automatically from its checkpoint")
    expect(staff.locator(f"#queue-{QUEUE}")).to_contain_text(
        "1 yielded to a waiting job, resuming on their own"
    )
    expect(staff.locator(f"#dash-running tr[data-job='{theirs.id}']")).to_contain_text("bob")

    expect(page.locator("#job-status")).to_have_text("running", timeout=30_000)
    expect(note).to_be_hidden()
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("#job-progress-text")).to_have_text("100%")
    staff.context.close()
    assert not staff_violations, staff_violations
