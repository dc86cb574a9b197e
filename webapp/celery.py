"""The Celery app: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
# Idle OpenMP threads sleep instead of spinning: on shared CPU cores spinning threads
# slowed PyTorch several times over (measured on the 2-core CI machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
