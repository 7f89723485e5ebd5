"""docker-compose.yml and the Dockerfile, checked without Docker.

Docker is not available where the tests run: these tests read the files and check the
promises the README makes about them. The compose file's schema is checked separately with
check-jsonschema (see README, "Running the full stack"). Needs PyYAML; skipped without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.management import load_command_class

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"migrate", "web", "worker", "beat", "stream", "flower", "feed"}


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


@pytest.mark.parametrize("name", ["web", "worker", "beat", "stream"])
def test_app_services_wait_for_healthy_servers_and_migrations(services, name):
    depends = services[name]["depends_on"]
    assert depends["db"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


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


def test_worker_consumes_every_queue(services):
    command = services["worker"]["command"]
    assert command[:4] == ["celery", "-A", "flowsite", "worker"]
    assert command[command.index("-Q") + 1] == "ingest,reference,webhooks,default"


def test_the_local_feed_is_behind_a_profile_and_its_command_line_parses(services):
    feed = services["feed"]
    assert feed["profiles"] == ["local"]
    assert feed["command"][:3] == ["python", "manage.py", "feed"]
    parser = load_command_class("trades", "feed").create_parser("manage.py", "feed")
    options = parser.parse_args(feed["command"][3:])
    assert (options.host, options.port) == ("0.0.0.0", 8765)


def test_dockerfile_runs_as_a_user_on_python_311_slim():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert "FROM python:3.11-slim" in lines
    assert "RUN pip install -r requirements/base.txt" in lines
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "var"} <= ignored
