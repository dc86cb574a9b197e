"""The dashboard's history charts, checked against counts made by hand on a seeded
history, and the numbers of its snapshot: oldest queued age, ETA, workers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webapp.dashboard import dashboard_history, percentile, queue_overview
from webapp.models import Job, JobStatus

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


def at(hh: int, mm: int, ss: int = 0, *, day: int = 1) -> datetime:
    return datetime(2026, 1, day, hh, mm, ss, tzinfo=UTC)


@pytest.fixture
def seeded(make_user):
    """Eight jobs whose place in each chart is worked out in the comments."""
    user = make_user()

    def job(name, kind, status, queued, started=None, finished=None, queue="gpu"):
        return Job.objects.create(
            user=user,
            kind=kind,
            status=status,
            queue=queue,
            title=name,
            created_at=queued,
            queued_at=queued,
            started_at=started,
            finished_at=finished,
        )

    done = JobStatus.SUCCEEDED
    # finished 11:51 (hour bucket 50): waits 10, 40, 4 s; runs 90, 30, 54 s
    job("A", "detect", done, at(11, 50), at(11, 50, 10), at(11, 51, 40))
    job("B", "detect", JobStatus.FAILED, at(11, 50), at(11, 50, 40), at(11, 51, 10))
    job("C", "stylize", done, at(11, 51, 1), at(11, 51, 5), at(11, 51, 59))
    # queued before the hour, waiting until 11:10, finished 11:20 (hour bucket 19)
    job("G", "detect", done, at(10, 30), at(11, 10), at(11, 20))
    # finished before the hour, inside the day (day bucket 87): wait 60, run 60
    job("D", "detect", done, at(9, 58), at(9, 59), at(10, 0))
    # still waiting: since 11:59 (E) and, requeued after a first attempt, since 11:55 (H)
    job("E", "train", JobStatus.QUEUED, at(11, 59))
    job("H", "detect", JobStatus.QUEUED, at(11, 55), started=at(11, 40))
    # cancelled while waiting in "default", 11:58:30 to 11:59:30
    job("F", "detect", JobStatus.CANCELLED, at(11, 58, 30), None, at(11, 59, 30), "default")


def only(count: int, **values) -> list:
    out = [values.get("rest")] * count
    for index, value in values.items():
        if index != "rest":
            out[int(index.lstrip("i"))] = value
    return out


def test_hour_window_matches_the_hand_counts(seeded):
    h = dashboard_history(window="hour", now=NOW)
    assert h["step_s"] == 60 and len(h["times"]) == 60
    assert h["times"][0] == at(11, 1).timestamp() and h["times"][-1] == at(12, 0).timestamp()
    assert h["finished"] == {
        "detect": only(60, rest=0, i19=1, i50=2),
        "stylize": only(60, rest=0, i50=1),
    }
    assert h["wait_p50"] == only(60, i19=2400.0, i50=10.0)
    assert h["wait_p95"] == only(60, i19=2400.0, i50=40.0)
    assert h["run_p50"] == only(60, i19=600.0, i50=54.0)
    assert h["run_p95"] == only(60, i19=600.0, i50=90.0)
    # gpu: G waits until 11:10 (buckets ending 11:02..11:09), A and B at 11:50:00 sharp
    # (the end of bucket 48), H from 11:55, E from 11:59
    gpu = [1] * 8 + [0] * 40 + [2] + [0] * 4 + [1] * 4 + [2] * 3
    assert h["queue_depth"] == {"default": only(60, rest=0, i57=1), "gpu": gpu}


def test_one_kind_and_the_day_window(seeded):
    h = dashboard_history(window="hour", kind="detect", now=NOW)
    assert set(h["finished"]) == {"detect"}
    assert h["wait_p95"][50] == 40.0 and h["run_p50"][50] == 60.0  # A and B: runs 90, 30
    assert h["queue_depth"]["gpu"] == [1] * 8 + [0] * 40 + [2] + [0] * 4 + [1] * 7  # no E

    d = dashboard_history(window="day", now=NOW)
    assert d["step_s"] == 900 and len(d["times"]) == 96
    assert d["times"][0] == at(12, 15, day=0 + 1).timestamp() - 86400
    assert d["finished"]["detect"] == only(96, rest=0, i87=1, i92=1, i94=2)
    assert d["finished"]["stylize"] == only(96, rest=0, i94=1)
    assert d["wait_p50"][87] == 60.0 and d["run_p95"][94] == 90.0


def test_percentile_is_the_nearest_rank():
    assert percentile([], 0.95) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile(list(range(1, 101)), 0.95) == 95
    assert percentile(list(range(1, 21)), 0.95) == 19
    assert percentile([3, 1, 2], 0.5) == 2


def test_oldest_queued_job_per_queue_is_flagged_past_the_threshold(make_user, settings):
    settings.DASHBOARD_OLDEST_QUEUED_WARN_S = 300
    user = make_user()
    now = datetime.now(UTC)
    for minutes, queue in [(2, "gpu"), (7, "gpu"), (1, "default")]:
        when = now - timedelta(minutes=minutes)
        Job.objects.create(user=user, kind="detect", queue=queue, queued_at=when)
    Job.objects.create(
        user=user,
        kind="detect",
        queue="gpu",
        status=JobStatus.RUNNING,
        queued_at=now - timedelta(hours=2),
    )
    queues = queue_overview(now)
    assert queues["gpu"]["jobs"] == 2 and queues["gpu"]["oldest_s"] == 420 and queues["gpu"]["late"]
    assert queues["default"]["jobs"] == 1 and queues["default"]["oldest_s"] == 60
    assert not queues["default"]["late"]


def test_time_left_from_the_rate_measured_since_the_worker_took_the_job():
    from webapp.runner import eta_seconds

    # a quarter in a minute: three more minutes
    assert eta_seconds(progress=0.25, gained=0.25, elapsed_s=60) == 180
    # resumed at 50 %: the 10 % gained in a minute is the rate, not 60 % in a minute
    assert eta_seconds(progress=0.6, gained=0.1, elapsed_s=60) == pytest.approx(240)
    assert eta_seconds(progress=0.005, gained=0.005, elapsed_s=60) is None  # barely moved
    assert eta_seconds(progress=0.5, gained=0.5, elapsed_s=1) is None  # too soon
    assert eta_seconds(progress=1.0, gained=1.0, elapsed_s=60) is None  # done
