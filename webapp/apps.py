from importlib import import_module

from django.apps import AppConfig
from django.conf import settings


class WebappConfig(AppConfig):
    name = "webapp"
    verbose_name = "Jobs"

    def ready(self) -> None:
        # Kinds that only some deployments register (the tests' own kind, for one).
        for module in settings.STUDIO_EXTRA_JOB_KINDS:
            import_module(module)
