"""The course's pages. Thin: the logic is in learn/progress.py and learn/experiments.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from learn import experiments, progress
from learn.lessons import LESSONS, Lesson
from webapp.jobs import JobRefused


def _lesson(slug: str) -> Lesson:
    lesson = progress.lesson_get(slug)
    if lesson is None:
        raise Http404("No such lesson.")
    return lesson


def index(request: HttpRequest) -> HttpResponse:
    rows = progress.course_rows(user=request.user)
    done = sum(1 for r in rows if r["progress"] and r["progress"].done)
    return render(request, "learn/index.html", {"rows": rows, "done": done})


def lesson(request: HttpRequest, slug: str) -> HttpResponse:
    current = _lesson(slug)
    at = LESSONS.index(current)
    mine = progress.progress_of(user=request.user).get(slug)
    observed = progress.lesson_observation(user=request.user, lesson=current)
    return render(request, "learn/lesson.html", {
        "lesson": current, "number": at + 1, "count": len(LESSONS), "progress": mine,
        "previous": LESSONS[at - 1] if at else None,
        "next": LESSONS[at + 1] if at + 1 < len(LESSONS) else None,
        "arms": experiments.experiment_arms(current.experiment) if current.experiment else [],
        "observed": observed,
        "page": {  # for static/learn/lesson.js
            "widget": current.widget, "options": current.widget_options,
            "observed_url": reverse("learn:observed", args=[slug]) if observed else "",
            "active": bool(observed and observed["active"]),
        },
    })


def observed(request: HttpRequest, slug: str) -> JsonResponse:
    """The lesson's latest runs as measured so far: the panel's HTML and whether it changes."""
    current = _lesson(slug)
    found = progress.lesson_observation(user=request.user, lesson=current)
    html = render_to_string("learn/_observed.html", {"observed": found, "lesson": current})
    return JsonResponse({"active": bool(found and found["active"]), "html": html})


@require_POST
@login_required
def run(request: HttpRequest, slug: str) -> HttpResponse:
    current = _lesson(slug)
    if not current.experiment:
        raise Http404("This lesson has no experiment.")
    try:
        jobs = progress.lesson_experiment_start(user=request.user, lesson=current)
    except JobRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{len(jobs)} runs queued: their numbers appear below as "
                                  "they train.")
    return redirect(f"{reverse('learn:lesson', args=[slug])}#observed")


@require_POST
@login_required
def answer(request: HttpRequest, slug: str) -> HttpResponse:
    current = _lesson(slug)
    try:
        right = progress.lesson_answer(user=request.user, lesson=current,
                                       choice=int(request.POST.get("choice", "")))
    except ValueError:
        messages.error(request, "Choose one of the answers first.")
    else:
        if right:
            messages.success(request, f"Right. {current.question.why}")
        else:
            messages.error(request, "Not quite – look at the idea again and try another answer.")
    return redirect(f"{reverse('learn:lesson', args=[slug])}#question")


@require_POST
@login_required
def done(request: HttpRequest, slug: str) -> HttpResponse:
    current = _lesson(slug)
    progress.lesson_mark(user=request.user, lesson=current, done=request.POST.get("done") == "1")
    return redirect(reverse("learn:lesson", args=[slug]))
