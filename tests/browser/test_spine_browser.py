"""The spine as a person meets it, in real headless Chromium against the live stack."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from tests.conftest import browser_login, watch_csp
from webapp.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_sign_up_watch_a_job_finish_live_and_staff_sees_it(page, stack, make_user, browser):
    # A staff member has the live dashboard open.
    make_user("operator", staff=True)
    staff = browser.new_context(base_url=stack.base_url).new_page()
    staff_violations = watch_csp(staff)
    browser_login(staff, get_user_model().objects.get(username="operator"))
    staff.goto("/staff/dashboard/")
    expect(staff.locator("#dash-workers")).to_contain_text("CPU")

    page.goto("/")
    page.click("text=Sign up")
    page.fill("input[name=username]", "newcomer")
    page.fill("input[name=password1]", "a-long-pass-42")
    page.fill("input[name=password2]", "a-long-pass-42")
    page.click("#signup-submit")
    expect(page.locator(".topbar")).to_contain_text("Log out newcomer")

    # Start a real job from a tool's page: a short training run in the playground.
    page.goto("/playground/")
    expect(page.locator("#summary tbody tr")).to_have_count(12)
    page.fill("input[name=max_samples]", "1500")
    page.fill("input[name=epochs]", "40")
    page.click("#start-training")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    job = Job.objects.get(user__username="newcomer")
    # Note every value the progress text takes, to see it move without a reload.
    page.evaluate("""() => {
        const el = document.getElementById("job-progress-text");
        window.seen = [el.textContent];
        new MutationObserver(() => window.seen.push(el.textContent))
            .observe(el, {childList: true, characterData: true, subtree: true});
    }""")
    expect(page.locator("#job-conn")).to_have_class(re.compile("conn-live"))

    # The staff member sees it running, with its worker.
    row = staff.locator(f"#dash-running tr[data-job='{job.id}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text("newcomer")

    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=90_000)
    expect(page.locator("#job-progress-text")).to_have_text("100%")
    between = [t for t in page.evaluate("window.seen") if t not in ("0%", "100%")]
    assert between, "the progress bar never showed a value between 0 and 100%"
    expect(page.locator("#job-result")).to_contain_text("TorchScript")
    expect(staff.locator("#state-succeeded b")).to_have_text("1")
    expect(row).to_be_hidden()
    page.goto("/jobs/")
    expect(page.locator(f"tr[data-job='{job.id}'] .badge")).to_have_text("succeeded")
    assert page.js_errors == []
    assert staff_violations == []
    staff.context.close()


def test_cancel_then_retry_says_so_at_once_and_never_a_page_late(page, stack, make_user):
    from webapp.jobs import job_create

    user = make_user("quick")
    browser_login(page, user)
    job = job_create(user=user, kind="countdown", params={"steps": 400, "delay": 0.05})
    page.goto(f"/jobs/{job.id}/")
    expect(page.locator("#job-status")).to_have_text("running", timeout=30_000)
    page.click("#job-cancel")
    expect(page.locator("#job-note")).to_have_text("Cancel requested.")
    expect(page.locator("#job-status")).to_have_text("cancelled", timeout=30_000)
    page.click("#job-retry")
    expect(page.locator("#job-note")).to_have_text("Queued again.")
    expect(page.locator("#job-status")).to_have_text(re.compile("queued|running"))
    # The next page carries no message left over from those two clicks.
    page.reload()
    expect(page.locator("#job-status")).to_have_text(re.compile("queued|running"))
    expect(page.locator("main > .flash:visible")).to_have_count(0)
    expect(page.locator("#job-note")).to_be_hidden()
    page.click("#job-cancel")
    expect(page.locator("#job-status")).to_have_text("cancelled", timeout=30_000)
    assert page.js_errors == []
