"""The `train` kind's pages and JSON endpoints: the builder, its summary and presets, the
runs list, comparing and sharing runs. Thin: the logic is in playground/train/services.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from playground.forms import (
    INIT_CHOICES,
    OPTIMIZER_CHOICES,
    SCHEDULE_CHOICES,
    TrainForm,
)
from playground.limits import LIMITS
from playground.taskcatalogue import SCENE_SHAPES, TASK_HELP, TASK_PRESETS, TASKS, VERIFY_LOSSES
from playground.train import services
from webapp import events
from webapp.jobkinds import get_kind
from webapp.jobs import JobRefused
from webapp.jsoninput import JSONInputError, int_field, request_json
from webapp.models import Job
from webapp.tools import earlier_job, refused_on_form

PRESET_LABELS = {
    "lenet5": "LeNet-5", "alexnet_small": "AlexNet-like", "vgg_small": "VGG-like",
    "deep_sigmoid": "Deep sigmoid", "deep_relu_bn": "Deep ReLU + BN",
    "resnet_small": "Small ResNet", "inception_small": "Inception",
}


def _shape_from(request_data: dict) -> tuple[tuple[int, int, int], int]:
    """The input shape and class count a summary or preset is for; JSONInputError names
    the field that is wrong."""
    dataset = request_data.get("dataset", "stripes")
    if isinstance(dataset, str) and dataset in SCENE_SHAPES:
        return SCENE_SHAPES[dataset]
    if not isinstance(dataset, str) or (
        dataset not in services.BUILTIN_SHAPES and dataset != services.UPLOAD
    ):
        raise JSONInputError(f"unknown dataset {str(dataset)[:40]!r}", field="dataset")
    size = int_field(request_data, "image_size", default=32, low=1, high=LIMITS.max_input_side)
    channels = int_field(request_data, "channels", default=3, low=1, high=3)
    if channels == 2:
        raise JSONInputError("channels must be 1 or 3.", field="channels")
    shape = services.input_shape_for(dataset=dataset, image_size=size, channels=channels)
    classes = (services.BUILTIN_SHAPES[dataset][1] if dataset != services.UPLOAD
               else int_field(request_data, "classes", default=2, low=2, high=LIMITS.max_classes))
    return shape, classes


def _head_from(request_data: dict, classes: int) -> tuple[str, int]:
    """The head (and its width) of the task a summary is for (classify when not given)."""
    task = request_data.get("task") or "classify"
    if task not in TASKS:
        raise JSONInputError(f"unknown task {str(task)[:20]!r}", field="task")
    loss = request_data.get("verify_loss") or "triplet"
    if loss not in VERIFY_LOSSES:
        raise JSONInputError("the verification loss is triplet or pair", field="verify_loss")
    return services.task_head(task=task, classes=classes, verify_loss=loss)


def builder(request: HttpRequest) -> HttpResponse:
    """The net builder and the training form; POST starts a run."""
    # "run again with these settings"
    form = TrainForm(initial=services.train_initial_from(earlier_job(request, kind=services.KIND)))
    status = 200
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"/accounts/login/?next={request.path}")
        form = TrainForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = services.train_create(user=request.user, params=form.job_params(),
                                            dataset_zip=form.cleaned_data.get("dataset_zip"))
            except JobRefused as exc:
                status = refused_on_form(form, exc)
            else:
                return redirect(job.get_absolute_url())
        else:
            status = 400
    from playground.netspec import layer_catalogue  # torch: the summary needs it next anyway

    catalogue = layer_catalogue()
    return render(request, "playground/builder.html", {
        "form": form, "datasets": services.dataset_options(), "limits": LIMITS,
        "layer_types": list(catalogue), "presets": PRESET_LABELS,
        "task_presets": {n: (t, label) for n, (t, label, _) in TASK_PRESETS.items()},
        "tasks": TASK_HELP,
        "optimizers": OPTIMIZER_CHOICES, "inits": INIT_CHOICES, "schedules": SCHEDULE_CHOICES,
        "builder": {  # for static/playground/builder.js
            "catalogue": catalogue,
            "summary_url": reverse("playground:summary"),
            "preset_urls": {n: reverse("playground:preset", args=[n])
                            for n in [*PRESET_LABELS, *TASK_PRESETS]},
            "tasks": TASK_HELP,
            "spec_error_index": getattr(form, "spec_error_index", None),
        },
    }, status=status)


@require_POST
def summary(request: HttpRequest) -> JsonResponse:
    """POST {spec, dataset, image_size?, channels?, classes?} -> the spec's summary table."""
    try:
        body = request_json(request)
        shape, classes = _shape_from(body)
        head, outputs = _head_from(body, classes)
    except JSONInputError as exc:
        return exc.response(ok=False, index=None)
    answer = services.spec_summary(spec=body.get("spec"), input_shape=shape, num_classes=outputs,
                                   head=head)
    if not answer["ok"]:
        answer.setdefault("field", "spec")
    return JsonResponse(answer, status=200 if answer["ok"] else 400)


