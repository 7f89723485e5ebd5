"""The Celery application. Settings live in flowsite/settings.py under CELERY_*."""

import os

from celery import Celery
from celery.signals import beat_init, celeryd_init
from kombu.transport import TRANSPORT_ALIASES

# flowsite's Redis transport (flowsite/redis_transport.py: restart fix, unacked lease) under kombu's
# own scheme names, so every redis:// connection uses it and its URI keeps the redis:// scheme
# (CELERY_BROKER_TRANSPORT would make it "flowsite.redis_transport:Transport://", which Flower's
# broker page and queue lengths cannot read).
TRANSPORT_ALIASES.update(redis="flowsite.redis_transport:Transport", rediss="flowsite.redis_transport:Transport")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")

app = Celery("flowsite")
# https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
@beat_init.connect
def prepare_local_state(**kwargs: object) -> None:
    """A worker or beat on the embedded default needs its folders before it touches the broker."""
    from flowsite.local_state import prepare

    prepare()
