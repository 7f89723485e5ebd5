"""Test bootstrap: real PostgreSQL and Redis, isolated per run.

Every run gets its own database (test_flowsite_<run id>, created and dropped by
pytest-django) and its own Redis key prefix, so concurrent runs never collide.
Override the servers with TEST_DATABASE_URL and TEST_REDIS_URL.
"""

import os
import uuid

RUN_ID = uuid.uuid4().hex[:8]
os.environ["FLOWSITE_TESTING"] = "1"
os.environ["DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/flowsite")
os.environ["FLOWSITE_TEST_DB_NAME"] = f"test_flowsite_{RUN_ID}"
os.environ["CELERY_BROKER_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["CELERY_KEY_PREFIX"] = f"flowsite-test-{RUN_ID}:"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")


def pytest_sessionfinish(session, exitstatus):
    """Remove this run's Redis keys (queues, the listener lock); the database is dropped by pytest-django."""
    import redis

    client = redis.Redis.from_url(os.environ["CELERY_BROKER_URL"])
    try:
        keys = list(client.scan_iter(match=f"{os.environ['CELERY_KEY_PREFIX']}*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass  # the broker being down is reported by the tests themselves
