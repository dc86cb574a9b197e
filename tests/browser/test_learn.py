"""The course walked end to end in real headless Chromium against the live stack: one
widget lesson (the convolution step-through) and two experiment lessons, whose panels
must show the numbers the runs themselves stored."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from learn.experiments import run_reading
from learn.models import LessonProgress
from tests.conftest import browser_login
from webapp.models import Job

pytestmark = [pytest.mark.browser, pytest.mark.stack, pytest.mark.django_db(transaction=True)]

CELL = 10  # pixels per picture value in the widget's canvases (static/learn/widgets.js)


def test_the_convolution_step_through_shows_sizes_and_one_pixels_sum(page, make_user):
    browser_login(page, make_user())
    page.goto("/learn/")
    page.click("text=A convolution is a dot product")
    size = page.locator("#conv-size")
    # the built-in 24×24 picture, the 3×3 vertical-edge kernel, valid padding, stride 1
    expect(size).to_contain_text("⌊(24 + 2·0 − 3)/1⌋ + 1 = 22 → output 22×22")
    # output (5, 1): columns 1-2 are the dark ground (30), column 3 the square's left edge
    # (220) on rows 5-7: three rows of 30·1 + 30·0 + 220·(−1) = −190, so −570
    page.locator("#conv-output").hover(position={"x": 1 * CELL + 5, "y": 5 * CELL + 5})
    expect(page.locator("#conv-readout")).to_have_attribute("data-at", "5,1")
    expect(page.locator("#conv-sum")).to_have_text("-570")
    expect(page.locator("#conv-readout .products td")).to_have_count(9)
    expect(page.locator("#conv-readout .products td").nth(2)).to_have_text("220 × -1 = -220")
    page.select_option("select[name=padding]", "same")
    expect(size).to_have_attribute("data-out", "24x24")
    page.select_option("select[name=stride]", "2")
    expect(size).to_contain_text("⌊(24 + 2·1 − 3)/2⌋ + 1 = 12")
    expect(size).to_have_attribute("data-out", "12x12")
    page.select_option("select[name=kernel]", "custom")
    page.fill("textarea[name=typed]", "1 2; 3")
    expect(page.locator("#widget .field-error")).to_contain_text("a kernel is square")
    page.fill("textarea[name=typed]", "0 0 0; 0 1 0; 0 0 0")  # the identity kernel
    expect(page.locator("#widget .field-error")).to_be_hidden()
    page.locator("#conv-output").hover(position={"x": 3 * 2 * CELL + 5, "y": 5 * 2 * CELL + 5})
    # stride 2, same padding: output (5, 3) is centred on picture (10, 6), inside the square
    expect(page.locator("#conv-readout")).to_have_attribute("data-at", "5,3")
    expect(page.locator("#conv-sum")).to_have_text("220")
    assert page.js_errors == []


def run_experiment(page, slug: str, user) -> list[Job]:
    page.goto(f"/learn/{slug}/")
    expect(page.locator("#observed-body")).to_contain_text("No run yet")
    page.click("#run-experiment")
    expect(page.locator(".flash.success")).to_contain_text("2 runs queued")
    # the panel fills in by itself as the runs train, then says whether they showed it
    expect(page.locator("#verdict")).to_contain_text("✓ Your runs showed it", timeout=180_000)
    ids = LessonProgress.objects.get(user=user, lesson=slug).runs
    return [Job.objects.get(pk=i) for i in ids]


def cell(page, arm: int, name: str):
    return page.locator(f"#observed-body tr[data-arm='{arm}'] td.{name}")


def test_vanishing_gradients_and_zero_init_lessons_show_their_runs_numbers(page, make_user):
    user = make_user()
    browser_login(page, user)
    sigmoid, relu_bn = run_experiment(page, "vanishing-gradients", user)
    for arm, job in enumerate((sigmoid, relu_bn)):
        reading = run_reading(job)
        expect(cell(page, arm, "ratio")).to_have_text(f"{reading['ratio']:.3g}×")
        expect(cell(page, arm, "first-norm")).to_have_text(f"{reading['first_norm']:.3g}")
        expect(cell(page, arm, "accuracy")).to_have_text(f"{reading['val_accuracy']:.3f}")
    assert run_reading(sigmoid)["ratio"] >= 100 > run_reading(relu_bn)["ratio"]
    expect(page.locator("#further a.tool-link").first).to_have_attribute(
        "href", f"/playground/?from={sigmoid.id}")

    zeros, he = run_experiment(page, "init", user)
    expect(cell(page, 0, "first-norm")).to_have_text("0")
    expect(cell(page, 1, "accuracy")).to_have_text(f"{run_reading(he)['val_accuracy']:.3f}")
    assert run_reading(he)["val_accuracy"] > 0.8 > 0.2 > run_reading(zeros)["val_accuracy"]

    # the question, answered in the page, and the course page's marks
    page.check("input[name=choice][value='0']")
    page.click("#question button[type=submit]")
    expect(page.locator(".flash.success")).to_contain_text("Right.")
    page.click("#mark-done")
    page.goto("/learn/")
    expect(page.locator("#course-progress")).to_have_text("1 of 26 lessons done.")
    expect(page.locator(".lesson-row[data-slug=init] .mark.answered")).to_be_visible()
    assert page.js_errors == []


WIDGET_CHECKS = {  # lesson: what its widget must show with its start values
    "images-as-input": [("#normalise-result", "51/255 − 0.5 = -0.300")],
    "edges": [("#conv-size", "output 22×22")],
    "padding-stride": [("#outsize-result", "⌊(7 + 2·0 − 3)/2⌋ + 1 = 3")],
    "volumes": [("#params-volume", "(3·3·3 + 1)·10 = 280 parameters")],
    "fc-vs-conv": [("#params-conv", "26"),
                   ("#params-dense", "8.1 × 10⁹ weights (+ 90,000 biases)")],
    "pooling": [("#outsize-result", "= 14")],
    "receptive-field": [("#receptive tbody tr:nth-child(2) td.rf", "5×5")],
    "one-by-one-inception": [("#params-volume", "= 3,088 parameters")],
    "depthwise-separable": [("#sep-normal", "2,160"), ("#sep-total", "672"),
                            ("#sep-ratio", "0.3111"), ("#sep-formula", "0.3111")],
    "conv-1d-3d": [("#outsize-result", "= 10")],
}


def test_every_widget_lesson_draws_its_widget_with_the_courses_numbers(page):
    from learn.lessons import LESSONS

    assert {x.slug for x in LESSONS if x.widget} == {*WIDGET_CHECKS, "conv-dot-product"}
    for slug, checks in WIDGET_CHECKS.items():
        page.goto(f"/learn/{slug}/")
        for selector, text in checks:
            expect(page.locator(selector)).to_contain_text(text)
    page.goto("/learn/receptive-field/")  # a pool doubles the growth after it: 5, 6, then 10
    page.click("text=+ 2×2 pool (stride 2)")
    page.click("text=+ 3×3 conv")
    expect(page.locator("#receptive td.rf")).to_have_text(["3×3", "5×5", "6×6", "10×10"])
    page.goto("/learn/padding-stride/")
    page.fill("input[name=f]", "9")
    expect(page.locator("#outsize-result")).to_contain_text("does not fit")
    assert page.js_errors == []
