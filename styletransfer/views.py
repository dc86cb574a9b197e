"""Pages of the style-transfer tool. Thin: checks live in forms.py, the job in services.py."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from styletransfer.config import MIN_LEVEL_SIDE, MIN_SIDE
from styletransfer.forms import StylizeForm
from styletransfer.gallery import STYLES, gallery_png
from styletransfer.services import (
    KIND,
    KNOBS,
    MAX_BLEND,
    MAX_REGIONS,
    MAX_SIZE,
    MAX_STRENGTH,
    MAX_TOTAL_STEPS,
    config_with_tiles,
    estimate,
    largest_size,
    preset_table,
    same_photo_results,
    stylize_create,
    stylize_initial_from,
)
from webapp.jobkinds import get_kind
from webapp.jobs import JobRefused, job_budget
from webapp.models import Job
from webapp.pictures import UploadError
from webapp.tools import earlier_job, refused_on_form, stored_file_response


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
                "max_regions": MAX_REGIONS,
                "max_strength": MAX_STRENGTH,
                "estimate_url": reverse("styletransfer:estimate"),
                "earlier_labels": (
                    reverse("styletransfer:input", args=[source.id, "labels"])
                    if source is not None and "labels" in source.params.get("inputs", {})
                    else ""
                ),
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
def job_input(request: HttpRequest, job_id, name: str) -> HttpResponse:
    """One of a job's stored pictures (photo or style), for its owner and staff."""
    try:
        job = Job.objects.visible_to(request.user).get(pk=job_id, kind=KIND)
    except Job.DoesNotExist:
        raise Http404("No such job.") from None
    path = job.params.get("inputs", {}).get(name)
    if not path or not default_storage.exists(path):
        raise Http404("No such picture.")
    response = stored_file_response(path, name=f"{name}.png", content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def estimate_json(request: HttpRequest) -> JsonResponse:
    """Peak memory and run time of the settings in the query, on the workers' device, and
    the largest size that fits: what the form shows before a job is sent."""
    knobs: dict[str, object] = {}
    for name in KNOBS:
        field = StylizeForm.base_fields[name]
        raw = request.GET.get(name)
        if raw is None:
            continue
        try:
            knobs[name] = field.clean(raw)
        except Exception:  # noqa: BLE001 - a half-typed knob: estimate without it
            continue
    if "size" in knobs:  # the form's own bounds; the estimate walks the tiles of this size
        knobs["size"] = max(MIN_SIDE, min(MAX_SIZE, int(knobs["size"])))
    try:
        styles = max(1, min(64, int(request.GET.get("styles", "1"))))
    except ValueError:
        styles = 1
    preset_name = request.GET.get("preset", "standard")
    if preset_name not in preset_table():
        preset_name = "standard"
    params = {"preset": preset_name, "config": config_with_tiles(knobs), "styles": [{}] * styles}
    budget = job_budget(queue=get_kind(KIND).queue)
    try:
        cost = estimate(params, budget)
    except (TypeError, ValueError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(
        {
            "device": budget.device,
            "memory_mb": cost.memory_mb,
            "runtime_s": cost.runtime_s,
            "budget": {"memory_mb": budget.memory_mb, "runtime_s": budget.runtime_s},
            "over": cost.over(budget),
            "largest_size": largest_size(params, budget),
        }
    )


@login_required
def compare_json(request: HttpRequest, job_id) -> JsonResponse:
    """What a result can be compared with: its photo and the owner's earlier results of
    the same photo."""
    try:
        job = Job.objects.visible_to(request.user).get(pk=job_id, kind=KIND)
    except Job.DoesNotExist:
        raise Http404("No such job.") from None
    return JsonResponse(
        {
            "photo": reverse("styletransfer:input", args=[job.id, "content"]),
            "earlier": [
                {
                    "id": str(other.id),
                    "title": other.title,
                    "url": other.result.get("image_url", ""),
                    "size": [other.result.get("width"), other.result.get("height")],
                    "created": other.created_at.isoformat(),
                }
                for other in same_photo_results(job)
                if other.result.get("image_url")
            ],
        }
    )
