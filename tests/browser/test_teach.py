"""Teach it your own objects, in real headless Chromium with a fake camera
(`--use-fake-device-for-media-stream`) against the live stack: refusals that lose
nothing, a burst recorded from the camera, training on the worker, live predictions, and
the session that fair share ends."""

from __future__ import annotations

import io
import os
import re
import shutil
import time

import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from tests.conftest import CHROMIUM_ARGS, require_model_file
from webapp.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def poll(condition, what: str, timeout: float = 20) -> None:
    """Wait for a condition read through the page (wait_for_function evaluates a string,
    which the site's Content-Security-Policy forbids)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def png(colour, path):
    image = Image.new("RGB", (48, 48), colour)
    image.paste(tuple(255 - c for c in colour), (12, 12, 36, 36))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return str(path)


# A file input as wide as an unstyled one: its "Choose files" button and the chosen
# names are not cut off.
_FILE_INPUT_FITS = """(input) => {
  const box = document.createElement("div");  // block layout: the input keeps its own width
  const plain = document.createElement("input");
  plain.type = "file";
  box.append(plain);
  document.body.append(box);
  const natural = plain.getBoundingClientRect().width;
  box.remove();
  return input.getBoundingClientRect().width >= natural - 1;
}"""


@pytest.fixture
def camera_page(browser, stack):
    """A second Chromium of the session's Playwright, with a fake camera that needs no
    permission prompt."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    path = path or shutil.which("chromium-browser")
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    camera_browser = browser.browser_type.launch(executable_path=path, headless=True, args=args)
    context = camera_browser.new_context(base_url=stack.base_url, permissions=["camera"])
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    camera_browser.close()
    # a serving teach job stops at its next poll, freeing the worker for the next test
    Job.objects.filter(status="running").update(cancel_requested=True)
    assert errors == [], errors


def test_teach_from_a_fake_camera_train_and_see_live_predictions(camera_page, make_user, tmp_path):
    require_model_file("vgg19_caffe_q.bin")
    page, user = camera_page, make_user()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw-for-tests-1")
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    page.goto("/playground/teach/")
    # each class's name and picture inputs are labelled, and the file input is not clipped
    expect(page.get_by_label("Class name")).to_have_count(2)
    expect(page.get_by_label("Add pictures")).to_have_count(2)
    assert page.locator(".pg-teach-class input[type=file]").first.evaluate(_FILE_INPUT_FITS)

    # empty classes: refused on the page
    page.click("#teach-train")
    expect(page.locator("#teach-error")).to_contain_text("has no pictures yet")
    # a corrupt picture: refused by the server, naming it; the other pictures stay
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    page.set_input_files(".pg-teach-class[data-class='0'] input[type=file]", str(broken))
    blues = [png((30, 60, 200), tmp_path / f"blue{i}.png") for i in range(6)]
    page.set_input_files(".pg-teach-class[data-class='1'] input[type=file]", blues)
    page.click("#teach-train")
    expect(page.locator("#teach-error")).to_contain_text("broken.png")
    expect(page.locator("#teach-error")).to_contain_text("still here")
    expect(page.locator(".pg-teach-class[data-class='1'] .pg-count")).to_have_text("6 pictures")
    assert Job.objects.count() == 0

    # the camera: hold to record a burst into class 1
    page.locator(".pg-teach-class[data-class='0'] .linklike", has_text="clear").click()
    page.click("#camera-start")
    expect(page.locator("#camera-note")).to_contain_text("Camera on")
    poll(lambda: page.locator("#camera").evaluate("v => v.videoWidth") > 0, "the camera")
    hold = page.locator(".pg-teach-class[data-class='0'] button", has_text="Hold to record")
    hold.hover()
    page.mouse.down()
    page.wait_for_timeout(1500)
    page.mouse.up()
    count = page.locator(".pg-teach-class[data-class='0'] .pg-count")
    expect(count).to_have_text(re.compile(r"^([5-9]|\d\d+) pictures$"))
    page.fill(".pg-teach-class[data-class='0'] .pg-class-name", "camera")
    page.fill(".pg-teach-class[data-class='1'] .pg-class-name", "blue card")

    started = time.monotonic()
    page.click("#teach-train")
    expect(page.locator("#teach-status")).to_have_attribute("data-ready", "yes", timeout=180_000)
    ready_s = time.monotonic() - started
    expect(page.locator("#teach-files a.pg-export")).to_have_count(2)
    first, second = (page.locator("#teach-files a.pg-export").nth(i).bounding_box() for i in (0, 1))
    apart = second["x"] - (first["x"] + first["width"]) >= 8 or second["y"] >= first["y"] + 10
    assert apart, (first, second)  # the two export links do not run together
    # the bars say that the net must pick one of its classes
    expect(page.locator("#bars-note")).to_be_visible()
    expect(page.locator("#bars-note")).to_contain_text("must pick one of your classes")

    # live: camera frames go to the worker and come back as confidence bars
    page.click("#live-toggle")
    rtt_count = page.locator("#live-rtt")
    poll(lambda: int(rtt_count.get_attribute("data-count") or 0) >= 30, "30 predictions", 90)
    expect(page.locator("#bars .pg-bar")).to_have_count(2)
    assert page.locator("#bars").get_attribute("data-label") == "camera"
    rtt = page.locator("#live-rtt").text_content()
    page.click("#live-toggle")
    # a dropped picture is classified too
    page.set_input_files("#try-file", blues[0])
    expect(page.locator("#bars")).to_have_attribute("data-label", "blue card", timeout=20_000)
    print(f"\nteach: train click -> ready {ready_s:.1f} s; {rtt}")
    job = Job.objects.get()
    assert job.params["teach"]["classes"] == ["camera", "blue card"]

    # fair share asks for the worker (as webapp.jobs.job_yield_check does): the session
    # ends, the page says why and serves again from the pictures it still holds
    Job.objects.filter(pk=job.pk).update(yield_requested_at=timezone.now())
    status = page.locator("#teach-status")
    expect(status).to_have_attribute("data-ready", "yielded", timeout=30_000)
    expect(status).to_contain_text("Another user needed the worker")
    page.click("#teach-again")
    expect(status).to_have_attribute("data-ready", "yes", timeout=180_000)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result["teach"]["ended"] == "yielded"
    assert Job.objects.count() == 2
