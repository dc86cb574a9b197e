"""A run shared read-only by an unguessable link."""

from django.db import models

from webapp.models import Job


class RunShare(models.Model):
    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="playground_share")
    token = models.CharField(max_length=64, unique=True)  # secrets.token_urlsafe(24)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"share of {self.job_id}"
