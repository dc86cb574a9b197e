"""A student's way through the course: plain functions the views call."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from learn import experiments
from learn.lessons import BY_SLUG, LESSONS, Lesson
from learn.models import LessonProgress
from webapp.models import Job


def progress_of(*, user) -> dict[str, LessonProgress]:
    """The user's progress rows by lesson slug (none for an anonymous visitor)."""
    if not user.is_authenticated:
        return {}
    return {p.lesson: p for p in LessonProgress.objects.filter(user=user)}


def course_rows(*, user) -> list[dict[str, Any]]:
    """Every lesson in order with the user's state in it, for the course page."""
    mine = progress_of(user=user)
    return [{"lesson": lesson, "progress": mine.get(lesson.slug)} for lesson in LESSONS]


def _row(user, lesson: Lesson) -> LessonProgress:
    row, _ = LessonProgress.objects.select_for_update().get_or_create(user=user, lesson=lesson.slug)
    return row


def lesson_answer(*, user, lesson: Lesson, choice: int) -> bool:
    """Record an answer to the lesson's question; True when it is right (a right answer
    stays recorded even if a later try is wrong)."""
    if not 0 <= choice < len(lesson.question.choices):
        raise ValueError(f"Choose one of the {len(lesson.question.choices)} answers.")
    right = choice == lesson.question.answer
    with transaction.atomic():
        row = _row(user, lesson)
        row.answer, row.answered = choice, row.answered or right
        row.save()
    return right


def lesson_mark(*, user, lesson: Lesson, done: bool) -> None:
    with transaction.atomic():
        row = _row(user, lesson)
        row.done = done
        row.save()


def lesson_experiment_start(*, user, lesson: Lesson) -> list[Job]:
    """Queue the lesson's experiment and remember its runs as the lesson's latest; the
    playground's JobRefused passes through (nothing remembered then)."""
    with transaction.atomic():
        jobs = experiments.experiment_start(user=user, name=lesson.experiment)
        row = _row(user, lesson)
        row.runs = [str(job.id) for job in jobs]
        row.save()
    return jobs


def lesson_observation(*, user, lesson: Lesson) -> dict[str, Any] | None:
    """The lesson's latest experiment as measured so far, or None before the first run."""
    row = progress_of(user=user).get(lesson.slug)
    if not lesson.experiment or row is None or not row.runs:
        return None
    found = {str(j.id): j for j in Job.objects.filter(user=user, pk__in=row.runs)}
    jobs = [found[i] for i in row.runs if i in found]
    return experiments.experiment_observe(lesson.experiment, jobs)


def lesson_get(slug: str) -> Lesson | None:
    return BY_SLUG.get(slug)
