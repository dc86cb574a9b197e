"""The `teach` kind's page and its frame endpoint. Thin: the logic is in
playground/teach/services.py."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from playground.teach import services
from webapp.jobs import JobRefused
from webapp.jsoninput import JSONInputError, json_parse
from webapp.models import Job
from webapp.pictures import UploadError, read_bytes
from webapp.tools import earlier_job, refused_json, upload_limits


def teach(request: HttpRequest) -> HttpResponse:
    """Teach it your own objects: GET the page (`?from=<id>`: an earlier teach job's class
    names); POST (multipart: `classes`, a JSON list of names, and `pictures-<i>` files per
    class) -> {"url", "id", "frame_url"} or {"error"} (the page keeps every picture)."""
    if request.method != "POST":
        initial = services.teach_initial_from(earlier_job(request, kind=services.KIND))
        return render(request, "playground/teach.html", {
            "teach": {"max_classes": services.TEACH_MAX_CLASSES,
                      "max_pictures": services.TEACH_MAX_PICTURES,
                      "classes": initial.get("classes") or []},
        })  # fmt: skip
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Log in to train."}, status=401)
    try:
        classes = json_parse(request.POST.get("classes") or "[]")
    except JSONInputError as exc:
        return JsonResponse({"error": f"The class names were not sent as a list: {exc}"},
                            status=400)
    if not isinstance(classes, list):
        return JsonResponse({"error": "The class names were not sent as a list."}, status=400)
    classes = classes[: services.TEACH_MAX_CLASSES + 1]  # more is refused by teach_create
    pictures = [request.FILES.getlist(f"pictures-{i}") for i in range(len(classes))]
    try:
        job = services.teach_create(user=request.user, classes=classes, pictures=pictures)
    except services.TeachError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    except JobRefused as exc:
        return refused_json(exc)
    frame_url = reverse("playground:teach_frame", args=[job.id])
    return JsonResponse({"url": job.get_absolute_url(), "id": str(job.id), "frame_url": frame_url})


@login_required
@require_POST
def teach_frame(request: HttpRequest, job_id) -> JsonResponse:
    """POST multipart `frame` (a picture) and `id` -> 202; the worker answers with a
    `prediction` event carrying that id. The owner's teach jobs only."""
    job = get_object_or_404(Job, pk=job_id, kind=services.KIND, user=request.user)
    upload = request.FILES.get("frame")
    if upload is None:
        return JsonResponse({"error": "No picture came with the frame."}, status=400)
    try:
        data = read_bytes(upload, upload.name or "the frame", upload_limits())
        services.teach_frame(job=job, frame=data, frame_id=request.POST.get("id", ""))
    except (services.TeachError, UploadError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"queued": True}, status=202)
