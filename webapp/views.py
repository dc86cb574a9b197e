"""Pages and JSON endpoints shared by every job kind. Thin: the lifecycle lives in jobs.py."""

from __future__ import annotations

import mimetypes

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from webapp import events
from webapp.accounts import signup_limit, signup_refusal
from webapp.jobkinds import KINDS
from webapp.jobs import JobRefused, job_cancel, job_control, job_requeue, job_retry
from webapp.jsoninput import JSONInputError, request_json
from webapp.models import Job, JobStatus
from webapp.storage import store_errors
from webapp.throttle import throttle_attempt, throttle_forgive
from webapp.tools import refused_json, store_unreachable, stored_file_response

# Result files are served with one of these types, or as a download; never as HTML.
SAFE_INLINE_TYPES = {"image/png", "image/jpeg", "image/webp", "application/json"}


def home(request: HttpRequest) -> HttpResponse:
    tools = [k for k in KINDS.values() if k.new_url_name]
    return render(request, "webapp/home.html", {"tools": tools})


def signup(request: HttpRequest) -> HttpResponse:
    """New accounts, at most SIGNUP_MAX_PER_ADDRESS per address in SIGNUP_WINDOW_S."""
    form = UserCreationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        limit = signup_limit(request)
        wait = throttle_attempt([limit])
        if wait:
            form.add_error(None, signup_refusal(wait))
            response = render(request, "registration/signup.html", {"form": form}, status=429)
            response["Retry-After"] = str(wait)
            return response
        if form.is_valid():
            user = form.save()
            login(request, user)
            messages.success(request, f"Welcome, {user.username}!")
            return redirect("home")
        throttle_forgive(limit)  # no account made: only new accounts count
    return render(request, "registration/signup.html", {"form": form})


def _job_for(request: HttpRequest, job_id) -> Job:
    """The job if this user may see it; 404 otherwise (no hint that it exists)."""
    return get_object_or_404(Job.objects.visible_to(request.user), pk=job_id)


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = Job.objects.filter(user=request.user).order_by("-created_at")
    status = request.GET.get("status")
    if status in JobStatus.values:
        jobs = jobs.filter(status=status)
    page = Paginator(jobs, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "webapp/job_list.html",
        {"page": page, "kinds": KINDS, "status": status, "statuses": JobStatus.values},
    )


@login_required
def job_detail(request: HttpRequest, job_id) -> HttpResponse:
    job = _job_for(request, job_id)
    kind = KINDS.get(job.kind)
    template = kind.template if kind else "webapp/job_detail.html"
    return render(
        request,
        template,
        {"job": job, "kind": kind, "snapshot": _snapshot_for(request, job)},
    )


def _snapshot_for(request: HttpRequest, job: Job) -> dict:
    """The job's snapshot, with the failure's details when a staff member asks."""
    return events.job_snapshot(job, staff=request.user.is_staff)


@login_required
def job_json(request: HttpRequest, job_id) -> JsonResponse:
    return JsonResponse(_snapshot_for(request, _job_for(request, job_id)))


def _act(request: HttpRequest, job: Job, action, done: str) -> HttpResponse:
    """Do `action`; a page's script gets the job and what was done (`message`) in the
    answer, a plain form a message on the page it is sent back to. Never both: a message
    stored for a script's request would show one page late."""
    try:
        action(job=job)
    except JobRefused as exc:
        if _wants_json(request):
            return refused_json(exc)
        messages.error(request, str(exc))
    else:
        if _wants_json(request):
            job.refresh_from_db()
            return JsonResponse({**_snapshot_for(request, job), "message": done})
        messages.success(request, done)
    back = request.POST.get("next", "")
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        back = job.get_absolute_url()  # a path on this site only
    return HttpResponseRedirect(back)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def job_cancel_view(request: HttpRequest, job_id) -> HttpResponse:
    return _act(request, _job_for(request, job_id), job_cancel, "Cancel requested.")


@login_required
@require_POST
def job_retry_view(request: HttpRequest, job_id) -> HttpResponse:
    return _act(request, _job_for(request, job_id), job_retry, "Queued again.")


@staff_member_required
@require_POST
def job_requeue_view(request: HttpRequest, job_id) -> HttpResponse:
    return _act(request, _job_for(request, job_id), job_requeue, "Requeued.")


def _controls_from(request: HttpRequest) -> dict:
    """At most 10 controls, each a short name with a finite number, true/false or short text."""
    changes = request_json(request)
    if len(changes) > 10:
        raise JSONInputError("At most 10 controls can be sent at once.")
    for name, value in changes.items():
        if len(name) > 32:
            raise JSONInputError("Control names are at most 32 characters.", field=name[:32])
        if not isinstance(value, bool | int | float | str) or len(str(value)) > 64:
            raise JSONInputError(
                f"{name} must be a number, true/false or a text of at most 64 characters.",
                field=name,
            )
    return changes


@login_required
@require_POST
def job_control_view(request: HttpRequest, job_id) -> JsonResponse:
    """Live commands for a running job: a JSON object of small scalar values."""
    job = _job_for(request, job_id)
    try:
        changes = _controls_from(request)
    except JSONInputError as exc:
        return exc.response()
    try:
        job = job_control(job=job, changes=changes)
    except JobRefused as exc:
        return refused_json(exc)
    return JsonResponse(_snapshot_for(request, job))


@login_required
def job_file(request: HttpRequest, job_id, name: str) -> HttpResponse:
    """A job's result file, for its owner or staff only. Never rendered as a page."""
    job = _job_for(request, job_id)
    if "/" in name or name.startswith("."):
        raise Http404
    # Only files directly in the job's folder: its uploads sit in the "input" folder there.
    try:
        files = default_storage.listdir(job.storage_prefix)[1]
    except FileNotFoundError:
        files = []
    except store_errors():
        return store_unreachable()
    if name not in files:
        raise Http404
    path = f"{job.storage_prefix}/{name}"
    ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    download = request.GET.get("download") == "1" or ctype not in SAFE_INLINE_TYPES
    response = stored_file_response(
        path,
        name=name,
        content_type=ctype if ctype in SAFE_INLINE_TYPES else "application/octet-stream",
        download=download,
    )
    response["Cache-Control"] = "private, max-age=0, must-revalidate"
    return response


@staff_member_required
def dashboard(request: HttpRequest) -> HttpResponse:
    from webapp.dashboard import dashboard_history, dashboard_stats

    return render(
        request,
        "webapp/dashboard.html",
        {"stats": dashboard_stats(), "history": dashboard_history(), "kinds": KINDS},
    )


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape: for staff sessions, or with the METRICS_TOKEN bearer token."""
    from prometheus_client import CONTENT_TYPE_LATEST

    from webapp.metrics import metrics_allowed, metrics_text

    if not metrics_allowed(request):
        anonymous = not request.user.is_authenticated and "Authorization" not in request.headers
        response = HttpResponse(
            "A staff session or the metrics token is needed.\n",
            status=401 if anonymous else 403,
            content_type="text/plain",
        )
        if anonymous:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
