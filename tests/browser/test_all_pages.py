"""Every page, as a newcomer and an operator meet them, at a desktop and a phone width:
no console error, nothing wider than the window, no broken picture, and no serious or
critical accessibility violation found by axe-core (node_modules, from package.json;
injected by the test, never shipped in static/)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from playground.teach.services import teach_create
from tests.conftest import ROOT, require_model_file, session_cookie, wait_job_done
from tests.detection.test_worker import oranges_png
from webapp.jobs import job_cancel, job_create
from webapp.models import Job

pytestmark = [
    pytest.mark.browser,
    pytest.mark.stack,
    pytest.mark.django_db(transaction=True),
    pytest.mark.weights,
]

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "data" / "screenshots" / "all-pages"
WIDTHS = (1400, 390)

BROWSER = Path(__file__).resolve().parent
PAGE_PROBLEMS = (BROWSER / "page_problems.js").read_text()
AXE_SERIOUS = (BROWSER / "axe_serious.js").read_text()


def _png(path, seed: int) -> str:
    from PIL import Image

    picture = Image.effect_mandelbrot((72, 54), (-2 + seed * 0.3, -1.2, 1, 1.2), 60)
    picture.convert("RGB").save(path, "PNG")
    return str(path)


def _upload(path, seed: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(path.name, Path(_png(path, seed)).read_bytes(), "image/png")


def _start_jobs(page, user, tmp_path) -> dict[str, Job]:
    """One finished job of each kind and mode, started through the forms as a person would."""
    from detection.video import encode_clip
    from tests.detection.test_video import moving_oranges

    started: dict[str, Job] = {}

    def submit(name: str, button: str) -> None:
        page.click(button)
        page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
        started[name] = Job.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[1])

    page.goto("/playground/")
    page.check("input[name=dataset][value=digits]")  # ten classes: the widest confusion matrix
    page.fill("input[name=max_samples]", "300")
    page.fill("input[name=epochs]", "3")
    submit("train", "#start-training")

    page.goto("/style/")
    page.set_input_files("#id_content", _png(tmp_path / "photo.png", 0))
    # The gallery's checkboxes are in sight: checked as a person would, without force.
    page.check("input[name=gallery][value=swirl]")
    page.check("input[name=gallery][value=waves]")
    page.click("#st-paint-toggle")
    canvas = page.locator("#st-canvas")
    expect(canvas).to_be_visible()
    rows = page.locator("#st-region-list tr")
    # Unpainted, region 1 takes the first style; region 2 keeps the photo where painted.
    expect(rows.nth(0).locator("select")).to_have_value("0")
    expect(rows.nth(1).locator("select")).to_have_value("")
    rows.nth(1).locator("input[type=radio]").check()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 8, steps=5)
    page.mouse.up()
    # No region was given the second style: the form says so before anything is sent.
    expect(page.locator("#st-unused-styles")).to_contain_text("style 2 (Woodblock sea)")
    page.select_option("#id_preset", "quick")
    page.fill("#id_size", "64")
    page.fill("#id_steps", "6")
    page.click("text=Advanced")
    page.fill("#id_levels", "1")
    submit("stylize", "#st-submit")

    picture = tmp_path / "oranges.png"
    picture.write_bytes(oranges_png())
    page.goto("/detect/")
    page.set_input_files("#id_pictures", str(picture))
    submit("detect", "#det-submit")

    labels = tmp_path / "oranges.txt"
    labels.write_text("49 0.75 0.78 0.2 0.2\n41 0.2 0.2 0.2 0.2\n")
    page.goto("/detect/")
    page.set_input_files("#id_pictures", str(picture))
    page.locator(".det-labels summary").click()
    page.set_input_files("#id_labels", str(labels))
    submit("detect-map", "#det-submit")

    clip = tmp_path / "oranges.mp4"
    clip.write_bytes(encode_clip(moving_oranges(8), 8))
    page.goto("/detect/")
    page.set_input_files("#id_video", str(clip))
    submit("detect-video", "#det-submit")

    # The playground's other kinds, each in a finished state: a transfer comparison, an
    # explanation of the training run (once it is trained), a teach job left idle.
    page.goto("/playground/transfer/")
    page.select_option("select[name=dataset]", "digits")
    page.select_option("select[name=mode]", "frozen")
    page.fill("input[name=cut]", "1")
    page.fill("input[name=per_class]", "4, 8")
    page.fill("input[name=epochs]", "2")
    submit("transfer", "#start-transfer")
    started["teach"] = teach_create(user=user, classes=["light", "dark"], pictures=[
        [_upload(tmp_path / f"l{n}.png", n) for n in range(3)],
        [_upload(tmp_path / f"d{n}.png", 8 + n) for n in range(3)]])  # fmt: skip
    run = wait_job_done(started["train"], timeout=240)
    conv = next(i for i, layer in enumerate(run.params["spec"]) if layer["type"] == "conv2d")
    page.goto(f"/jobs/{run.id}/")
    page.select_option("#unit-form select[name=layer]", str(conv))
    page.fill("#unit-form input[name=channel]", "0")
    page.click("#unit-form button[type=submit]")
    page.wait_for_url(lambda url: "/jobs/" in url and str(run.id) not in url)
    started["explain"] = Job.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[1])
    started["train-again"] = job_create(
        user=user, kind="train", params=run.params, title=run.title
    )  # compare: two runs of one preset

    started["failed"] = job_create(user=user, kind="countdown", params={"steps": 3, "crash_at": 2})
    cancelled = job_create(user=user, kind="countdown", params={"steps": 200, "delay": 0.1})
    job_cancel(job=cancelled)
    started["cancelled"] = cancelled
    expected = {"failed": "failed", "cancelled": "cancelled"}
    for name, job in started.items():
        wait_job_done(job, timeout=240)
        assert job.status == expected.get(name, "succeeded"), (name, job.error)
    return started


def _sign_in(context, user, base_url: str) -> None:
    cookie = {"name": settings.SESSION_COOKIE_NAME, "value": session_cookie(user), "url": base_url}
    context.add_cookies([cookie])


def _look(context, name: str, path: str, *, axe: bool) -> list[str]:
    """Open `path`; the problems found on it, each a line naming the page."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.goto(path)
    page.wait_for_load_state("networkidle")  # the modules have drawn what they fetch
    found = page.evaluate(PAGE_PROBLEMS)
    problems = [*errors]
    if found["overflow"]:
        problems.append(found["overflow"])
    problems += [f"broken picture {src}" for src in found["broken"]] + found["crowded"]
    if axe:
        page.add_script_tag(path=str(AXE))
        problems += [v["text"] for v in page.evaluate(AXE_SERIOUS)]
    else:
        page.screenshot(
            path=str(SHOTS / f"{name}-{page.viewport_size['width']}.png"), full_page=True
        )
    page.close()
    return [f"{name} ({path}): {line}" for line in problems]


