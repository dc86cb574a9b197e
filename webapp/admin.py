from django.contrib import admin, messages

from webapp.jobs import JobRefused, job_cancel, job_requeue, job_retry
from webapp.models import Job, Worker


def _bulk(action, verb: str):
    def run(modeladmin, request, queryset):
        done, refused = 0, []
        for job in queryset:
            try:
                action(job=job)
                done += 1
            except JobRefused as exc:
                refused.append(f"{job.id}: {exc}")
        modeladmin.message_user(request, f"{verb} {done} job(s).", messages.SUCCESS)
        for text in refused[:10]:
            modeladmin.message_user(request, text, messages.WARNING)

    run.short_description = f"{verb} selected jobs"
    run.__name__ = f"action_{verb.lower()}"
    return run


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "user",
        "status",
        "progress",
        "worker",
        "attempts",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "kind", "queue", "created_at")
    search_fields = ("id", "user__username", "worker", "error", "title")
    readonly_fields = (
        "created_at",
        "queued_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "version",
        "failure",  # written by the worker; what the job page shows staff
    )
    actions = [
        _bulk(job_cancel, "Cancelled"),
        _bulk(job_retry, "Retried"),
        _bulk(job_requeue, "Requeued"),
    ]


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    list_display = ("name", "device", "device_memory_mb", "queues", "last_seen")
    readonly_fields = ("stats",)  # refreshed by the worker's heartbeat
