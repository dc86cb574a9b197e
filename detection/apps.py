from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "detection"

    def ready(self) -> None:
        from detection import services
        from webapp.jobkinds import JobKind, register

        register(
            JobKind(
                name=services.KIND,
                label="Object detection",
                run="detection.worker:run",
                estimate=services.estimate,
                template="detection/job.html",
                new_url_name="detection:new",
                blurb="Upload photos (or a zip of them) and find 80 kinds of everyday objects "
                "with YOLOv3-tiny; tune confidence and overlap live, export JSON or COCO.",
            )
        )
