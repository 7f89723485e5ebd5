"""Health checks for load balancers and monitors: database, broker, listener, queues, orders, webhooks.

Each check returns its own findings plus `ok`; the report is unhealthy if any check is not ok.
Every check is bounded in time: Redis calls carry socket timeouts, database queries a
statement timeout (PostgreSQL), and a check that raises is reported as failed, never raised.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from trades import queues
from trades.models import (
    DeliveryStatus,
    EndpointHealth,
    GapStatus,
    PrintBatch,
    StreamGap,
    StreamStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from trades.services import dead_letters

logger = logging.getLogger(__name__)

Check = dict[str, Any]


@dataclass
class HealthReport:
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return all(check["ok"] for check in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.healthy else "unhealthy", "checks": self.checks}


def _checks() -> dict[str, Callable[[], Check]]:
    return {
        "database": check_database,
        "broker": check_broker,
        "listener": check_listener,
        "queues": check_queues,
        "orders": check_orders,
        "webhooks": check_webhooks,
        "dead_letters": check_dead_letters,
        "gaps": check_gaps,
    }


def check_names() -> list[str]:
    return list(_checks())


def check_health(only: Iterable[str] | None = None) -> HealthReport:
    """Every check, or those named in ``only`` (see check_names)."""
    report = HealthReport()
    checks = _checks()
    for name in checks if only is None else only:
        check = checks[name]
        started = time.monotonic()
        try:
            result = check()
        except Exception as exc:
            logger.warning("Health check %s failed: %s: %s", name, type(exc).__name__, exc)
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        result["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        report.checks[name] = result
    return report


# --- database -------------------------------------------------------------------------------


def _timeout_seconds() -> float:
    return float(settings.HEALTH_CHECK_TIMEOUT_SECONDS)


def _bounded_query(sql: str, params: list[Any] | None = None) -> Any:
    """One row of a query, given at most HEALTH_CHECK_TIMEOUT_SECONDS on PostgreSQL."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL statement_timeout = %s", [int(_timeout_seconds() * 1000)])
        cursor.execute(sql, params or [])
        return cursor.fetchone()


def _bounded(query: Callable[[], Any]) -> Any:
    """Run an ORM query under the statement timeout (PostgreSQL)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [int(_timeout_seconds() * 1000)])
        return query()


def check_database() -> Check:
    row = _bounded_query("SELECT 1")
    return {"ok": row == (1,)}


# --- broker and queues ------------------------------------------------------------------------


def broker_url() -> str:
    return str(settings.HEALTH_BROKER_URL)


def _redis() -> redis.Redis:
    timeout = _timeout_seconds()
    return redis.Redis.from_url(broker_url(), socket_timeout=timeout, socket_connect_timeout=timeout)


def _filesystem_folder() -> Path:
    return Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))


def _is_filesystem() -> bool:
    return broker_url().startswith("filesystem://")


def check_broker() -> Check:
    if _is_filesystem():
        folder = _filesystem_folder()
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".healthz-", suffix=".tmp"):
            pass  # created and removed: the folder is writable
        return {"ok": True, "transport": "filesystem", "folder": str(folder)}
    client = _redis()
    try:
        result: Check = {"ok": bool(client.ping()), "transport": "redis"}
        if warning := persistence_warning(client):
            result["warning"] = warning  # worth knowing, not a reason to take the web out of service
        return result
    finally:
        client.close()


def persistence_warning(client: redis.Redis | None = None) -> str:
    """What a restart or a full Redis could cost, or "" when it keeps and never evicts queued work.

    The README's reliability section explains the settings: appendonly yes, maxmemory-policy noeviction.
    """
    if _is_filesystem():
        return ""
    own = client is None
    client = client or _redis()
    try:
        settings_now = {**client.config_get("appendonly"), **client.config_get("maxmemory-policy")}
    except redis.RedisError as exc:
        return f"could not read the broker's persistence settings ({exc})"
    finally:
        if own:
            client.close()
    problems = []
    if settings_now.get("appendonly") != "yes":
        problems.append("appendonly is off: a Redis restart loses every queued and unfinished batch")
    if settings_now.get("maxmemory-policy") != "noeviction":
        policy = settings_now.get("maxmemory-policy")
        problems.append(f"maxmemory-policy is {policy}: a full Redis may evict queued batches")
    return "; ".join(problems)


def queue_depths() -> dict[str, int]:
    """Each declared queue's backlog (trades/queues.py)."""

    if _is_filesystem():
        files = [path.name for path in _filesystem_folder().iterdir()]
        return {queue: sum(file.endswith(f".{queue}.msg") for file in files) for queue in queues.QUEUES}
    client = _redis()
    try:
        pipe = client.pipeline(transaction=False)
        for queue in queues.QUEUES:
            pipe.llen(f"{settings.REDIS_KEY_PREFIX}{queue}")
        return dict(zip(queues.QUEUES, (int(depth) for depth in pipe.execute()), strict=True))
    finally:
        client.close()


