"""The detection tool's pages. Thin: checks live in the form, the work in services/tasks."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from detection.forms import DetectForm
from detection.services import (
    class_names_or_empty,
    detection_create,
    detection_params_from,
    model_card,
    upload_limits,
)
from webapp.jobs import JobRefused
from webapp.models import Job


def _earlier_job(request: HttpRequest) -> Job | None:
    """The job named by ?from=, if this user may see it (else None: start from defaults)."""
    job_id = request.GET.get("from")
    if not job_id:
        return None
    try:
        return Job.objects.visible_to(request.user).filter(pk=job_id).first()
    except ValidationError:  # not a UUID
        return None


@login_required
def new(request: HttpRequest) -> HttpResponse:
    """Upload pictures and start a detection job; ?from=<job id> prefills the knobs."""
    names, missing = class_names_or_empty()
    card = model_card()
    form_args = {"class_names": names, "floor": card["floor"], "max_iou": card["candidate_iou"]}
    if request.method == "POST":
        form = DetectForm(request.POST, request.FILES, **form_args)
        if form.is_valid():
            try:
                job = detection_create(
                    user=request.user,
                    uploads=form.cleaned_data["pictures"],
                    conf=form.cleaned_data["conf"],
                    iou=form.cleaned_data["iou"],
                    classes=form.cleaned_data["classes"],
                    picture_count=form.picture_count,
                )
            except JobRefused as exc:
                form.add_error(None, str(exc))
            else:
                return redirect(job.get_absolute_url())
    else:
        earlier = _earlier_job(request)
        form = DetectForm(initial=detection_params_from(job=earlier), **form_args)
        if earlier is not None and earlier.kind == "detect":
            messages.info(request, f"Settings copied from “{earlier.title or earlier.id}”. "
                                   "Choose the pictures again.")
    return render(request, "detection/new.html", {
        "form": form, "card": card, "limits": upload_limits(), "model_missing": missing,
    })
