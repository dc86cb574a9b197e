from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "detection"

    def ready(self) -> None:
        from detection import tasks  # noqa: F401  registers the "detect" job kind
