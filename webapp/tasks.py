"""Celery tasks: thin wrappers around the lifecycle. Messages carry only a job id."""

from celery import shared_task

from webapp import runner
from webapp.jobs import jobs_reap, jobs_resend_lost
from webapp.workers import current_worker_name


@shared_task(name="webapp.tasks.run_job", acks_late=True)
def run_job(job_id: str) -> str:
    return runner.run_job(job_id, current_worker_name())


@shared_task(name="webapp.tasks.reap_stale_jobs")
def reap_stale_jobs() -> int:
    """Requeue jobs whose worker died, and re-send tokens that the broker lost."""
    return len(jobs_reap()) + jobs_resend_lost()