def check_queues() -> Check:
    limit = int(settings.HEALTH_QUEUE_MAX)
    depths = queue_depths()
    over = sorted(queue for queue, depth in depths.items() if depth > limit)
    result: Check = {"ok": not over, **depths, "max": limit}
    if over:
        result["error"] = f"queue over {limit}: {', '.join(over)}"
    return result


def check_orders() -> Check:
    """The order closer takes the logged batches every tick: one waiting long means none runs."""
    limit = float(settings.HEALTH_ORDERS_MAX_AGE_SECONDS)
    age = age_seconds(_bounded(oldest_waiting_batch))
    result: Check = {"ok": age is None or age <= limit, "oldest_waiting_batch_age_seconds": age}
    result["max_age_seconds"] = limit
    if not result["ok"]:
        result["error"] = (
            f"kept prints have waited {age} s for the order closer (over {limit:g} s): "
            "is a worker on the orders queue running, and beat?"
        )
    return result


def oldest_waiting_batch() -> datetime | None:
    oldest: datetime | None = PrintBatch.objects.filter(consumed=False).aggregate(oldest=Min("received_at"))["oldest"]
    return oldest


# --- the listener and the webhooks -------------------------------------------------------------


def age_seconds(moment: datetime | None, now: datetime | None = None) -> float | None:
    if moment is None:
        return None
    return round(max(((now or timezone.now()) - moment).total_seconds(), 0.0), 1)


def listener_is_stale(status: StreamStatus, now: datetime | None = None) -> bool:
    age = age_seconds(status.heartbeat_at, now)
    return age is None or age > float(settings.HEALTH_LISTENER_MAX_AGE_SECONDS)


def check_listener() -> Check:
    status = _bounded(lambda: StreamStatus.objects.filter(pk=StreamStatus.SINGLETON_PK).first())
    limit = float(settings.HEALTH_LISTENER_MAX_AGE_SECONDS)
    if status is None:
        return {
            "ok": False,
            "heartbeat_age_seconds": None,
            "connected": False,
            "max_age_seconds": limit,
            "error": "no listener has reported",
        }
    age = age_seconds(status.heartbeat_at)
    down = None if status.connected else age_seconds(status.disconnected_since)
    down_limit = float(settings.HEALTH_LISTENER_DISCONNECTED_MAX_SECONDS)
    result: Check = {
        "ok": True,
        "heartbeat_age_seconds": age,
        "connected": status.connected,
        "max_age_seconds": limit,
        "disconnected_seconds": down,
    }
    if listener_is_stale(status):
        result.update(ok=False, error=f"the listener's heartbeat is {age} s old (over {limit:g} s)")
    elif down is not None and down > down_limit:
        outage = f": {status.outage}" if status.outage else ""
        result.update(
            ok=False, error=f"the listener has not been connected for {down:.0f} s (over {down_limit:g} s){outage}"
        )
    return result


def oldest_undelivered() -> datetime | None:
    waiting = WebhookDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
    oldest: datetime | None = waiting.aggregate(oldest=Min("created_at"))["oldest"]
    return oldest


def failing_endpoints() -> list[WebhookEndpoint]:
    return [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(active=True)
        if endpoint.health is EndpointHealth.FAILING
    ]


def check_webhooks() -> Check:
    limit = float(settings.HEALTH_WEBHOOK_MAX_AGE_SECONDS)
    age = age_seconds(_bounded(oldest_undelivered))
    result: Check = {"ok": age is None or age <= limit, "oldest_undelivered_age_seconds": age, "max_age_seconds": limit}
    if not result["ok"]:
        result["error"] = f"a webhook delivery has waited {age} s (over {limit:g} s)"
    # A failing receiver is its owner's problem, not a reason to take the web out of service: a warning.
    if failing := _bounded(failing_endpoints):
        result["failing_endpoints"] = [_failing(endpoint) for endpoint in failing]
        result["warning"] = f"webhook endpoints failing: {', '.join(endpoint.name for endpoint in failing)}"
    return result


def _failing(endpoint: WebhookEndpoint) -> Check:
    since = endpoint.failing_since.isoformat() if endpoint.failing_since else None
    return {
        "name": endpoint.name,
        "failing_since": since,
        "consecutive_failures": endpoint.consecutive_failures,
        "last_error": endpoint.last_error,
    }


# --- what is kept for later: dead letters and unfilled gaps ------------------------------------


def check_dead_letters() -> Check:
    limit = int(settings.HEALTH_DEAD_LETTERS_MAX)
    waiting = _bounded(dead_letters.waiting_count)
    result: Check = {"ok": waiting <= limit, "waiting": waiting, "max": limit}
    if not result["ok"]:
        result["error"] = f"{waiting} batches failed after their retries: replay them (manage.py deadletters)"
    return result


def check_gaps() -> Check:
    failed = _bounded(lambda: StreamGap.objects.filter(status=GapStatus.FAILED).count())
    result: Check = {"ok": failed == 0, "failed": failed}
    if failed:
        result["error"] = f"{failed} gaps in the stream could not be filled over REST: fill them again from admin"
    return result
