"""Fixtures for the tests of a deployment on several machines: a real S3 server, a site
(web server, beat) whose files live only there, and a second host in its own namespaces.

The site runs on a Redis database of its own, so the session's local-files worker
(`stack`) never takes one of its jobs; the test process is switched to the same store and
broker for as long as a module uses it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from tests.conftest import Stack, database_url, free_port, parent_pid, wait_for
from tests.multihost.harness import (
    CREDENTIALS,
    ObjectStore,
    SecondHost,
    namespaces_unavailable,
    url_with_host,
)

# The model files a second host copies into its own scratch folder.
MODEL_FILES = ["yolov3-tiny.cfg", "yolov3-tiny.weights", "coco.names", "vgg19_caffe_q.bin"]


@pytest.fixture(scope="module")
def object_store(tmp_path_factory):
    store = ObjectStore(tmp_path_factory.mktemp("s3-logs"), free_port())
    store.start()
    try:
        yield store
    finally:
        store.stop()


@contextlib.contextmanager
def site_settings(*, storage_url: str, redis_url: str):
    """This test process on the object store and the site's broker and channel layer."""
    from webapp.celery import app
    from webapp.settings import storage_backend

    layers = {
        "default": {
            **settings.CHANNEL_LAYERS["default"],
            "CONFIG": {
                **settings.CHANNEL_LAYERS["default"]["CONFIG"],
                "hosts": [{"address": redis_url, "socket_timeout": 30}],
            },
        }
    }
    saved_env = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    # Connection pools are per broker URL (kombu keeps them): point the app at the other
    # URL and forget its references; neither broker's pool is closed.
    broker = app.conf.broker_url
    app.conf.broker_url = redis_url
    app._after_fork()
    try:
        with override_settings(
            STORAGE_URL=storage_url,
            STORAGES={**settings.STORAGES, "default": storage_backend(storage_url)},
            REDIS_URL=redis_url,
            CELERY_BROKER_URL=redis_url,
            CHANNEL_LAYERS=layers,
        ):
            yield
    finally:
        app.conf.broker_url = broker
        app._after_fork()
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def s3_site(django_db_setup, django_db_blocker, redis_client, object_store, tmp_path_factory):
    """A web server and beat whose files are only in the object store; `media` is the
    local media folder they are given, which must stay empty."""
    redis_url = settings.REDIS_URL.rsplit("/", 1)[0] + "/1"
    redis.Redis.from_url(redis_url).flushdb()
    media = tmp_path_factory.mktemp("s3-site-media")
    env = {
        "STORAGE_URL": object_store.url(),
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(media),
        **CREDENTIALS,
    }
    with django_db_blocker.unblock():
        site = Stack(tmp_path_factory.mktemp("s3-site-logs"), **env)
        site.media, site.store, site.redis_url = media, object_store, redis_url
        with site_settings(storage_url=object_store.url(), redis_url=redis_url):
            try:
                site.web_proc, site.base_url = site.web()
                site.beat()
                yield site
            finally:
                site.stop()


@pytest.fixture(scope="module")
def second_host(s3_site, tmp_path_factory):
    """A second machine (network + mount namespaces) for the site, linked by a veth
    pair; skipped, with the reason, where namespaces cannot be made."""
    why = namespaces_unavailable()
    if why:
        pytest.skip(f"no second host: {why}")
    host = SecondHost(tmp_path_factory.mktemp("host2-logs"), tmp_path_factory.mktemp("host2"))
    try:
        host.up()
        host.redis_port = host.forward(int(s3_site.redis_url.rsplit(":", 1)[1].split("/")[0]))
        host.store_port = host.forward(s3_site.store.port)
        host.env = _second_host_env(s3_site, host)
        yield host
    finally:
        host.down()


def _second_host_env(site, host: SecondHost) -> dict[str, str]:
    env = {
        **site.env,
        "REDIS_URL": url_with_host(site.redis_url, host.host_ip),
        "STORAGE_URL": site.store.url(host.host_ip),
        "STUDIO_DATA_DIR": str(host.copy_models(MODEL_FILES)),
    }
    db = database_url()
    if db.startswith("postgres"):  # over the link too: a forwarder to the server
        port = int(db.rsplit(":", 1)[1].split("/")[0])
        host.forward(free_port(), to_port=port)
        env["DATABASE_URL"] = url_with_host(db, host.host_ip).replace(
            f":{port}/", f":{host.forwarders[-1].port}/"
        )
    # SQLite (the suite's default) is a file, not a server: the second host opens the
    # same file, the one part of it not reached over the link (docs/operations.md).
    return env


def start_second_host_worker(host: SecondHost, site, *, name: str, queues: str = "gpu", **env: str):
    """The second host's worker (with `env` over the host's settings), once it has
    registered (its row names its own host)."""
    from webapp.models import Worker

    hidden = [Path(settings.MEDIA_ROOT), site.media, Path(settings.BASE_DIR) / "data"]
    proc = host.worker({**host.env, **env}, hidden=hidden, queues=queues, name=name)

    def registered():
        assert proc.popen.poll() is None, f"second host's worker died:\n{proc.log()}"
        return [w for w in Worker.objects.all() if parent_pid(w.pid) == proc.pid]

    proc.rows = wait_for(registered, timeout=90, what=f"second host worker {name}")
    return proc
