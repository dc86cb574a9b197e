from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    name = "playground"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """One JobKind per thing a user starts here, each in its own subpackage
        (playground/<kind>/: services, worker, views; templates/playground/<kind>_job.html)."""
        from playground.explain import services as explain
        from playground.teach import services as teach
        from playground.train import services as train
        from playground.transfer import services as transfer
        from webapp.jobkinds import JobKind, register

        kinds = [  # (services, label, form that starts one – "" for none –, blurb)
            (train, "CNN playground", "playground:new",
             "Build a small conv net layer by layer, train it and watch it learn: curves, "
             "filters, activation maps, gradients and a confusion matrix, live."),
            (transfer, "Transfer learning", "playground:transfer",
             "Start from VGG19 trained on ImageNet: frozen features, fine-tuning and training "
             "from scratch side by side, at several training-set sizes."),
            (explain, "Explain a net", "", ""),  # asked from a run's page
            (teach, "Teach it your objects", "playground:teach",
             "Show the camera a few things, train a classifier on them in seconds and watch "
             "its confidence live."),
        ]  # fmt: skip
        for services, label, new_url_name, blurb in kinds:
            register(JobKind(
                name=services.KIND, label=label, run=f"playground.{services.KIND}.worker:run",
                estimate=services.estimate, template=f"playground/{services.KIND}_job.html",
                new_url_name=new_url_name, blurb=blurb,
                # fair share may ask for the worker: a training run pauses with a
                # checkpoint (train.worker), a teach session ends (teach.worker)
                can_yield=services.KIND in (train.KIND, teach.KIND),
            ))  # fmt: skip
