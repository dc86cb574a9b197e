"""The web side every tool app shares: its forms' file field, reading uploads' headers,
starting from an earlier job (`?from=<id>`) and showing a refused job the same way.

See docs/architecture.md, "Adding a tool", for where each piece is used.
"""

from __future__ import annotations

from collections.abc import Sequence

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

from webapp.jobs import JobRefused
from webapp.models import Job
from webapp.pictures import (
    PictureInfo,
    UploadError,
    UploadLimits,
    check_request_pixels,
    probe_upload,
    read_bytes,
)
from webapp.storage import STREAM_ASYNC_BYTES, chunks_async, storage_stream, store_errors

# The HTTP status of a page or answer that refuses to start a job (limit, budget): the
# request was fine, the state of the user's jobs is what conflicts.
REFUSED_STATUS = 409


def upload_limits(**overrides: int) -> UploadLimits:
    """The site's upload limits (UPLOAD_* settings), with a tool's own overrides."""
    return UploadLimits.from_settings(settings, **overrides)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that takes one or many files and cleans to a list of them."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        single = super().clean
        if isinstance(data, list | tuple):
            if not data and self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else single(data, initial) or []


def upload_read(upload: UploadedFile, limits: UploadLimits) -> bytes:
    """An uploaded file's bytes (at most the byte limit), or a ValidationError."""
    upload.seek(0)
    try:
        return read_bytes(upload, upload.name or "upload", limits)
    except UploadError as exc:
        raise ValidationError(str(exc)) from exc


def uploads_probe(uploads: Sequence[UploadedFile], limits: UploadLimits) -> list[PictureInfo]:
    """The pictures in these uploads (pictures or zips of them) from their headers only,
    checked one by one and together against the request's pixel budget; no pixel is
    decoded in the web process. Raises ValidationError naming the file at fault."""
    infos: list[PictureInfo] = []
    for upload in uploads:
        try:
            infos += probe_upload(upload_read(upload, limits), upload.name or "upload", limits)
            check_request_pixels(infos, limits)
        except UploadError as exc:
            raise ValidationError(str(exc)) from exc
    return infos


def earlier_job(request: HttpRequest, *, kind: str) -> Job | None:
    """The job to start from, named by `?from=<id>` (or a POSTed `from_job`): only one of
    `kind` that this user may see. Anything else starts from the defaults, with a note."""
    job_id = request.POST.get("from_job") or request.GET.get("from")
    if not job_id:
        return None
    try:
        job = Job.objects.visible_to(request.user).filter(pk=job_id, kind=kind).first()
    except (ValidationError, ValueError):  # not a UUID
        job = None
    if job is None and request.method == "GET":
        messages.warning(request, "That job cannot be copied here; starting from the defaults.")
    return job


def refused_on_form(form: forms.Form, exc: JobRefused) -> int:
    """Show why a job was refused at the top of its form; the status to answer with."""
    form.add_error(None, str(exc))
    return REFUSED_STATUS


def refused_json(exc: JobRefused) -> JsonResponse:
    """A JSON endpoint's answer when a job is refused."""
    return JsonResponse({"error": str(exc)}, status=REFUSED_STATUS)


def store_unreachable() -> HttpResponse:
    """The answer for a file while the object store cannot be reached."""
    return HttpResponse(
        "The file store cannot be reached right now; try again in a minute.\n",
        status=503,
        content_type="text/plain",
    )


def stored_file_response(
    path: str, *, name: str, content_type: str, download: bool = False
) -> HttpResponse | StreamingHttpResponse:
    """A stored file streamed to a client that the caller has checked may read it.

    Read from the store in chunks and passed through the web process rather than
    redirected to a presigned URL: the object store stays private to the servers, and
    the file keeps this site's headers (a sandboxing Content-Security-Policy, no shared
    caching). Under daphne the web process still holds the whole file while it sends it
    (measured in docs/operations.md, with what would keep it out).
    """
    try:
        chunks, size = storage_stream(path)
    except store_errors():
        return store_unreachable()
    if size is not None and size > STREAM_ASYNC_BYTES:
        chunks = chunks_async(chunks)
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(download, name)
    if size is not None:
        response["Content-Length"] = str(size)
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
