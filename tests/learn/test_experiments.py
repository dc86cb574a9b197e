"""Each lesson's experiment, with the defaults it ships with, through the real worker,
real Redis and the real database: the runs reach the observation the lesson promises, and
the lesson page reads it from the runs' own numbers."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from learn.experiments import experiment_observe
from learn.lessons import LESSONS
from learn.models import LessonProgress
from tests.conftest import require_model_file, wait_job_done
from webapp.models import Job, JobStatus

pytestmark = [pytest.mark.stack, pytest.mark.django_db(transaction=True)]


def run_lesson(user, slug: str) -> tuple[dict, str]:
    """Press the lesson's button, wait for its runs; their observation and the page's panel."""
    client = Client()
    client.force_login(user)
    assert client.post(reverse("learn:run", args=[slug])).status_code == 302
    ids = LessonProgress.objects.get(user=user, lesson=slug).runs
    jobs = [wait_job_done(Job.objects.get(pk=i), timeout=180) for i in ids]
    assert [j.status for j in jobs] == [JobStatus.SUCCEEDED] * len(jobs), [j.error for j in jobs]
    lesson = next(x for x in LESSONS if x.slug == slug)
    observed = experiment_observe(lesson.experiment, jobs)
    for arm in observed["arms"]:
        print(slug, arm["label"], {k: arm[k] for k in ("first_norm", "last_norm", "ratio",
                                                       "val_accuracy", "step")})  # fmt: skip
    panel = client.get(reverse("learn:observed", args=[slug])).json()
    assert panel["active"] is False
    return observed, panel["html"]


def test_deep_sigmoid_loses_its_first_layers_gradient_and_relu_bn_does_not(stack, make_user):
    observed, html = run_lesson(make_user(), "vanishing-gradients")
    sigmoid, relu_bn = observed["arms"]
    assert sigmoid["ratio"] >= 100  # the first layer's gradient ≥ 100× below the last's
    assert relu_bn["ratio"] < 100
    assert relu_bn["val_accuracy"] > sigmoid["val_accuracy"] + 0.3
    assert observed["shown"] is True
    assert "✓ Your runs showed it" in html and f"{sigmoid['ratio']:.3g}×" in html


def test_zero_init_never_breaks_symmetry_and_he_init_learns(stack, make_user):
    observed, html = run_lesson(make_user(), "init")
    zeros, he = observed["arms"]
    assert zeros["first_norm"] == 0  # no gradient reaches the first conv at all
    assert zeros["val_accuracy"] < 0.2  # chance is 0.1
    assert he["val_accuracy"] > 0.8
    assert observed["shown"] is True and "✓ Your runs showed it" in html


def test_residual_net_beats_the_plain_net_of_equal_depth(stack, make_user):
    observed, html = run_lesson(make_user(), "resnet")
    plain, residual = observed["arms"]
    assert residual["val_accuracy"] >= plain["val_accuracy"] + 0.1
    assert observed["shown"] is True and "✓ Your runs showed it" in html


def test_frozen_vgg19_features_beat_scratch_at_ten_pictures_per_class(stack, make_user):
    require_model_file("vgg19_caffe_q.bin")
    observed, html = run_lesson(make_user(), "transfer-learning")
    scratch, frozen = observed["arms"]
    assert frozen["val_accuracy"] >= scratch["val_accuracy"] + 0.05
    assert observed["shown"] is True and "✓ Your runs showed it" in html
