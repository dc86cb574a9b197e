from django.conf import settings
from django.db import models


class LessonProgress(models.Model):
    """One student's state in one lesson: done, the question answered, the runs started."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="lesson_progress")
    lesson = models.SlugField(max_length=40)  # a slug of learn.lessons.LESSONS
    done = models.BooleanField(default=False)
    answered = models.BooleanField(default=False)  # the question answered right
    answer = models.PositiveSmallIntegerField(null=True, blank=True)  # the latest choice
    # the latest experiment's job ids, in the order of its arms
    runs = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "lesson"], name="one_progress_per_lesson")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.lesson}"
