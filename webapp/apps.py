from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class WebappConfig(AppConfig):
    name = "webapp"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from webapp.jobs import job_files_delete
        from webapp.models import Job

        post_delete.connect(job_files_delete, sender=Job, dispatch_uid="job-files-delete")
        # Kinds that only some deployments register (the tests' own kind, for one).
        for module in settings.STUDIO_EXTRA_JOB_KINDS:
            import_module(module)
