from django.apps import AppConfig


class StyletransferConfig(AppConfig):
    name = "styletransfer"
    verbose_name = "Style transfer"

    def ready(self) -> None:
        from styletransfer.services import KIND, estimate
        from webapp.jobkinds import JobKind, register

        register(
            JobKind(
                name=KIND,
                label="Style transfer",
                run="styletransfer.worker:run",
                estimate=estimate,
                template="styletransfer/job.html",
                new_url_name="styletransfer:new",
                blurb="Paint your photo in the style of one or more pictures and watch it form.",
            )
        )
