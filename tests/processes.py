"""Real flowsite processes for the end-to-end tests: a Celery worker and `manage.py stream`.

They run against this test run's own PostgreSQL database and Redis key prefix (see
tests/bootstrap.py), so they see what the test wrote and nothing of other runs.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import environ
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def process_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: the test database by name, the run's Redis prefix."""
    database = environ.Env.db_url_config(os.environ["DATABASE_URL"])
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{connection.settings_dict['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1", **extra}


def start(args: list[str], log: Path, **env: str) -> subprocess.Popen:
    """Start a child in its own process group, so a test can SIGKILL the worker and its pool."""
    handle = log.open("wb")
    return subprocess.Popen(
        args, cwd=ROOT, env=process_env(**env), stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def start_worker(
    log: Path,
    *,
    queues: str = "ingest",
    env: dict[str, str] | None = None,
    beat: bool = False,
    concurrency: int = 1,
    app: str = "flowsite",
    python: str = sys.executable,
) -> subprocess.Popen:
    """One worker process (concurrency 1) on the run's broker; redelivery sweeps every second.

    beat: also run Celery beat inside it (the webhook sweeper and the reference refreshes).
    app: the Celery app module (tests/faulty_app.py injects faults into real workers).
    python: the interpreter (tests/e2e/test_flower.py runs one with only requirements/base.txt installed).
    """
    args = [python, "-m", "celery", "-A", app, "worker", "-Q", queues, "-c", str(concurrency)]
    args += ["-l", "INFO", "--without-mingle", "--without-gossip", "-n", f"test-{os.getpid()}-{time.monotonic_ns()}@%h"]
    if beat:
        args += ["-B", "-s", str(log.with_suffix(".beat-schedule"))]
    # LOG_TASKS: the tests read "[id] received" and "succeeded" from the log.
    return start(args, log, **{"CELERY_UNACKED_RESTORE_INTERVAL": "1", "LOG_TASKS": "1", **(env or {})})


def manage(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *args]


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
    """Signal the whole process group; wait; SIGKILL if it lingers. Returns the exit code."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def eventually(condition: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    """Wait until the condition holds, or the time is up; the caller asserts, with its own diff."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def ingest_queue_idle() -> bool:
    """No message waiting in `ingest` and none delivered but unacknowledged."""
    return broker().llen(f"{_key_prefix()}ingest") == 0 and nothing_unacknowledged()


def nothing_unacknowledged() -> bool:
    """No message delivered to a worker and not acknowledged (a killed worker's come back first)."""
    return broker().hlen(f"{_key_prefix()}unacked") == 0


def _key_prefix() -> str:
    return str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", ""))


def feed_startup_line(process: subprocess.Popen[str], timeout: float = 10.0) -> str:
    """The command's startup line (read in a thread, so a silent command cannot hang the test)."""
    lines: queue.Queue[str] = queue.Queue()

    def read_lines() -> None:
        for line in process.stderr or ():
            lines.put(line)

    threading.Thread(target=read_lines, daemon=True).start()
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if "POLYGON_REST_URL=" in line:
            return line
    raise AssertionError("the feed command never logged its startup line")
