"""The Celery application. Settings live in flowsite/settings.py under CELERY_*."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")

app = Celery("flowsite")
# https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
