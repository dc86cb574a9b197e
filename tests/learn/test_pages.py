"""The course's pages: the lesson list in the summaries' order, every lesson page, the
question checked and remembered per account, the done mark, and an experiment's runs
queued through the playground (or refused with nothing queued)."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from learn.experiments import EXPERIMENTS, experiment_arms
from learn.lessons import LESSONS
from learn.models import LessonProgress
from webapp.models import Job

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_course_page_lists_every_lesson_in_order_and_the_top_bar_links_it(client):
    page = client.get(reverse("learn:index")).content.decode()
    slugs = re.findall(r'data-slug="([\w-]+)"', page)
    assert slugs == [lesson.slug for lesson in LESSONS]
    assert len(slugs) >= 20
    # the summaries' order: edges before pooling before ResNet before YOLO before style
    for earlier, later in [("edges", "pooling"), ("pooling", "resnet"), ("resnet", "yolo"),
                           ("fc-vs-conv", "receptive-field"), ("yolo", "style-transfer")]:
        assert slugs.index(earlier) < slugs.index(later)
    home = client.get("/").content.decode()
    assert f'href="{reverse("learn:index")}">Course</a>' in home


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.slug)
def test_every_lesson_page_has_its_idea_question_and_tool_link(client, make_user, lesson):
    for who in (client, logged_in(make_user())):
        resp = who.get(reverse("learn:lesson", args=[lesson.slug]))
        assert resp.status_code == 200
        page = resp.content.decode()
        assert lesson.question.text.replace("'", "&#x27;") in page
        assert reverse(lesson.tool) in page
        data = json.loads(re.search(r'id="lesson-page" type="application/json">(.*?)</script>',
                                    page).group(1))
        assert data["widget"] == lesson.widget
        assert ('id="widget"' in page) == bool(lesson.widget)
        assert ('id="experiment"' in page) == bool(lesson.experiment)
        assert "style=" not in page and "<script>" not in page  # CSP: no inline anything


def test_lessons_have_widgets_experiments_and_named_experiments_exist():
    kinds = [lesson.kind for lesson in LESSONS]
    assert kinds.count("widget") >= 8 and kinds.count("experiment") >= 3
    for lesson in LESSONS:
        assert not lesson.experiment or lesson.experiment in EXPERIMENTS
        assert 0 <= lesson.question.answer < len(lesson.question.choices)


def test_an_unknown_lesson_is_a_404(client):
    assert client.get("/learn/no-such-lesson/").status_code == 404


def test_the_answer_is_checked_and_kept_per_account(make_user):
    ada, bob = make_user("ada"), make_user("bob")
    lesson = next(x for x in LESSONS if x.slug == "padding-stride")
    url = reverse("learn:answer", args=[lesson.slug])
    wrong = (lesson.question.answer + 1) % len(lesson.question.choices)
    client = logged_in(ada)
    page = client.post(url, {"choice": wrong}, follow=True).content.decode()
    assert "Not quite" in page
    assert not LessonProgress.objects.get(user=ada, lesson=lesson.slug).answered
    page = client.post(url, {"choice": lesson.question.answer}, follow=True).content.decode()
    assert "Right." in page and 'id="answered"' in page
    assert LessonProgress.objects.get(user=ada, lesson=lesson.slug).answered
    # bob's page knows nothing of ada's answer
    other = logged_in(bob).get(reverse("learn:lesson", args=[lesson.slug])).content.decode()
    assert 'id="answered"' not in other


@pytest.mark.parametrize("choice", ["", "x", "-1", "99"])
def test_a_missing_or_impossible_answer_is_refused_and_stores_nothing(make_user, choice):
    user = make_user()
    url = reverse("learn:answer", args=["edges"])
    page = logged_in(user).post(url, {"choice": choice}, follow=True).content.decode()
    assert "Choose one of the answers first." in page
    assert not LessonProgress.objects.filter(user=user).exists()


def test_anonymous_visitors_are_sent_to_log_in_before_anything_is_stored(client):
    for name in ("answer", "done", "run"):
        resp = client.post(reverse(f"learn:{name}", args=["vanishing-gradients"]), {"choice": 0})
        assert resp.status_code == 302 and "/accounts/login/" in resp["Location"]
    assert not LessonProgress.objects.exists() and not Job.objects.exists()


def test_done_marks_show_on_the_course_page(make_user):
    user = make_user()
    client = logged_in(user)
    client.post(reverse("learn:done", args=["pooling"]), {"done": "1"})
    page = client.get(reverse("learn:index")).content.decode()
    assert "1 of" in page and "✓ done" in page
    client.post(reverse("learn:done", args=["pooling"]), {"done": "0"})
    assert "0 of" in client.get(reverse("learn:index")).content.decode()


def test_running_an_experiment_queues_its_prefilled_playground_runs(make_user):
    user = make_user()
    client = logged_in(user)
    page = client.post(reverse("learn:run", args=["init"]), follow=True).content.decode()
    assert "2 runs queued" in page
    jobs = list(Job.objects.filter(user=user).order_by("created_at"))
    assert [j.kind for j in jobs] == ["train", "train"]
    assert [j.params["init"] for j in jobs] == ["zeros", "he"]
    arms = experiment_arms("init")
    assert [j.params for j in jobs] == [a.params for a in arms]
    row = LessonProgress.objects.get(user=user, lesson="init")
    assert row.runs == [str(j.id) for j in jobs]
    # the page shows both runs and links each to the builder with its settings
    for job in jobs:
        assert f"{reverse('playground:new')}?from={job.id}" in page
        assert job.get_absolute_url() in page
    answer = client.get(reverse("learn:observed", args=["init"])).json()
    assert answer["active"] is True and "Still training" in answer["html"]


def test_the_lesson_links_open_the_builder_with_the_runs_settings(make_user):
    user = make_user()
    client = logged_in(user)
    client.post(reverse("learn:run", args=["vanishing-gradients"]))
    job = Job.objects.filter(user=user).order_by("created_at").first()
    builder = client.get(f"{reverse('playground:new')}?from={job.id}").content.decode()
    assert "deep_sigmoid" in builder  # the preset the run was made from


def test_an_experiment_over_the_users_limit_queues_nothing(make_user, settings):
    settings.USER_MAX_ACTIVE_JOBS = 1  # the second run would be over it
    user = make_user()
    page = logged_in(user).post(reverse("learn:run", args=["resnet"]), follow=True)
    assert "limit" in page.content.decode().lower()
    assert not Job.objects.filter(user=user).exists()
    assert all(not row.runs for row in LessonProgress.objects.filter(user=user))


def test_a_lesson_without_an_experiment_has_nothing_to_run(make_user):
    resp = logged_in(make_user()).post(reverse("learn:run", args=["edges"]))
    assert resp.status_code == 404


def test_the_region_proposals_lesson_names_detections_two_stage_option(client):
    """The lesson sends the student to the detection form's own option, by its label."""
    from detection.forms import DetectForm

    lesson = next(lesson for lesson in LESSONS if lesson.slug == "region-proposals")
    label = DetectForm.base_fields["proposals"].label
    assert label in lesson.tool_label and lesson.see
    page = client.get(reverse("learn:lesson", args=[lesson.slug])).content.decode()
    assert 'id="see"' in page and "network passes" in page
    assert reverse("detection:new") in page
