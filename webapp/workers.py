"""Worker processes announce themselves, their device and a heartbeat in the database.

Pool choice (see README "Workers and GPUs"): prefork with one child per GPU. The parent
never touches CUDA; each child initialises it after the fork, in `worker_process_init`.
Unlike `solo`, prefork keeps time limits and lets `celery inspect ping` answer while a
long job runs.

With each heartbeat the pool process also writes what the dashboard and /metrics show of
it (`worker_stats`): its CPU and resident memory (psutil), its GPU's memory and
utilisation from the driver (NVML, through nvidia-ml-py) or, where NVML is missing,
torch's own counters of this process, and how many jobs it has done.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading

from celery.signals import celeryd_after_setup, worker_process_init, worker_process_shutdown
from django.db import connection
from django.utils import timezone

log = logging.getLogger(__name__)

_state: dict[str, object] = {}
_counts = {"jobs_done": 0, "jobs_failed": 0}
_last_release: dict[str, object] = {}


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


def worker_capacity_mb(device_memory_mb: int) -> int:
    """The largest job (MB) this worker can hold: STUDIO_WORKER_CAPACITY_MB when set, else
    its GPU's memory, else the job memory limit within the host's RAM."""
    from django.conf import settings

    if os.environ.get("STUDIO_WORKER_CAPACITY_MB"):
        return int(os.environ["STUDIO_WORKER_CAPACITY_MB"])
    if device_memory_mb:
        return device_memory_mb
    import psutil

    return min(settings.JOB_MAX_MEMORY_MB, psutil.virtual_memory().total // 2**20)


def gpu_stats() -> dict[str, object] | None:
    """This process's GPU as the driver sees it (memory of every process on it, and
    utilisation), plus what torch's allocator holds here; None on a worker without one."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    index = torch.cuda.current_device()
    stats: dict[str, object] = {
        "name": torch.cuda.get_device_name(index),
        "process_reserved_mb": round(torch.cuda.memory_reserved(index) / 2**20, 1),
        "process_allocated_mb": round(torch.cuda.memory_allocated(index) / 2**20, 1),
        "total_mb": round(torch.cuda.get_device_properties(index).total_memory / 2**20, 1),
        "source": "torch",
    }
    try:
        import pynvml

        if not _state.get("nvml"):
            pynvml.nvmlInit()
            _state["nvml"] = True
        handle = _nvml_handle(pynvml, torch, index)
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
        stats.update(
            used_mb=round(memory.used / 2**20, 1),
            total_mb=round(memory.total / 2**20, 1),
            util_percent=pynvml.nvmlDeviceGetUtilizationRates(handle).gpu,
            source="nvml",
        )
    except Exception as exc:  # no driver library, or a device NVML cannot see
        stats["nvml_error"] = str(exc)[:200]
        stats["used_mb"] = stats["process_reserved_mb"]
    return stats


def _nvml_handle(pynvml, torch, index: int):
    """The NVML handle of torch's device `index`: matched by UUID, since
    CUDA_VISIBLE_DEVICES renumbers devices for CUDA but not for NVML."""
    uuid = str(getattr(torch.cuda.get_device_properties(index), "uuid", ""))
    if uuid:
        try:
            return pynvml.nvmlDeviceGetHandleByUUID(
                uuid if uuid.startswith("GPU-") else f"GPU-{uuid}"
            )
        except pynvml.NVMLError:
            pass
    return pynvml.nvmlDeviceGetHandleByIndex(index)


def worker_stats() -> dict[str, object]:
    """What the heartbeat writes to this process's Worker row; never raises (a failing
    measurement must not stop the beat that says the worker is alive)."""
    try:
        return _measure()
    except Exception:
        log.warning("could not measure the worker", exc_info=True)
        return {**_counts, "error": "could not measure", "refused": _state.get("refused")}


def _measure() -> dict[str, object]:
    import psutil

    process = _state.get("process")
    if not isinstance(process, psutil.Process):
        process = _state["process"] = psutil.Process()
    with process.oneshot():
        cpu = process.cpu_percent(None)  # since the previous beat (0.0 the first time)
        rss = process.memory_info().rss
    return {
        "cpu_percent": round(cpu, 1),
        "rss_mb": round(rss / 2**20, 1),
        "gpu": gpu_stats(),
        **_counts,
        "last_release": dict(_last_release) or None,
        "refused": _state.get("refused"),
    }


def worker_job_ended(*, job_id: str, status: str, gpu: dict[str, float] | None) -> None:
    """Count a job this process ran and record the GPU memory it gave back afterwards;
    written at once, so the dashboard shows the release right after a cancel."""
    from webapp.models import Worker

    _counts["jobs_done"] += 1
    if status == "failed":
        _counts["jobs_failed"] += 1
    if gpu is not None:
        _last_release.update(job=job_id, status=status, at=timezone.now().isoformat(), **gpu)
    name = _state.get("name")
    if name:
        Worker.objects.filter(name=name).update(stats=worker_stats())


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
        capacity_mb=worker_capacity_mb(memory),
        queues="" if _state.get("refused") else queues,
        started_at=timezone.now(),
    )
    Worker.objects.update_or_create(
        name=name, defaults={**row, "last_seen": timezone.now(), "stats": worker_stats()}
    )
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.JOB_HEARTBEAT_S):
                now, stats = timezone.now(), worker_stats()
                if not Worker.objects.filter(name=name).update(last_seen=now, stats=stats):
                    Worker.objects.create(last_seen=now, stats=stats, **row)  # row was wiped
        finally:
            connection.close()

    threading.Thread(target=beat, daemon=True, name="worker-heartbeat").start()
    _state.update(stop=stop, name=name)
    log.info("worker %s ready on %s", name, device)


# A worker that refused at start consumes only this queue, to which nothing is sent.
REFUSED_QUEUE = "refused"


@celeryd_after_setup.connect
def _refuse_without_storage(sender, instance, **_) -> None:
    """In the worker's parent, before it consumes: a worker that cannot reach the file
    store would fail every job it took, so it takes none, and its pool process says why
    on the dashboard (the state is inherited by the fork)."""
    from webapp.storage import storage_problem

    try:
        problem = storage_problem()
    except Exception as exc:  # a misconfigured store is as unusable as an absent one
        problem = f"{type(exc).__name__}: {exc}"[:300]
    if not problem:
        return
    _state["refused"] = (
        f"Takes no jobs: cannot reach {problem}. Restart this worker once the store answers."
    )
    log.error("worker %s: %s", sender, _state["refused"])
    queues = instance.app.amqp.queues
    queues.select_add(REFUSED_QUEUE)
    for queue in list(queues.consume_from):
        if queue != REFUSED_QUEUE:
            queues.deselect(queue)


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