# The running mean's line on the loss chart: its last point's x and the x of the tick
# of the run's last epoch.
_CURVE_END = """(epochs) => {
  const svg = document.querySelector("#plot-loss svg");
  const d = svg.querySelector("path.line").getAttribute("d");
  const last = d.split(/[ML]/).filter(Boolean).at(-1).split(",").map(Number);
  const tick = [...svg.querySelectorAll("text.tick")].find((t) => t.textContent === String(epochs));
  return [last[0], tick ? Number(tick.getAttribute("x")) : null];
}"""

# Each picture's region colour, sampled in the middle of the regions thumbnail.
_THUMB_BRIGHTEST = """(img) => {
  const c = new OffscreenCanvas(img.naturalWidth, img.naturalHeight).getContext("2d");
  c.drawImage(img, 0, 0);
  const px = c.getImageData(0, 0, img.naturalWidth, img.naturalHeight).data;
  let most = 0;
  for (let i = 0; i < px.length; i += 4) most = Math.max(most, px[i], px[i + 1], px[i + 2]);
  return most;
}"""


def _check_results(page, jobs: dict[str, Job]) -> None:
    """What each finished job's page must show, item by item (issue 23)."""
    # Playground: the step curve reaches the last epoch (not 2.2 of 3).
    page.goto(f"/jobs/{jobs['train'].id}/")
    expect(page.locator("#job-status")).to_have_text("succeeded")
    end_x, tick_x = page.evaluate(_CURVE_END, jobs["train"].params["epochs"])
    assert tick_x is not None and abs(end_x - tick_x) < 1, (end_x, tick_x)

    # ...and so does the gradient chart; compare tells two runs of one preset apart.
    end_x, tick_x = page.evaluate(
        _CURVE_END.replace("plot-loss", "plot-grad"), jobs["train"].params["epochs"]
    )
    assert tick_x is not None and abs(end_x - tick_x) < 1, (end_x, tick_x)
    page.goto(f"/playground/compare/?runs={jobs['train'].id},{jobs['train-again'].id}")
    names = page.locator("#cmp-table tbody td:first-child a").all_text_contents()
    assert len(set(names)) == 2, names
    expect(page.locator("#cmp-grad svg path.line")).to_have_count(2)
    # Explain: the unit's layer as the form named it; the picture upscaled.
    page.goto(f"/jobs/{jobs['explain'].id}/")
    expect(page.locator("#ex-unit-summary")).to_contain_text(re.compile(r"of layer \d+: conv2d"))
    assert page.locator("#ex-optimised").evaluate("i => i.getBoundingClientRect().width") >= 160

    # Style: the regions thumbnail shows colours, not a black square; the cut has a handle.
    page.goto(f"/jobs/{jobs['stylize'].id}/")
    regions = page.locator("img.st-labels")
    expect(regions).to_have_attribute("data-coloured", "yes")
    assert regions.evaluate(_THUMB_BRIGHTEST) > 100
    expect(page.locator("#st-before-after")).to_be_visible()
    page.locator("#st-slider").fill("20")
    cut = page.locator("#st-cut span").bounding_box()
    pictures = page.locator("#st-compare").bounding_box()
    middle = cut["x"] + cut["width"] / 2
    assert abs(middle - (pictures["x"] + 0.2 * pictures["width"])) < 3, (cut, pictures)

    # Detection: buttons that act as links look like the links beside them.
    page.goto(f"/jobs/{jobs['detect'].id}/")
    link = page.locator(".det-picture footer a").first
    for button in (".det-download", ".det-xray-toggle"):
        colour = page.locator(button).first.evaluate("(b) => getComputedStyle(b).color")
        assert colour == link.evaluate("(a) => getComputedStyle(a).color"), button

    # mAP: the gallery opens on tiles that exist; "detected" counts what the page shows.
    page.goto(f"/jobs/{jobs['detect-map'].id}/")
    expect(page.locator(".det-eval-tile").first).to_be_visible()
    shown = page.locator("#det-eval-filter").input_value()
    assert page.locator(f".det-eval-tile.{shown}").count() or shown == "all"
    detected = page.locator("#det-eval-classes tbody td:nth-child(5)").all_text_contents()
    objects = int(re.match(r"(\d+) object", page.locator("#det-total").inner_text()).group(1))
    assert sum(map(int, detected)) <= objects, (detected, objects)  # of the labelled classes


