"""The detection tool's web side: starting values, what a job stores, what it costs."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from detection.modelcard import DEFAULT_MODEL, MODELS
from detection.services import (
    DEFAULT_CONF,
    DEFAULT_IOU,
    KIND,
    detect_create,
    detect_initial_from,
    estimate,
)
from webapp.jobkinds import Budget
from webapp.models import Job
from webapp.pictures import PictureInfo

BUDGET = Budget(memory_mb=8192, runtime_s=7200)

# Jobs run by a real worker (`bench/bench_detection_cost.py worker`, 2-core machine, CPU):
# (pictures, all pixels, largest picture's pixels, peak MB of the pool process, run s)
MEASURED = [
    (1, 307_200, 307_200, 909, 0.92),
    (20, 6_144_000, 307_200, 925, 4.24),
    (1, 12_000_000, 12_000_000, 998, 5.23),
    (5, 60_000_000, 12_000_000, 1079, 37.57),
    (1, 39_992_976, 39_992_976, 1400, 25.59),
]


@pytest.mark.parametrize("count, pixels, largest, peak_mb, run_s", MEASURED)
def test_the_estimate_covers_each_measured_job_closely(count, pixels, largest, peak_mb, run_s):
    params = {"picture_count": count, "pixels": pixels, "largest_pixels": largest}
    cost = estimate(params, BUDGET)
    assert peak_mb <= cost.memory_mb <= 1.2 * peak_mb
    assert 0.9 * run_s <= cost.runtime_s <= 2 * run_s


def test_memory_follows_the_largest_picture_not_the_count():
    one = estimate({"picture_count": 1, "pixels": 12e6, "largest_pixels": 12e6}, BUDGET)
    many = estimate({"picture_count": 100, "pixels": 100 * 0.3e6, "largest_pixels": 0.3e6}, BUDGET)
    assert many.memory_mb < one.memory_mb and many.runtime_s > one.runtime_s


def test_a_job_too_long_is_told_how_many_pictures_fit():
    params = {"picture_count": 20, "pixels": 20e6, "largest_pixels": 1e6}
    cost = estimate(params, Budget(memory_mb=8192, runtime_s=10))
    assert cost.over(Budget(memory_mb=8192, runtime_s=10)).endswith(
        "send fewer pictures (at most 12)."
    )


def test_starting_values_come_only_from_a_detection_job():
    defaults = {"model": "yolov3-tiny", "conf": DEFAULT_CONF, "iou": DEFAULT_IOU, "classes": [],
                "class_conf": "", "compare": []}  # fmt: skip
    assert detect_initial_from(None) == defaults
    assert detect_initial_from(Job(kind="countdown", params={"conf": 0.9})) == defaults
    earlier = Job(kind=KIND, params={"conf": 0.6, "iou": 0.3, "classes": ["cat"], "x": 1,
                                     "class_conf": {"cup": 0.5, "dog": 0.35},
                                     "model": "yolov4-tiny",
                                     "compare": ["yolov3-tiny"]})  # fmt: skip
    assert detect_initial_from(earlier) == {
        "model": "yolov4-tiny", "conf": 0.6, "iou": 0.3, "classes": ["cat"],
        "class_conf": "cup=0.5, dog=0.35", "compare": ["yolov3-tiny"]
    }  # fmt: skip


@pytest.mark.django_db
def test_a_job_stores_what_its_estimate_needs(make_user):
    pictures = [
        PictureInfo("a.zip/1.png", "PNG", 400, 300),
        PictureInfo("a.zip/2.png", "PNG", 20, 10),
    ]
    job = detect_create(
        user=make_user("ida"),
        uploads=[SimpleUploadedFile("a.zip", b"stored as sent")],
        pictures=pictures,
        conf=0.25,
        iou=0.45,
        classes=[],
    )
    assert job.kind == KIND and job.title == "a.zip (2 pictures)"
    assert (job.params["picture_count"], job.params["pixels"], job.params["largest_pixels"]) == (
        2,
        120_200,
        120_000,
    )


def test_a_clip_is_estimated_from_its_frames_and_the_longest_fits_the_default_budget():
    from detection.services import estimate
    from detection.video import VideoLimits

    limits = VideoLimits()
    short = estimate({"mode": "video", "frame_count": 30, "frame_pixels": 640 * 360}, BUDGET)
    longest = estimate(
        {"mode": "video", "frame_count": limits.max_frames, "frame_pixels": limits.max_pixels},
        BUDGET,
    )
    assert short.runtime_s < longest.runtime_s < BUDGET.runtime_s
    assert short.memory_mb < longest.memory_mb < BUDGET.memory_mb
    assert "shorter clip" in longest.lower["runtime"]


def test_the_sliding_window_comparison_adds_its_cost():
    from detection.services import estimate

    base = {"picture_count": 1, "pixels": 640 * 480, "largest_pixels": 640 * 480}
    plain = estimate(base, BUDGET).runtime_s
    assert estimate({**base, "windows": 224}, BUDGET).runtime_s > plain + 20


def test_each_model_costs_what_its_network_takes():
    base = {"picture_count": 10, "pixels": 10 * 640 * 480, "largest_pixels": 640 * 480}
    costs = {key: estimate({**base, "model": key}, BUDGET) for key in MODELS}
    assert estimate(base, BUDGET) == costs[DEFAULT_MODEL], "no model: the default"
    v3, v4 = MODELS["yolov3-tiny"], MODELS["yolov4-tiny"]
    network_s = costs["yolov4-tiny"].runtime_s - costs["yolov3-tiny"].runtime_s
    assert network_s == pytest.approx(10 * 0.1 * (v4.network_ms / v3.network_ms - 1))
    clip = {"mode": "video", "frame_count": 300, "frame_pixels": 640 * 360}
    slower = v4.network_ms > v3.network_ms
    assert (estimate({**clip, "model": "yolov4-tiny"}, BUDGET).runtime_s
            > estimate(clip, BUDGET).runtime_s) == slower  # fmt: skip


@pytest.mark.django_db
def test_a_job_records_its_model_and_refuses_an_unknown_one(make_user):
    kwargs = {"user": make_user("mo"), "uploads": [SimpleUploadedFile("a.png", b"x")],
              "pictures": [PictureInfo("a.png", "PNG", 4, 4)], "conf": 0.25, "iou": 0.45,
              "classes": []}  # fmt: skip
    assert detect_create(**kwargs).params["model"] == "yolov3-tiny"
    assert detect_create(**kwargs, model="yolov4-tiny").params["model"] == "yolov4-tiny"
    with pytest.raises(ValueError, match="unknown model 'yolov9'; the models are yolov3-tiny"):
        detect_create(**kwargs, model="yolov9")
    with pytest.raises(ValueError, match="comparing models needs labels"):
        detect_create(**kwargs, compare=["yolov4-tiny"])
    labelled = detect_create(**kwargs, labels=[SimpleUploadedFile("a.txt", b"0 .5 .5 .1 .1")],
                             compare=["yolov3-tiny", "yolov4-tiny"])  # fmt: skip
    assert labelled.params["compare"] == ["yolov4-tiny"], "the chosen model is not repeated"


def test_comparing_models_costs_each_models_pass_over_the_pictures():
    base = {"picture_count": 10, "pixels": 10 * 640 * 480, "largest_pixels": 640 * 480}
    plain = estimate(base, BUDGET).runtime_s
    both = estimate({**base, "compare": ["yolov4-tiny"]}, BUDGET).runtime_s
    v3, v4 = MODELS["yolov3-tiny"], MODELS["yolov4-tiny"]
    assert both - plain == pytest.approx(2 * 1.0 + 10 * 0.1 * (1 + v4.network_ms / v3.network_ms))


def test_the_two_stage_comparison_adds_its_cost():
    from detection.services import PROPOSALS_S, estimate

    base = {"picture_count": 1, "pixels": 640 * 480, "largest_pixels": 640 * 480}
    plain = estimate(base, BUDGET).runtime_s
    assert estimate({**base, "proposals": True}, BUDGET).runtime_s == plain + PROPOSALS_S
