from django.apps import AppConfig


class LearnConfig(AppConfig):
    """The course: lessons in the order of the course summaries, each with a widget that
    runs in the page or an experiment that queues playground runs. No job kind of its own."""

    name = "learn"
    default_auto_field = "django.db.models.BigAutoField"