def test_every_page_at_desktop_and_phone_width(page, browser, stack, make_user, tmp_path):
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `npm ci` (scripts/test.sh does)")
    require_model_file("yolov3-tiny.weights")
    require_model_file("vgg19_caffe_q.bin")
    user = make_user("newcomer")
    staff = make_user("operator", staff=True)
    _sign_in(page.context, user, stack.base_url)
    jobs = _start_jobs(page, user, tmp_path)
    _check_results(page, jobs)

    signed_out = {"home-signed-out": "/", "login": "/accounts/login/",
                  "signup": "/accounts/signup/"}  # fmt: skip
    mine = {"home": "/", "playground": "/playground/", "transfer": "/playground/transfer/",
            "teach": "/playground/teach/", "runs": "/playground/runs/", "style": "/style/",
            "detect": "/detect/", "my-jobs": "/jobs/", "course": "/learn/",
            "lesson-widget": "/learn/edges/", "lesson-params": "/learn/fc-vs-conv/",
            "lesson-experiment": "/learn/vanishing-gradients/",
            "compare": f"/playground/compare/?runs={jobs['train'].id},{jobs['train-again'].id}",
            **{f"job-{name}": f"/jobs/{job.id}/" for name, job in jobs.items()}}  # fmt: skip
    operators = {
        "dashboard": "/staff/dashboard/",
        "job-failed-staff": f"/jobs/{jobs['failed'].id}/",
    }
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for width in WIDTHS:
        for who, paths in ((None, signed_out), (user, mine), (staff, operators)):
            for axe in (False, True):
                # axe-core is injected as an inline script: only a context told to bypass
                # the page's Content-Security-Policy runs it; the other one enforces it.
                context = browser.new_context(
                    base_url=stack.base_url,
                    viewport={"width": width, "height": 900},
                    bypass_csp=axe,
                )
                if who:
                    _sign_in(context, who, stack.base_url)
                for name, path in paths.items():
                    problems += [
                        f"{width} px: {line}" for line in _look(context, name, path, axe=axe)
                    ]
                context.close()
    assert not problems, "\n".join(problems)
