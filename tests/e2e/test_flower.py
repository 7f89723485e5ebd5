"""Flower, for real: a worker and Flower on this run's Redis prefix; read through Flower's HTTP API.

README.md ("Production settings") tells how to start Flower behind basic auth; this is that
command, with a free port, on 127.0.0.1. Flower learns about tasks from the worker's task events
(CELERY_WORKER_SEND_TASK_EVENTS, on by default), so it must be listening before the task runs.

One test runs worker and Flower from a virtualenv holding requirements/base.txt alone, as the
Docker image and a production install do (the test tools in dev.txt once hid a missing package).
"""

from __future__ import annotations

import ast
import base64
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from flowsite.celery import app
from tests import processes
from trades import queues

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

USER, PASSWORD = "u", "p"
T0 = 1764948600000  # 2025-12-05 10:30 New York


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FlowerClient:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, *, auth: bool = True) -> tuple[int, dict[str, str], Any]:
        request = urllib.request.Request(self.base + path)
        if auth:
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return (
                    response.status,
                    {k.lower(): v for k, v in response.headers.items()},
                    json.loads(response.read() or b"null"),
                )
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, None

    def answers(self) -> bool:
        try:
            return self.get("/api/workers")[0] == 200
        except OSError:
            return False  # not listening yet


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[str]:
    """A worker on the ingest queue, ready; yields its log so far."""
    log = tmp_path / "worker.log"
    process = processes.start_worker(log)
    try:
        processes.wait_for(lambda: "ready." in log.read_text(), 60, "the worker to start")
        yield log.read_text()
    finally:
        processes.stop(process)


def start_flower(tmp_path: Path, python: str = sys.executable) -> tuple[subprocess.Popen, FlowerClient]:
    port = free_port()
    args = [python, "-m", "celery", "-A", "flowsite", "flower", f"--port={port}"]
    args += [f"--basic-auth={USER}:{PASSWORD}", "--address=127.0.0.1"]
    log = tmp_path / "flower.log"
    process = processes.start(args, log)
    client = FlowerClient(port)
    processes.wait_for(lambda: client.answers() or process.poll() is not None, 60, "Flower to answer", interval=0.2)
    assert process.poll() is None, log.read_text()
    return process, client


@pytest.fixture
def flower(tmp_path: Path) -> Iterator[FlowerClient]:
    process, client = start_flower(tmp_path)
    try:
        yield client
    finally:
        processes.stop(process)


@pytest.fixture(scope="session")
def base_only_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A virtualenv with requirements/base.txt and nothing else. uv builds it in seconds from its
    cache (pip took half a minute: pyarrow and boto alone unpack to 250 MB)."""
    venv = tmp_path_factory.mktemp("base-venv")
    uv = str(Path(sys.executable).parent / "uv")
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = str(venv / "bin" / "python")
    install = [uv, "pip", "install", "--quiet", "--python", python, "-r", str(processes.ROOT / "requirements/base.txt")]
    result = subprocess.run(install, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return python


def trade(q: int, price: float) -> dict[str, Any]:
    return {"ev": "T", "sym": "O:AAPL251220C00190000", "x": 302, "p": price, "s": 100, "t": T0, "q": q}


def alive_workers(flower: FlowerClient) -> list[str]:
    """The workers in Flower's event state (their heartbeats): Flower is receiving events."""
    status, _, body = flower.get("/api/workers?status=1")
    return [name for name, alive in (body or {}).items() if alive] if status == 200 else []


def test_flower_lists_the_worker_and_the_ingest_task(worker: str, flower: FlowerClient):
    names = processes.wait_for(lambda: alive_workers(flower), 30, "Flower to see the worker's heartbeat")
    assert isinstance(names, list)
    assert len(names) == 1 and names[0].startswith("test-")

    # Listed by /api/workers too (Flower asks the workers over the broker).
    status, _, workers = flower.get("/api/workers?refresh=1")
    assert status == 200
    assert names[0] in workers

    frames = [orjson.dumps([trade(1, 1.5), trade(2, 0.25)]).decode()]
    task_id = app.send_task("trades.ingest_batch", args=[frames], kwargs={"source": "replay"}, queue="ingest").id

    def finished_task() -> dict[str, Any] | None:
        status, _, tasks = flower.get("/api/tasks?taskname=trades.ingest_batch")
        task = (tasks or {}).get(task_id) if status == 200 else None
        return task if task and task.get("state") in {"SUCCESS", "FAILURE"} else None

    task = processes.wait_for(finished_task, 30, "Flower to show the task finished")
    assert isinstance(task, dict)
    assert task["name"] == "trades.ingest_batch"
    assert task["state"] == "SUCCESS", task
    assert task["worker"] == names[0]
    counts = ast.literal_eval(task["result"])  # Flower shows the result's repr
    assert counts["trades"] == 2
    assert counts["rejected"] == 0


def test_flower_refuses_requests_without_the_credentials(flower: FlowerClient):
    for path in ("/api/workers", "/api/tasks", "/"):
        assert flower.get(path, auth=False)[0] == 401, path
    # The web UI asks the browser for the password (Flower's API answers a bare 401).
    assert flower.get("/", auth=False)[1].get("www-authenticate", "").startswith("Basic")
    # Wrong credentials, too.
    request = urllib.request.Request(flower.base + "/api/tasks")
    request.add_header("Authorization", "Basic " + base64.b64encode(b"u:wrong").decode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401


def test_a_base_only_install_runs_a_worker_and_flower_on_redis(tmp_path: Path, base_only_python: str):
    """requirements/base.txt is complete for every role: worker, Flower, the compose health check."""
    log = tmp_path / "worker.log"
    worker = processes.start_worker(log, queues=",".join(queues.QUEUES), python=base_only_python)
    flower_process = None
    try:
        processes.wait_for(lambda: "ready." in log.read_text() or worker.poll() is not None, 60, "the worker")
        assert worker.poll() is None, log.read_text()[-3000:]
        ping = subprocess.run(
            [base_only_python, "-m", "celery", "-A", "flowsite", "inspect", "ping", "--timeout", "10"],
            cwd=processes.ROOT,
            env=processes.process_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ping.returncode == 0 and "pong" in ping.stdout, ping.stdout + ping.stderr
        flower_process, flower = start_flower(tmp_path, python=base_only_python)
        # compose's health check for Flower: /healthcheck answers without the login.
        with urllib.request.urlopen(flower.base + "/healthcheck", timeout=10) as answer:
            assert answer.read() == b"OK"

        # Every queue is declared, so Flower shows each backlog (not only "default").
        status, _, body = flower.get("/api/queues/length")
        assert status == 200
        assert {queue["name"] for queue in body["active_queues"]} == set(queues.QUEUES)

        # Flower receives events once it has seen the worker's heartbeat: only then send the task.
        processes.wait_for(lambda: alive_workers(flower), 30, "Flower to see the worker's heartbeat")
        frames = [orjson.dumps([trade(1, 1.5)]).decode()]
        task_id = app.send_task("trades.ingest_batch", args=[frames], kwargs={"source": "replay"}, queue="ingest").id

        def finished() -> dict[str, Any] | None:
            task = (flower.get("/api/tasks?taskname=trades.ingest_batch")[2] or {}).get(task_id)
            return task if task and task.get("state") in {"SUCCESS", "FAILURE"} else None

        task = processes.wait_for(finished, 30, "Flower to show the task finished")
        assert isinstance(task, dict) and task["state"] == "SUCCESS", task
    finally:
        if flower_process is not None:
            processes.stop(flower_process)
        processes.stop(worker)
