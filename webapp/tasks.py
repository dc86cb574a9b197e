"""Celery tasks: thin wrappers around the lifecycle. Messages carry only a job id."""

from celery import shared_task

from webapp import runner
from webapp.jobs import JOB_TASK, jobs_end_long_pauses, jobs_reap, jobs_resend_lost
from webapp.workers import current_worker_name


@shared_task(name=JOB_TASK, acks_late=True)
def job_task(job_id: str) -> str:
    """A token to run one queued job (see webapp.jobs.job_claim)."""
    return runner.job_execute(job_id, current_worker_name())


@shared_task(name="webapp.tasks.reap_stale_jobs")
def reap_stale_jobs() -> int:
    """Requeue jobs whose worker died, re-send tokens that the broker lost, and end runs
    paused for too long."""
    return len(jobs_reap()) + jobs_resend_lost() + len(jobs_end_long_pauses())
