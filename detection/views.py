"""The detection tool's pages. Thin: checks live in the form, the work in services/worker."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from detection.forms import DetectForm
from detection.modelcard import MODELS
from detection.services import (
    KIND,
    class_names_or_empty,
    detect_create,
    detect_initial_from,
    model_card,
    model_installed,
    video_create,
)
from webapp.jobs import JobRefused
from webapp.tools import earlier_job, refused_on_form, upload_limits


@login_required
def new(request: HttpRequest) -> HttpResponse:
    """Upload pictures and start a detection job; ?from=<job id> prefills the knobs."""
    names, missing = class_names_or_empty()
    card = model_card()
    form_args = {"class_names": names, "floor": card["floor"], "max_iou": card["candidate_iou"]}
    status = 200
    if request.method == "POST":
        form = DetectForm(request.POST, request.FILES, **form_args)
        if form.is_valid():
            try:
                if form.video_info is not None:
                    job = video_create(
                        user=request.user,
                        upload=form.cleaned_data["video"],
                        info=form.video_info,
                        model=form.cleaned_data["model"],
                        conf=form.cleaned_data["conf"],
                        iou=form.cleaned_data["iou"],
                        classes=form.cleaned_data["classes"],
                        class_conf=form.cleaned_data["class_conf"],
                    )
                else:
                    job = detect_create(
                        user=request.user,
                        uploads=form.cleaned_data["pictures"],
                        pictures=form.found,
                        model=form.cleaned_data["model"],
                        conf=form.cleaned_data["conf"],
                        iou=form.cleaned_data["iou"],
                        classes=form.cleaned_data["classes"],
                        class_conf=form.cleaned_data["class_conf"],
                        labels=form.cleaned_data["labels"],
                        windows=form.cleaned_data["windows"] or 0,
                        compare=form.cleaned_data["compare"],
                        proposals=form.cleaned_data["proposals"],
                    )
            except JobRefused as exc:
                status = refused_on_form(form, exc)
            else:
                return redirect(job.get_absolute_url())
        else:
            status = 400
    else:
        earlier = earlier_job(request, kind=KIND)
        form = DetectForm(initial=detect_initial_from(earlier), **form_args)
        if earlier is not None:
            messages.info(
                request,
                f"Settings copied from “{earlier.title or earlier.id}”. Choose the pictures again.",
            )
    models = [{**model_card(c), "missing": model_installed(c)} for c in MODELS.values()]
    context = {"form": form, "card": card, "models": models, "limits": upload_limits(),
               "model_missing": missing}  # fmt: skip
    return render(request, "detection/new.html", context, status=status)
