"""``manage.py health``: /healthz's checks for a terminal and for compose's health checks."""

from __future__ import annotations

import socket
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests import processes
from trades.models import StreamStatus

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("health", *args, stdout=out)
    return out.getvalue()


def test_every_check_is_printed_and_a_failing_one_fails_the_command():
    StreamStatus.objects.filter(pk=StreamStatus.SINGLETON_PK).delete()  # no listener has reported
    out = StringIO()
    with pytest.raises(CommandError, match="unhealthy: listener") as failed:
        call_command("health", stdout=out)
    assert failed.value.returncode == 1
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == [
        "database", "broker", "listener", "queues", "orders", "webhooks", "dead_letters", "gaps",
    ]  # fmt: skip
    assert "✘ listener      FAILING" in out.getvalue()
    assert "default 0, ingest 0, orders 0, reference 0, webhooks 0" in out.getvalue()


def test_only_the_listener_heartbeat_for_the_stream_container():
    StreamStatus.objects.update_or_create(pk=StreamStatus.SINGLETON_PK, defaults={"heartbeat_at": timezone.now()})
    assert run("--only", "listener").splitlines() == ["✔ listener      ok"]


def test_an_unknown_check_is_named():
    with pytest.raises(CommandError, match="unknown check heartbeat: choose from database, broker"):
        run("--only", "heartbeat")


def test_the_web_containers_check_asks_the_server(live_server):
    StreamStatus.objects.filter(pk=StreamStatus.SINGLETON_PK).delete()
    # The report says unhealthy (no listener), but the web server answers: its container is healthy.
    assert run("--url", f"{live_server.url}/healthz") == f"{live_server.url}/healthz answers: unhealthy (503)\n"
    with pytest.raises(CommandError, match="answered 200 without a health report"):
        run("--url", f"{live_server.url}/api/pulse/smart-money")


def test_the_web_check_fails_when_nothing_answers():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = subprocess.run(
        [sys.executable, "manage.py", "health", "--url", f"http://127.0.0.1:{port}/healthz"],
        cwd=processes.ROOT,
        env=processes.process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"http://127.0.0.1:{port}/healthz does not answer" in result.stderr
