"""Worker processes announce themselves, their device and a heartbeat in the database.

Pool choice (see README "Workers and GPUs"): prefork with one child per GPU. The parent
never touches CUDA; each child initialises it after the fork, in `worker_process_init`.
Unlike `solo`, prefork keeps time limits and lets `celery inspect ping` answer while a
long job runs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from celery.signals import worker_process_init, worker_process_shutdown
from django.db import connection
from django.utils import timezone

log = logging.getLogger(__name__)

_state: dict[str, object] = {}


def current_worker_name() -> str:
    """hostname:pid of this process – what Job.worker and Worker.name hold."""
    return f"{socket.gethostname()}:{os.getpid()}"


def describe_device() -> tuple[str, int]:
    """(device name, memory in MB): the CUDA device this process will use, else the CPU."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        return props.name, props.total_memory // (1024 * 1024)
    return f"CPU ({torch.get_num_threads()} threads)", 0


def worker_register(*, queues: str = "") -> None:
    """Create this process's Worker row and start its liveness heartbeat."""
    from django.conf import settings

    from webapp.models import Worker

    device, memory = describe_device()
    name = current_worker_name()
    row = dict(
        name=name,
        hostname=socket.gethostname(),
        pid=os.getpid(),
        device=device,
        device_memory_mb=memory,
        queues=queues,
        started_at=timezone.now(),
    )
    Worker.objects.update_or_create(name=name, defaults={**row, "last_seen": timezone.now()})
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.JOB_HEARTBEAT_S):
                if not Worker.objects.filter(name=name).update(last_seen=timezone.now()):
                    Worker.objects.create(last_seen=timezone.now(), **row)  # row was wiped
        finally:
            connection.close()

    threading.Thread(target=beat, daemon=True, name="worker-heartbeat").start()
    _state.update(stop=stop, name=name)
    log.info("worker %s ready on %s", name, device)


@worker_process_init.connect
def _on_child_start(**_) -> None:
    connection.close()  # never share the parent's database socket after a fork
    try:
        worker_register(queues=os.environ.get("STUDIO_WORKER_QUEUES", "gpu,default"))
    except Exception:
        log.exception("could not register the worker")


@worker_process_shutdown.connect
def _on_child_stop(**_) -> None:
    from webapp.models import Worker

    stop = _state.get("stop")
    if isinstance(stop, threading.Event):
        stop.set()
    try:
        Worker.objects.filter(name=current_worker_name()).delete()
    except Exception:
        log.warning("could not deregister the worker", exc_info=True)
