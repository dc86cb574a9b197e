"""The playground's pages and JSON endpoints. Thin: the logic is in services.py."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from playground import services
from playground.forms import (
    INIT_CHOICES,
    OPTIMIZER_CHOICES,
    SCHEDULE_CHOICES,
    TrainForm,
    TransferForm,
)
from playground.limits import LIMITS
from playground.taskcatalogue import SCENE_SHAPES, TASK_HELP, TASK_PRESETS, TASKS, VERIFY_LOSSES
from webapp import events
from webapp.jobkinds import get_kind
from webapp.jobs import JobRefused
from webapp.jsoninput import JSONInputError, int_field, request_json
from webapp.models import Job, JobStatus
from webapp.pictures import UploadError, read_bytes
from webapp.tools import earlier_job, refused_json, refused_on_form, upload_limits

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


def transfer(request: HttpRequest) -> HttpResponse:
    """Start from VGG19 trained on ImageNet: one mode, or all three side by side."""
    form = TransferForm()
    status = 200
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect(f"/accounts/login/?next={request.path}")
        form = TransferForm(request.POST)
        if form.is_valid():
            try:
                job = services.transfer_create(user=request.user, params=form.job_params())
            except JobRefused as exc:
                status = refused_on_form(form, exc)
            else:
                return redirect(job.get_absolute_url())
        else:
            status = 400
    return render(request, "playground/transfer.html", {"form": form}, status=status)


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


def _own_run(request: HttpRequest, job_id) -> Job:
    return get_object_or_404(Job.objects.visible_to(request.user), pk=job_id, kind=services.KIND)


def teach(request: HttpRequest) -> HttpResponse:
    """Teach it your own objects: GET the page; POST (multipart: `classes`, a JSON list of
    names, and `pictures-<i>` files per class) -> {"url", "id", "frame_url"} or
    {"error"} (the page keeps every picture)."""
    import json as _json

    from django.core.exceptions import ValidationError

    if request.method != "POST":
        return render(request, "playground/teach.html", {
            "teach": {"max_classes": services.TEACH_MAX_CLASSES,
                      "max_pictures": services.TEACH_MAX_PICTURES},
        })  # fmt: skip
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Log in to train."}, status=401)
    try:
        classes = _json.loads(request.POST.get("classes") or "[]")
        if not isinstance(classes, list):
            raise ValueError
    except ValueError:
        return JsonResponse({"error": "The class names were not sent as a list."}, status=400)
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
    `prediction` event carrying that id."""
    job = _own_run(request, job_id)
    if job.user_id != request.user.id:
        raise Http404("not your model")
    upload = request.FILES.get("frame")
    if upload is None:
        return JsonResponse({"error": "No picture came with the frame."}, status=400)
    try:
        data = read_bytes(upload, upload.name or "the frame", upload_limits())
        services.teach_frame(job=job, frame=data, frame_id=request.POST.get("id", ""))
    except (services.TeachError, UploadError) as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"queued": True}, status=202)


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


@login_required
@require_POST
def explain(request: HttpRequest, job_id) -> JsonResponse:
    """POST a picture (multipart "picture", optional "target" class index) -> {"url"} of a
    new job that explains the run's prediction with Grad-CAM and saliency (on the worker)."""
    from django.core.exceptions import ValidationError

    job = _own_run(request, job_id)
    if job.user_id != request.user.id:
        raise Http404("not your run")
    if job.status != JobStatus.SUCCEEDED or not (job.result or {}).get("files"):
        return JsonResponse({"error": "This run has no trained model yet."}, status=400)
    unit = [request.POST.get(k, "") for k in ("layer", "channel")]
    if any(unit):  # a unit: what it responds to
        spec = job.params.get("spec") or []
        if not all(v.isdigit() for v in unit) or int(unit[0]) >= len(spec):
            return JsonResponse({"error": "Choose a layer of the net and a channel number."},
                                status=400)  # fmt: skip
        try:
            made = services.explain_unit_create(
                user=request.user, run=job, layer=int(unit[0]), channel=int(unit[1])
            )
        except JobRefused as exc:
            return refused_json(exc)
        return JsonResponse({"url": made.get_absolute_url()})
    cell = [request.POST.get(k, "") for k in ("true", "predicted")]
    classes = len((job.metrics or {}).get("classes") or [])
    upload = request.FILES.get("picture")
    target = request.POST.get("target") or None
    if any(cell):  # a confusion-matrix cell: its validation pictures
        if not all(v.isdigit() and int(v) < classes for v in cell):
            return JsonResponse({"error": f"A cell is two class numbers below {classes}."},
                                status=400)  # fmt: skip
    elif upload is None:
        return JsonResponse({"error": "Choose a picture first."}, status=400)
    if target is not None and not target.isdigit():
        return JsonResponse({"error": "The class must be a class number."}, status=400)
    try:
        if any(cell):
            made = services.explain_cell_create(user=request.user, run=job,
                                                cell=(int(cell[0]), int(cell[1])))  # fmt: skip
        else:
            made = services.explain_create(user=request.user, run=job, upload=upload,
                                           target=int(target) if target else None)  # fmt: skip
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    except JobRefused as exc:
        return refused_json(exc)
    return JsonResponse({"url": made.get_absolute_url()})


@login_required
@require_POST
def predict(request: HttpRequest, job_id) -> JsonResponse:
    """POST a picture (multipart field "picture") -> the run's top predictions."""
    job = _own_run(request, job_id)
    upload = request.FILES.get("picture")
    if upload is None:
        return JsonResponse({"error": "Choose a picture first."}, status=400)
    try:
        top = services.run_predict(job=job, upload=upload)
    except services.PredictError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"predictions": top})


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
    return render(request, "playground/shared.html", {
        "job": job, "kind": get_kind(job.kind), "snapshot": snapshot, "shared": True})
