"""Job files in the configured storage: local files or an S3-compatible object store.

Everything that writes, streams, checks or removes a job's files goes through here, so no
code path needs a file on the web host's disk (`Storage.path()` is used only where the
storage is local files). A write is never half-visible: on local disk a temporary file is
renamed over the old one; in an object store one PUT (or one completed multipart upload)
replaces the object whole, and nothing is written to a second key.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

STREAM_CHUNK = 256 * 1024  # what the web reads from the store per write to the client
# Files larger than this are sent through an asynchronous iterator (see chunks_async);
# smaller ones through a plain one, which every consumer (the test client too) reads.
STREAM_ASYNC_BYTES = 8 * 2**20


class StorageUnavailable(Exception):
    """The object store could not be reached or refused a request (after its retries)."""


def store_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a storage request raises when the store is down or refuses it."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # no boto3 installed: local files only
        return (OSError,)
    return (OSError, BotoCoreError, ClientError)


def local_root() -> Path | None:
    """The folder of a local-files storage; None for an object store."""
    try:
        return Path(default_storage.path(""))
    except NotImplementedError:
        return None


def storage_save(path: str, data: bytes) -> None:
    """Write `path` whole, replacing what was there: readers see the old or the new file."""
    root = local_root()
    if root is not None:
        local = Path(default_storage.path(path))
        local.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=local.parent, prefix=".part-", delete=False) as tmp:
            tmp.write(data)
        os.chmod(tmp.name, settings.FILE_UPLOAD_PERMISSIONS or 0o644)
        os.replace(tmp.name, local)
        return
    try:
        default_storage.save(path, ContentFile(data))  # file_overwrite: same key, one PUT
    except store_errors() as exc:
        raise StorageUnavailable(_words(exc)) from exc


def storage_read(path: str) -> bytes | None:
    """The whole file at `path`, or None when there is none."""
    try:
        if not default_storage.exists(path):
            return None
        with default_storage.open(path, "rb") as fh:
            return fh.read()
    except store_errors() as exc:
        raise StorageUnavailable(_words(exc)) from exc


def storage_stream(path: str) -> tuple[Iterator[bytes], int | None]:
    """The file at `path` as chunks, and its size: from the object store's response body
    as it arrives, so a reader holds one chunk at a time, never the file."""
    if local_root() is not None:
        return _file_chunks(Path(default_storage.path(path))), default_storage.size(path)
    storage = default_storage
    response = storage.bucket.Object(storage._normalize_name(path)).get()
    return response["Body"].iter_chunks(STREAM_CHUNK), response.get("ContentLength")


def _file_chunks(local: Path) -> Iterator[bytes]:
    with open(local, "rb") as fh:
        while chunk := fh.read(STREAM_CHUNK):
            yield chunk


async def chunks_async(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """`chunks` for an ASGI response, one read per chunk in a thread: Django would
    otherwise collect a synchronous iterator whole in a list before sending it."""
    take = sync_to_async(lambda: next(chunks, None), thread_sensitive=False)
    while (chunk := await take()) is not None:
        yield chunk


def storage_delete_prefix(prefix: str) -> None:
    """Remove every file under `prefix` (a job's folder)."""
    root = local_root()
    if root is not None:
        shutil.rmtree(root / prefix, ignore_errors=True)
        return
    storage = default_storage
    storage.bucket.objects.filter(Prefix=storage._normalize_name(prefix) + "/").delete()


def storage_problem() -> str:
    """Why this process cannot use the storage ("" when it can): the store answers for
    its bucket, or the local folder is writable. Uses a client of its own, so a check in
    a Celery parent leaves no connection for a forked child to share."""
    root = local_root()
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
        return "" if os.access(root, os.W_OK) else f"the media folder {root} is not writable"
    import boto3
    from botocore.config import Config

    storage = default_storage
    quick = Config(
        retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=3
    )
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=storage.endpoint_url,
        region_name=storage.region_name,
        aws_access_key_id=storage.access_key,
        aws_secret_access_key=storage.secret_key,
        config=storage.client_config.merge(quick) if storage.client_config else quick,
    )
    try:
        client.head_bucket(Bucket=storage.bucket_name)
    except store_errors() as exc:
        where = storage.endpoint_url or "S3"
        return f"the object store at {where} (bucket {storage.bucket_name}): {_words(exc)}"
    finally:
        client.close()
    return ""


def _words(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
