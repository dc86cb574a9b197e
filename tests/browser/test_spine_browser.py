"""The spine as a person meets it, in real headless Chromium against the live stack."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.conftest import browser_login
from webapp.jobs import job_create

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_sign_up_watch_a_job_finish_live_and_staff_sees_it(page, stack, make_user, browser):
    page.goto("/")
    page.click("text=Sign up")
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=password1]", "a-long-pass-42")
    page.fill("input[name=password2]", "a-long-pass-42")
    page.click("#signup-submit")
    expect(page.locator(".topbar")).to_contain_text("Log out newcomer")

    user = get_user_model().objects.get(username="newcomer")
    job = job_create(user=user, kind="countdown", params={"steps": 30, "delay": 0.15})
    page.goto(f"/jobs/{job.id}/")
    expect(page.locator("#job-conn")).to_have_class(re.compile("conn-live"))

    # A staff member watches the same job on the live dashboard meanwhile.
    make_user("operator", staff=True)
    staff = browser.new_context(base_url=stack.base_url).new_page()
    browser_login(staff, get_user_model().objects.get(username="operator"))
    staff.goto("/staff/dashboard/")
    expect(staff.locator(f"#dash-running tr[data-job='{job.id}']")).to_be_visible()
    expect(staff.locator("#dash-workers")).to_contain_text("CPU")

    # The bar moves without a reload, then the job is done.
    expect(page.locator("#job-progress-text")).not_to_have_text("0%")
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=30_000)
    expect(page.locator("#job-progress-text")).to_have_text("100%")
    expect(page.locator("#job-result")).to_contain_text("Summary")
    expect(staff.locator("#state-succeeded b")).to_have_text("1")
    page.goto("/jobs/")
    expect(page.locator(f"tr[data-job='{job.id}'] .badge")).to_have_text("succeeded")
    assert page.js_errors == []
    staff.context.close()
