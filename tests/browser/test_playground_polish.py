"""What a newcomer met on the playground's pages (issue 23), in real Chromium against the
live stack: the compare page, the gradient chart's end, captions that fit the run."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, browser_login, wait_job_done
from webapp.models import JobStatus

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]

SHOTS = ROOT / "data" / "screenshots" / "playground-polish"

# The gradient chart's rightmost point's x and the x of the tick of the run's last epoch.
_GRAD_END = """(epochs) => {
  const svg = document.querySelector("#plot-grad svg");
  const xs = [...svg.querySelectorAll("path.line")].map((p) =>
    Number(p.getAttribute("d").split(/[ML]/).filter(Boolean).at(-1).split(",")[0]));
  const tick = [...svg.querySelectorAll("text.tick")].find((t) => t.textContent === String(epochs));
  return [Math.max(...xs), tick ? Number(tick.getAttribute("x")) : null];
}"""


def _shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1400, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(150)
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})


def _two_runs_of_one_preset(user):
    from playground.presets import preset
    from tests.playground.test_job import params
    from webapp.jobs import job_create

    spec = preset("deep_sigmoid", (1, 16, 16))
    jobs = [job_create(user=user, kind="train", title="Deep sigmoid",
                       params=params(spec=spec, epochs=3, max_samples=400, image_size=16))
            for _ in range(2)]  # fmt: skip
    for job in jobs:
        wait_job_done(job, timeout=120)
        assert job.status == JobStatus.SUCCEEDED, job.error
    return jobs


def test_compare_draws_gradients_by_layer_and_tells_same_titled_runs_apart(page, make_user):
    user = make_user()
    browser_login(page, user)
    a, b = _two_runs_of_one_preset(user)

    # the run page's gradient chart reaches the run's last epoch (it stopped at 2.2 of 3)
    page.goto(a.get_absolute_url())
    expect(page.locator("#job-status")).to_have_text("succeeded")
    expect(page.locator("#plot-grad path.line").first).to_be_visible()
    end_x, tick_x = page.evaluate(_GRAD_END, 3)
    assert tick_x is not None and abs(end_x - tick_x) < 1, (end_x, tick_x)
    # the captions fit the run: a classifier on stripes is told about edge detectors
    expect(page.locator("#filters-hint")).to_contain_text("On stripes they turn into oriented")
    expect(page.locator("#scrub-hint")).to_contain_text("the confusion matrix")
    _shoot(page, "run")
    page.goto("/playground/")
    _shoot(page, "builder")
    page.goto("/playground/transfer/")
    _shoot(page, "transfer-form")

    page.goto(f"/playground/compare/?runs={a.id},{b.id}")
    names = page.locator("#cmp-table tbody td:first-child a").all_text_contents()
    assert len(set(names)) == 2 and all(n.startswith("Deep sigmoid") for n in names), names
    grad = page.locator("#cmp-grad svg")
    expect(grad.locator("path.line")).to_have_count(2)  # one line per run, over the layers
    expect(grad).to_contain_text("layer")
    legend = page.locator("#cmp-grad").inner_text()
    assert all(n in legend for n in names), legend
    _shoot(page, "compare")
    assert page.js_errors == []


def test_a_grey_gallery_unit_says_why(page, make_user):
    """VGG19's relu2_1 unit 0 is 0 on the near-grey start picture: ReLU passes no gradient,
    the picture never moves, and the page says so instead of showing grey without a word."""
    from tests.conftest import require_model_file
    from webapp.jobs import job_create

    require_model_file("vgg19_caffe_q.bin")
    user = make_user()
    browser_login(page, user)
    job = job_create(user=user, kind="explain", title="VGG19 units", params={
        "tool": "gallery", "gallery": {"layers": ["relu1_1", "relu2_1"], "units": 1,
                                       "size": 96, "steps": 12}})  # fmt: skip
    wait_job_done(job, timeout=180)
    assert job.status == JobStatus.SUCCEEDED, job.error
    rows = job.result["gallery"]
    assert max(rows[1]["units"][0]["activation"]) == 0.0  # what the note explains
    assert max(rows[0]["units"][0]["activation"]) > 0
    page.goto(job.get_absolute_url())
    expect(page.locator("#gallery figure")).to_have_count(2)
    expect(page.locator("#gallery figure.silent")).to_have_count(1)
    expect(page.locator("#gallery figure.silent figcaption")).to_have_text("unit 0 · silent*")
    expect(page.locator("#gallery-silent")).to_be_visible()
    expect(page.locator("#gallery-silent")).to_contain_text("passes back no gradient")
    _shoot(page, "gallery")
    assert page.js_errors == []
