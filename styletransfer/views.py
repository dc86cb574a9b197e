"""Pages of the style-transfer tool. Thin: checks live in forms.py, the job in services.py."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from styletransfer.config import MIN_LEVEL_SIDE
from styletransfer.forms import StylizeForm
from styletransfer.gallery import STYLES, gallery_png
from styletransfer.services import (
    KIND,
    MAX_BLEND,
    MAX_TOTAL_STEPS,
    preset_table,
    stylize_create,
    stylize_initial_from,
)
from webapp.jobs import JobRefused
from webapp.models import Job
from webapp.pictures import UploadError
from webapp.tools import earlier_job, refused_on_form


@login_required
def new(request: HttpRequest) -> HttpResponse:
    source = earlier_job(request, kind=KIND)
    status = 200
    if request.method == "POST":
        form = StylizeForm(request.POST, request.FILES, source=source)
        status = 400
        if form.is_valid():
            try:
                job = stylize_create(user=request.user, **form.job_arguments())
            except JobRefused as exc:
                status = refused_on_form(form, exc)
            except UploadError as exc:  # pixels the header check could not see were broken
                form.add_error(None, str(exc))
            else:
                return redirect(job.get_absolute_url())
    else:
        form = StylizeForm(initial=stylize_initial_from(source), source=source)
    return render(
        request,
        "styletransfer/new.html",
        {
            "form": form,
            "gallery": form.gallery_items(),
            "source": source,
            "source_styles": form.source_styles(),
            "page": {  # what the page's script needs (json_script)
                "presets": preset_table(),
                "min_level_side": MIN_LEVEL_SIDE,
                "max_steps": MAX_TOTAL_STEPS,
                "max_bytes": settings.UPLOAD_MAX_BYTES,
                "max_blend": MAX_BLEND,
            },
            "limits": {
                "max_mb": settings.UPLOAD_MAX_BYTES / 2**20,
                "max_megapixels": settings.UPLOAD_MAX_PIXELS / 1e6,
                "max_bytes": settings.UPLOAD_MAX_BYTES,
                "max_steps": MAX_TOTAL_STEPS,
                "max_blend": MAX_BLEND,
                **form.limits,
            },
        },
        status=status,
    )


def gallery_image(request: HttpRequest, name: str) -> HttpResponse:
    """A built-in style picture (generated, the same for everyone)."""
    if name not in STYLES:
        raise Http404("No such gallery style.")
    response = HttpResponse(gallery_png(name), content_type="image/png")
    response["Cache-Control"] = "public, max-age=86400"
    return response


@login_required
def job_input(request: HttpRequest, job_id, name: str) -> FileResponse:
    """One of a job's stored pictures (photo or style), for its owner and staff."""
    try:
        job = Job.objects.visible_to(request.user).get(pk=job_id, kind=KIND)
    except Job.DoesNotExist:
        raise Http404("No such job.") from None
    path = job.params.get("inputs", {}).get(name)
    if not path or not default_storage.exists(path):
        raise Http404("No such picture.")
    response = FileResponse(default_storage.open(path, "rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
