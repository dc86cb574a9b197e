"""The operator's console in real Chromium: why a job failed, the queue over time, each
worker in detail, ETAs, and a queue whose oldest job waits too long."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import browser_login, wait_for, wait_job_done, watch_csp
from tests.webapp.testkind import SECRET_DETAIL
from webapp.jobs import job_create
from webapp.models import Job, Worker

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_an_operator_sees_why_a_job_failed_and_how_the_queue_moves(page, stack, make_user, browser):
    operator = make_user("operator", staff=True)
    owner = make_user("owner")
    browser_login(page, operator)
    page.goto("/staff/dashboard/")
    expect(page.locator("#dash-conn")).to_have_text("live")
    workers = page.locator("#dash-workers tbody tr:not(.lost)")
    expect(workers.first).to_contain_text("no GPU")
    expect(workers.first).to_contain_text(re.compile(r"\d+% · \d+ MB"))  # CPU · RSS

    # A long job: the dashboard shows its worker busy with it, and a time left.
    slow = job_create(user=owner, kind="countdown", params={"steps": 60, "delay": 0.1})
    row = page.locator(f"#dash-running tr[data-job='{slow.id}']")
    expect(row.locator(".eta")).to_contain_text("about", timeout=30_000)
    expect(page.locator("#dash-workers")).to_contain_text("Countdown (test)")
    wait_job_done(slow, timeout=90)

    # A crash: the failure list names the exception and opens onto its traceback.
    crash = job_create(
        user=owner, kind="countdown", params={"steps": 5, "delay": 0.05, "crash_at": 3}
    )
    failure = page.locator(f"#dash-failures tr[data-job='{crash.id}']")
    expect(failure).to_contain_text("ValueError", timeout=30_000)
    expect(failure).to_contain_text(SECRET_DETAIL)
    failure.locator("summary").click()
    expect(failure.locator("pre.traceback")).to_contain_text("testkind.py")
    # the session's worker: earlier tests may have failed jobs on it too
    expect(page.locator("#dash-workers")).to_contain_text(re.compile(r"\d+ \(\d+ failed\)"))

    # The history charts counted both, and follow a change of window.
    expect(page.locator("#chart-finished .legend")).to_contain_text("countdown", timeout=30_000)
    page.select_option("#history-window", "day")
    expect(page.locator("#dash-history")).to_have_attribute("data-window", "day")
    expect(page.locator("#chart-finished .axis").first).to_have_text("hours ago")

    # A queue whose oldest job waited past the threshold, and a worker gone silent.
    parked = job_create(user=owner, kind="countdown-parked", params={})
    Job.objects.filter(pk=parked.pk).update(queued_at=timezone.now() - timedelta(minutes=10))
    Worker.objects.create(
        name="gone:1",
        hostname="gone",
        device="CPU (2 threads)",
        last_seen=timezone.now() - timedelta(minutes=3),
    )
    expect(page.locator("#queue-parked")).to_have_class(re.compile("late"))
    expect(page.locator("#queue-parked .age")).to_contain_text("oldest 10 min")
    expect(page.locator("#dash-workers tr.lost")).to_contain_text("lost: silent for 3 min")

    # The job page: staff read the details, the owner only the short message.
    page.goto(f"/jobs/{crash.id}/")
    details = page.locator("#job-failure")
    expect(details).to_be_visible()
    expect(details).to_contain_text("ValueError")
    expect(details.locator("pre.traceback")).to_contain_text("Traceback (most recent call last)")
    owner_page = browser.new_context(base_url=stack.base_url).new_page()
    violations = watch_csp(owner_page)
    browser_login(owner_page, owner)
    owner_page.goto(f"/jobs/{crash.id}/")
    expect(owner_page.locator("#job-error")).to_have_text(
        "Internal error (ValueError). The operators have the details."
    )
    assert owner_page.locator("#job-failure").count() == 0
    assert SECRET_DETAIL not in owner_page.content()
    owner_page.context.close()
    assert not violations and not page.js_errors


def test_a_staff_job_page_shows_the_details_when_the_job_fails_live(page, stack, make_user):
    operator = make_user("operator", staff=True)
    browser_login(page, operator)
    job = job_create(
        user=make_user("owner"),
        kind="countdown",
        params={"steps": 40, "delay": 0.1, "crash_at": 30},
    )
    wait_for(lambda: Job.objects.get(pk=job.pk).status == "running", what="the job to start")
    page.goto(f"/jobs/{job.id}/")
    expect(page.locator("#job-meta")).to_contain_text(re.compile(r"about .* left"))
    expect(page.locator("#job-failure")).to_be_hidden()
    expect(page.locator("#job-status")).to_have_text("failed", timeout=60_000)
    expect(page.locator("#job-failure")).to_contain_text(SECRET_DETAIL)
    assert not page.js_errors


def test_the_kind_filter_narrows_every_count_and_list_and_jobs_go_by_their_title(
    page, stack, make_user
):
    operator = make_user("operator", staff=True)
    owner = make_user("owner")
    crash = job_create(
        user=owner,
        kind="countdown",
        params={"steps": 3, "delay": 0.05, "crash_at": 2},
        title="sunset × waves",
    )
    wait_job_done(crash)
    job_create(user=owner, kind="countdown-parked", params={}, title="parked")  # stays queued
    slow = job_create(
        user=owner, kind="countdown", params={"steps": 300, "delay": 0.1}, title="long count"
    )
    browser_login(page, operator)
    page.goto("/staff/dashboard/")
    # Failures and running jobs are named by their title, beside their kind.
    failure = page.locator(f"#dash-failures tr[data-job='{crash.id}']")
    expect(failure.locator("a")).to_have_text("Countdown (test) · sunset × waves")
    running = page.locator(f"#dash-running tr[data-job='{slow.id}'] a")
    expect(running).to_have_text("Countdown (test) · long count", timeout=30_000)
    expect(page.locator("#state-queued b")).to_have_text("1")

    # One kind: the tiles, the failures and the running list follow, not only the charts.
    page.select_option("#history-kind", "countdown-parked")
    expect(page.locator("#dash-history")).to_have_attribute("data-kind", "countdown-parked")
    expect(page.locator("#dash-failures tbody")).to_have_text("No failures.")
    expect(page.locator("#dash-running tbody")).to_have_text("Nothing running.")
    expect(page.locator("#state-failed b")).to_have_text("0")
    expect(page.locator("#state-queued b")).to_have_text("1")
    expect(page.locator("#dash-kind-note")).to_be_visible()
    page.select_option("#history-kind", "countdown")
    expect(failure).to_be_visible()
    expect(running).to_be_visible()
    expect(page.locator("#state-queued b")).to_have_text("0")
    expect(page.locator("#state-failed b")).to_have_text("1")
    page.select_option("#history-kind", "")
    expect(page.locator("#state-queued b")).to_have_text("1")
    expect(page.locator("#dash-kind-note")).to_be_hidden()

    # The time axes count back from "now" without minus signs.
    ticks = page.locator("#chart-finished text.tick").all_text_contents()
    assert "now" in ticks and not any(t.startswith("-") for t in ticks), ticks
    # The window menu reads as a word of its heading: no taller than the kind menu.
    window = page.locator("#history-window").bounding_box()
    kind = page.locator("#history-kind").bounding_box()
    assert window["height"] <= kind["height"] + 1, (window, kind)
    page.locator(f"#dash-running tr[data-job='{slow.id}'] [data-action=cancel]").click()
    wait_job_done(slow)
    assert not page.js_errors