def preset(request: HttpRequest, name: str) -> JsonResponse:
    """GET ?dataset=...[&image_size&channels] -> {"spec": [...]} for that picture shape."""
    try:
        shape, _ = _shape_from(request.GET.dict())
    except JSONInputError as exc:
        return exc.response()
    try:
        spec = services.preset_spec(name=name, input_shape=shape)
    except (KeyError, ValueError) as exc:
        return JsonResponse({"error": str(exc), "field": "name"}, status=400)
    training = services.preset_training(name=name, input_shape=shape)
    return JsonResponse({"name": name, "spec": spec, "training": training})


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    return render(request, "playground/runs.html", {"runs": services.runs_of(user=request.user)})


@login_required
def compare(request: HttpRequest) -> HttpResponse:
    ids = [i for i in request.GET.get("runs", "").split(",") if i]
    chosen = services.runs_compare(user=request.user, ids=ids)
    if len(chosen) < 2:
        messages.error(request, "Choose two or more of your training runs to compare.")
        return redirect("playground:runs")
    return render(request, "playground/compare.html", {"runs": chosen})


@login_required
@require_POST
def share(request: HttpRequest, job_id) -> JsonResponse:
    """Make (or, with {"off": true}, remove) the run's read-only link; owner only."""
    job = get_object_or_404(Job, pk=job_id, kind=services.KIND, user=request.user)
    try:
        body = request_json(request)
    except JSONInputError as exc:
        return exc.response()
    if body.get("off"):
        services.run_unshare(job=job)
        return JsonResponse({"url": None})
    token = services.run_share(job=job).token
    return JsonResponse({"url": request.build_absolute_uri(f"/playground/shared/{token}/")})


def shared(request: HttpRequest, token: str) -> HttpResponse:
    """A run as its owner shared it: read-only, drawn from the stored snapshot."""
    job = services.shared_run(token=token[:64])
    if job is None:
        raise Http404
    snapshot = events.job_snapshot(job)
    snapshot["result"] = {k: v for k, v in (job.result or {}).items() if k != "files"}
    snapshot["params"] = {k: v for k, v in job.params.items() if k != "inputs"}
    # the epochs' filters and activations, from the share's own address (the job's file
    # URLs are for its owner and would send a visitor to the log-in page)
    views = (job.metrics or {}).get("views") or []
    snapshot["metrics"] = {**(job.metrics or {}), "views": [
        {**v, "url": reverse("playground:shared_view", args=[token[:64], v["epoch"]])}
        for v in views]}  # fmt: skip
    return render(request, "playground/shared.html", {
        "job": job, "kind": get_kind(job.kind), "snapshot": snapshot, "shared": True})


def shared_view(request: HttpRequest, token: str, epoch: int) -> HttpResponse:
    """One epoch's filters and activations (view-<epoch>.json) of a shared run."""
    from webapp.storage import storage_read

    job = services.shared_run(token=token[:64])
    if job is None or epoch not in {v["epoch"] for v in (job.metrics or {}).get("views") or []}:
        raise Http404
    data = storage_read(f"{job.storage_prefix}/view-{epoch}.json")
    if data is None:
        raise Http404
    response = HttpResponse(data, content_type="application/json")
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
