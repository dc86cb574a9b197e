"""The web server restarts under an open job page: the page reconnects by itself and
shows the true state, which moved on while it was away."""

from __future__ import annotations

import re
import signal

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_login, watch_csp
from webapp.jobs import job_create

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def test_page_reconnects_after_a_web_server_restart(browser, stack, make_user):
    web, base_url = stack.web()
    port = int(base_url.rsplit(":", 1)[1])
    user = make_user()
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    violations = watch_csp(page)
    try:
        browser_login(page, user)
        job = job_create(user=user, kind="countdown", params={"steps": 40, "delay": 0.1})
        page.goto(f"/jobs/{job.id}/")
        expect(page.locator("#job-conn")).to_have_class(re.compile("conn-live"))
        expect(page.locator("#job-status")).to_have_text("running")

        web.kill(signal.SIGKILL)
        web.popen.wait(10)
        expect(page.locator("#job-conn")).to_have_class(re.compile("conn-reconnecting"))
        stack.processes.remove(web)
        web.stop()
        stack.web(port=port)  # the deploy brings the server back on the same address

        expect(page.locator("#job-conn")).to_have_class(re.compile("conn-live"))
        expect(page.locator("#job-status")).to_have_text("succeeded")
        expect(page.locator("#job-progress-text")).to_have_text("100%")
        assert violations == []
    finally:
        context.close()
