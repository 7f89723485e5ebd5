"""The Celery application. Settings live in flowsite/settings.py under CELERY_*."""

import os

import lz4.frame
import orjson
from celery import Celery
from celery.signals import (
    beat_init,
    celeryd_init,
    task_failure,
    task_prerun,
    task_retry,
    worker_process_shutdown,
    worker_shutdown,
)
from kombu import compression
from kombu.serialization import register
from kombu.transport import TRANSPORT_ALIASES

# flowsite's Redis transport (flowsite/redis_transport.py: restart fix, unacked lease) under kombu's
# own scheme names, so every redis:// connection uses it and its URI keeps the redis:// scheme
# (CELERY_BROKER_TRANSPORT would make it "flowsite.redis_transport:Transport://", which Flower's
# broker page and queue lengths cannot read).
TRANSPORT_ALIASES.update(redis="flowsite.redis_transport:Transport", rediss="flowsite.redis_transport:Transport")

# Task messages in orjson (CELERY_TASK_SERIALIZER): a batch is ~0.5 MB of frames, and kombu's json
# (the standard library's) spent a third of the listener's CPU escaping them and the worker as much
# reading them back. Every task's arguments are plain JSON (ids, names, frames as text).
# https://docs.celeryq.dev/projects/kombu/en/stable/userguide/serialization.html
# (The stubs want an encoder returning str; kombu takes bytes with the "binary" content encoding.)
register(
    "orjson",
    orjson.dumps,  # type: ignore[arg-type]
    orjson.loads,
    content_type="application/x-orjson",
    content_encoding="binary",
)
# ... and compressed with LZ4 (CELERY_TASK_COMPRESSION): a batch's frames shrink fivefold, so the
# base64 that the Redis transport wraps every body in, its JSON envelope and Redis itself handle a
# fifth of the bytes (at 1M trades: 0.4 CPU s for the listener instead of 1.2, 0.3 s for the workers
# instead of 1.0).
# https://docs.celeryq.dev/projects/kombu/en/stable/reference/kombu.compression.html
compression.register(lz4.frame.compress, lz4.frame.decompress, "application/x-lz4", aliases=["lz4"])

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


@task_prerun.connect
def check_database_connections(sender: object = None, **kwargs: object) -> None:
    """As Django does before each request: drop connections past CONN_MAX_AGE or broken by an error,
    and health-check the others on their next use (CONN_HEALTH_CHECKS). Reused ones: CELERY_DB_REUSE_MAX.
    Not for a task run eagerly: it is inside its caller's connection (as Celery's own fixup does)."""
    if not _is_eager(sender):
        from django.db import close_old_connections

        close_old_connections()


@task_failure.connect
@task_retry.connect
def close_database_connections(sender: object = None, **kwargs: object) -> None:
    """A task that failed may have left its connection mid-query (a time limit): never reuse it."""
    if not _is_eager(sender):
        from django.db import connections

        connections.close_all()


@worker_process_shutdown.connect
@worker_shutdown.connect
def finish_first_attempts(**kwargs: object) -> None:
    """A worker stopping lets the webhooks' first attempts it took finish (services/first_attempts.py)."""
    from trades.services.first_attempts import FIRST_ATTEMPTS

    FIRST_ATTEMPTS.stop()


def _is_eager(task: object) -> bool:
    return bool(getattr(getattr(task, "request", None), "is_eager", False))
