from django.apps import AppConfig


class StyletransferConfig(AppConfig):
    name = "styletransfer"
    verbose_name = "Style transfer"

    def ready(self) -> None:
        from styletransfer import tasks  # noqa: F401  registers the "stylize" job kind
