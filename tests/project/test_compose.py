"""docker-compose.yml and the Dockerfile, checked without Docker.

Docker is not available where the tests run: these tests read the files and check the
promises the README makes about them. The compose file's schema is checked separately with
check-jsonschema (see README, "Running the full stack"). Needs PyYAML; skipped without it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.core.management import load_command_class

from trades import queues

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = {
    *("migrate", "web", "worker", "webhooks", "closer", "backfill", "beat", "stream", "mcp", "flower", "feed")
}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def test_the_stack_has_every_service(services):
    assert set(services) == {"db", "redis", *APP_SERVICES}


def test_servers_have_health_checks(services):
    assert services["db"]["image"] == "postgres:16"
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert services["redis"]["image"] == "redis:7"
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


@pytest.mark.parametrize("name", ["web", "worker", "webhooks", "closer", "beat", "stream", "mcp"])
def test_app_services_wait_for_healthy_servers_and_migrations(services, name):
    depends = services[name]["depends_on"]
    assert depends["db"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", sorted(APP_SERVICES - {"migrate"}))
def test_every_long_running_service_has_a_health_check(services, name):
    check = services[name]["healthcheck"]
    assert check["test"][0] in {"CMD", "CMD-SHELL"}
    assert {"interval", "timeout", "retries"} <= set(check)


def test_the_health_checks_use_commands_that_exist(services):
    """web and stream run `manage.py health`, whose options parse; the worker pings itself by node name."""
    parser = load_command_class("trades", "health").create_parser("manage.py", "health")
    web = services["web"]["healthcheck"]["test"]
    assert web[1:4] == ["python", "manage.py", "health"]
    assert parser.parse_args(web[4:]).url == "http://127.0.0.1:8000/healthz"
    stream = services["stream"]["healthcheck"]["test"]
    assert stream[1:4] == ["python", "manage.py", "health"]
    assert parser.parse_args(stream[4:]).only == "listener"
    worker = services["worker"]["healthcheck"]["test"]
    assert worker[1].startswith("celery -A flowsite inspect ping --destination celery@$$HOSTNAME")
    closer = services["closer"]
    assert closer["healthcheck"]["test"][1].startswith(
        "celery -A flowsite inspect ping --destination closer@$$HOSTNAME"
    )
    assert "closer@%h" in closer["command"]
    webhooks = services["webhooks"]
    assert webhooks["healthcheck"]["test"][1].startswith(
        "celery -A flowsite inspect ping --destination webhooks@$$HOSTNAME"
    )
    assert "webhooks@%h" in webhooks["command"]
    assert "http://127.0.0.1:5555/healthcheck" in services["flower"]["healthcheck"]["test"][-1]


def test_redis_keeps_queued_work_across_restarts_and_never_evicts_it(services):
    """The persistence the README's reliability section asks for (the chaos suite runs with it)."""
    command = services["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options == {"--appendonly": "yes", "--appendfsync": "everysec", "--maxmemory-policy": "noeviction"}
    assert services["redis"]["volumes"] == ["redisdata:/data"]


def test_flower_waits_for_redis_and_requires_basic_auth(services):
    flower = services["flower"]
    assert flower["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "FLOWER_BASIC_AUTH" in " ".join(flower["command"])
    assert flower["ports"] == ["127.0.0.1:5555:5555"]


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_share_the_image_and_an_optional_env_file(services, name):
    service = services[name]
    assert service["build"] == "."
    assert service["env_file"] == [{"path": ".env", "required": False}]
    assert service["environment"]["CELERY_BROKER_URL"].endswith("redis://redis:6379/0}")


def test_the_workers_consume_every_queue_and_one_solo_process_closes_orders(services):
    """The closer's book lives in one process: the orders queue has its own solo worker. Webhooks
    have their own threads, so an alert never waits behind a batch."""
    consumed = {}
    for name in ("worker", "webhooks", "closer", "backfill"):
        command = services[name]["command"]
        assert command[:4] == ["celery", "-A", "flowsite", "worker"]
        consumed[name] = set(command[command.index("-Q") + 1].split(","))
    assert set().union(*consumed.values()) == set(queues.QUEUES)
    assert consumed["webhooks"] == {queues.WEBHOOKS} and queues.WEBHOOKS not in consumed["worker"]
    webhooks = services["webhooks"]["command"]
    assert webhooks[webhooks.index("-P") + 1] == "threads"
    assert consumed["backfill"] == {queues.BACKFILL} and queues.BACKFILL not in consumed["worker"]
    assert consumed["closer"] == {queues.ORDERS} and queues.ORDERS not in consumed["worker"]
    closer = services["closer"]["command"]
    assert closer[closer.index("-P") + 1] == "solo"


def test_the_local_feed_is_behind_a_profile_and_its_command_line_parses(services):
    feed = services["feed"]
    assert feed["profiles"] == ["local"]
    assert feed["command"][:3] == ["python", "manage.py", "feed"]
    parser = load_command_class("trades", "feed").create_parser("manage.py", "feed")
    options = parser.parse_args(feed["command"][3:])
    assert (options.host, options.port) == ("0.0.0.0", 8765)


def test_the_mcp_server_serves_http_on_its_published_port_and_its_command_line_parses(services):
    mcp = services["mcp"]
    assert mcp["command"][:3] == ["python", "manage.py", "mcp"]
    parser = load_command_class("trades", "mcp").create_parser("manage.py", "mcp")
    options = parser.parse_args(mcp["command"][3:])
    assert (options.http, options.host, options.port) == (True, "0.0.0.0", 8766)
    assert mcp["ports"] == ["127.0.0.1:8766:8766"]


def test_dockerfile_runs_as_a_user_on_python_311_slim():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert "FROM python:3.11-slim" in lines
    assert "RUN pip install -r requirements/base.txt" in lines
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}


def test_dockerfile_collects_static_files_at_build_as_the_user():
    """The production settings use whitenoise's manifest storage: it needs collectstatic."""
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    collect = [line for line in lines if "collectstatic" in line]
    assert len(collect) == 1 and collect[0].startswith("RUN ") and collect[0].endswith("collectstatic --noinput")
    assert lines.index(collect[0]) > lines.index("COPY . .")
    assert lines.index(collect[0]) > lines.index("USER flowsite")  # the files belong to the user who runs
    assert "DEBUG" not in collect[0]  # the production storage, with a throwaway key for this step only


FLOWER_EXEC = "exec celery -A flowsite flower --port=5555"


def run_flower_command(services: dict[str, Any], **env: str) -> subprocess.CompletedProcess[str]:
    """The flower service's shell line, as compose runs it ($$ is a literal $), printing the credentials."""
    command = services["flower"]["command"]
    assert command[:2] == ["sh", "-c"] and FLOWER_EXEC in command[2]
    script = command[2].replace("$$", "$").replace(FLOWER_EXEC, 'printf %s "$FLOWER_BASIC_AUTH"')
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")}
    return subprocess.run(["sh", "-c", script], env=clean | env, capture_output=True, text=True, timeout=10)


def test_flower_passes_the_environment_through_both_variables(services):
    environment = services["flower"]["environment"]
    assert environment["FLOWER_BASIC_AUTH"] == "${FLOWER_BASIC_AUTH:-}"
    assert environment["FLOWER_BASIC_AUTH_FILE"] == "${FLOWER_BASIC_AUTH_FILE:-}"


def test_flower_command_takes_basic_auth_from_the_variable_or_the_file(services, tmp_path):
    assert run_flower_command(services, FLOWER_BASIC_AUTH="a:b").stdout == "a:b"
    secret = tmp_path / "flower_basic_auth"
    secret.write_text("c:d\n")
    assert run_flower_command(services, FLOWER_BASIC_AUTH_FILE=str(secret)).stdout == "c:d"
    # compose passes an unset variable as empty: that is not "both".
    assert run_flower_command(services, FLOWER_BASIC_AUTH="", FLOWER_BASIC_AUTH_FILE=str(secret)).stdout == "c:d"


def test_flower_command_refuses_no_auth_both_or_an_unreadable_file(services, tmp_path):
    secret = tmp_path / "flower_basic_auth"
    secret.write_text("c:d")
    for env in (
        {},
        {"FLOWER_BASIC_AUTH": "", "FLOWER_BASIC_AUTH_FILE": ""},
        {"FLOWER_BASIC_AUTH": "a:b", "FLOWER_BASIC_AUTH_FILE": str(secret)},
        {"FLOWER_BASIC_AUTH_FILE": str(tmp_path / "missing")},
    ):
        result = run_flower_command(services, **env)
        assert result.returncode != 0, env
        assert result.stdout.startswith("set FLOWER_BASIC_AUTH") or "missing" in result.stderr, result


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "var"} <= ignored
