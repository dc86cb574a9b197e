from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    name = "playground"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from playground import services
        from webapp.jobkinds import JobKind, register

        register(
            JobKind(
                name=services.KIND,
                label="CNN playground",
                run="playground.worker:run",
                estimate=services.estimate,
                template="playground/job.html",
                new_url_name="playground:new",
                can_yield=True,  # a pause checkpoints (worker._pause): fair share may yield it
                blurb="Build a small conv net layer by layer, train it and watch it learn: "
                "curves, filters, activation maps, gradients and a confusion matrix, live.",
            )
        )
