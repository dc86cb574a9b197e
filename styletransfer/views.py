"""Pages of the style-transfer tool. Thin: checks live in forms.py, the job in tasks.py."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from styletransfer.forms import KNOBS, MAX_BLEND, MAX_TOTAL_STEPS, StylizeForm
from styletransfer.gallery import STYLES, gallery_png
from styletransfer.tasks import stylize_create
from webapp.jobs import JobRefused
from webapp.models import Job


def _source_job(request: HttpRequest, job_id: str | None) -> Job | None:
    """The earlier stylize job to start from (?from=<id>), if this user may see it."""
    if not job_id:
        return None
    try:
        return Job.objects.visible_to(request.user).get(pk=job_id, kind="stylize")
    except (Job.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such style-transfer job.") from None


@login_required
def new(request: HttpRequest) -> HttpResponse:
    source = _source_job(request, request.POST.get("from_job") or request.GET.get("from"))
    if request.method == "POST":
        form = StylizeForm(request.POST, request.FILES, source=source)
        if form.is_valid():
            try:
                job = stylize_create(user=request.user, **form.job_arguments())
            except JobRefused as exc:
                messages.error(request, str(exc))
            else:
                return redirect(job.get_absolute_url())
    else:
        form = StylizeForm(source=source)
    presets = {
        name: {k: getattr(p, k) for k in KNOBS} | {"total_steps": p.total_steps}
        for name, p in form.limits["presets"].items()
    }
    return render(
        request,
        "styletransfer/new.html",
        {
            "form": form,
            "gallery": form.gallery_items(),
            "source": source,
            "source_styles": form.source_styles(),
            "presets": presets,
            "limits": {
                "max_mb": settings.UPLOAD_MAX_BYTES / 2**20,
                "max_megapixels": settings.UPLOAD_MAX_PIXELS / 1e6,
                "max_bytes": settings.UPLOAD_MAX_BYTES,
                "max_steps": MAX_TOTAL_STEPS,
                "max_blend": MAX_BLEND,
                **form.limits,
            },
        },
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
        job = Job.objects.visible_to(request.user).get(pk=job_id, kind="stylize")
    except Job.DoesNotExist:
        raise Http404("No such job.") from None
    path = job.params.get("inputs", {}).get(name)
    if not path or not default_storage.exists(path):
        raise Http404("No such picture.")
    response = FileResponse(default_storage.open(path, "rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
