"""The `explain` kind's endpoints: a trained run's explanations and predictions, and
VGG19's unit gallery. Thin: what applies to a run, and the allowed values, are checked
in playground/explain/services.py; the worker computes every answer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from playground.explain import services
from playground.train.services import KIND as TRAIN_KIND
from webapp.jobs import JobRefused
from webapp.models import Job
from webapp.tools import refused_json


def _number(request: HttpRequest, name: str, what: str) -> int | None:
    value = request.POST.get(name, "")
    if value == "":
        return None
    if not value.isdigit():
        raise services.ExplainRefused(f"The {what} must be a whole number.")
    return int(value)


def _tool_and_settings(request: HttpRequest) -> tuple[str, dict]:
    """Which explanation the form asks for, and its numbers."""
    layer, channel = _number(request, "layer", "layer"), _number(request, "channel", "unit")
    if layer is not None or channel is not None:  # a unit: what it responds to
        if layer is None or channel is None:
            raise services.ExplainRefused("Choose a layer of the net and a unit number.")
        return "unit", {"layer": layer, "channel": channel}
    true, predicted = _number(request, "true", "class"), _number(request, "predicted", "class")
    if true is not None or predicted is not None:  # a confusion-matrix cell
        if true is None or predicted is None:
            raise services.ExplainRefused("A cell is two class numbers.")
        return "cell", {"cell": [true, predicted]}
    if request.FILES.get("picture") is None:
        raise services.ExplainRefused("Choose a picture first.")
    return "gradcam", {"target": _number(request, "target", "class")}


def _ask(request: HttpRequest, job_id, tool: str | None) -> JsonResponse:
    run = get_object_or_404(Job, pk=job_id, kind=TRAIN_KIND, user=request.user)
    try:
        if tool is None:
            tool, settings = _tool_and_settings(request)
        else:
            settings = {}
            if request.FILES.get("picture") is None:
                raise services.ExplainRefused("Choose a picture first.")
        made = services.explain_create(user=request.user, run=run, tool=tool, settings=settings,
                                       picture=request.FILES.get("picture"))  # fmt: skip
    except services.ExplainRefused as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    except JobRefused as exc:
        return refused_json(exc)
    return JsonResponse({"url": made.get_absolute_url(), "id": str(made.id)})


@login_required
@require_POST
def explain(request: HttpRequest, job_id) -> JsonResponse:
    """POST a picture (multipart "picture", optional "target" class index), a confusion
    cell ("true", "predicted") or a unit ("layer", "channel") -> {"url", "id"} of the
    explain job the worker runs; {"error"} (400) with what is allowed, nothing queued."""
    return _ask(request, job_id, None)


@login_required
@require_POST
def predict(request: HttpRequest, job_id) -> JsonResponse:
    """POST a picture (multipart "picture") -> {"url", "id"} of the explain job that
    computes the run's top predictions on the worker (its result: "predictions")."""
    return _ask(request, job_id, "predict")


@login_required
@require_POST
def gallery(request: HttpRequest) -> HttpResponse:
    """Start the VGG19 unit gallery (activation maximisation on the worker)."""
    try:
        job = services.gallery_create(user=request.user)
    except JobRefused as exc:
        messages.error(request, str(exc))
        return redirect("playground:transfer")
    return redirect(job.get_absolute_url())
