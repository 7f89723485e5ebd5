"""A worker keeps its database connection from task to task (a new one cost a third of a small
batch), and drops it when a task fails, so one broken mid-query is never reused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection

from flowsite.celery import app, check_database_connections, close_database_connections

WORKER_TASK = SimpleNamespace(request=SimpleNamespace(is_eager=False))


@pytest.mark.django_db(transaction=True)
def test_a_task_keeps_the_connection_and_a_failed_one_closes_it():
    assert app.conf.get("CELERY_DB_REUSE_MAX"), "Celery's fixup would close it after every task"
    connection.ensure_connection()
    kept = connection.connection

    check_database_connections(sender=WORKER_TASK)
    assert connection.connection is kept

    close_database_connections(sender=WORKER_TASK)
    assert connection.connection is None


@pytest.mark.django_db
def test_a_task_run_eagerly_leaves_its_callers_connection_alone():
    connection.ensure_connection()
    kept = connection.connection
    eager = SimpleNamespace(request=SimpleNamespace(is_eager=True))
    close_database_connections(sender=eager)
    check_database_connections(sender=eager)
    assert connection.connection is kept
