"""``manage.py demo``: the whole pipeline on one machine, honcho-style.

Migrates, makes sure a superuser admin/admin exists, then runs and watches four children:

    feed    manage.py feed        synthetic MAG7 + SPY, QQQ options trades (Polygon protocol)
    worker  celery worker         trades.ingest_batch on queues ingest and default
    stream  manage.py stream      the listener, pointed at the feed
    web     manage.py runserver   the JSON API and the admin

Every line a child prints comes out prefixed with its name. Ctrl-C or SIGTERM stops all
children (SIGTERM, a grace period, then SIGKILL) and exits 0; a child that dies on its own
stops the rest and exits 1. Children inherit the environment plus POLYGON_WS_URL,
POLYGON_API_KEY and PYTHONUNBUFFERED.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades import queues
from trades.presets import PRESET_TICKERS as DEMO_TICKERS
from trades.selectors.health import persistence_warning

FEED_API_KEY = "flowsite-local"
STOP_GRACE_SECONDS = 10.0


@dataclass
class Child:
    """One supervised process: a name for its output prefix and the command to run."""

    name: str
    argv: list[str]
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Starts children, prefixes their output, and stops them all together."""

    def __init__(self, out: TextIO, env: dict[str, str], cwd: Path, grace: float = STOP_GRACE_SECONDS) -> None:
        self.out = out
        self.env = env
        self.cwd = cwd
        self.grace = grace
        self.children: list[Child] = []
        self.stop_requested = threading.Event()
        self.stop_reason = ""
        self._lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    def say(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name:<6} | {line.rstrip()}\n")
            self.out.flush()

    def start(self, child: Child) -> None:
        # Each child leads its own process group: Ctrl-C reaches only the supervisor, which
        # then stops the children itself, and a SIGKILL to the group takes what a child forked.
        child.process = subprocess.Popen(
            child.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            process_group=0,
        )
        self.children.append(child)
        self.say("demo", f"started {child.name} (pid {child.process.pid}): {' '.join(child.argv)}")
        reader = threading.Thread(target=self._pump, args=(child,), daemon=True)
        reader.start()
        self._readers.append(reader)

    def _pump(self, child: Child) -> None:
        assert child.process is not None and child.process.stdout is not None
        for line in child.process.stdout:
            self.say(child.name, line)

    def request_stop(self, reason: str) -> None:
        """Safe in a signal handler: it only sets a flag (say() would take the output lock)."""
        self.stop_reason = reason
        self.stop_requested.set()

    def first_dead(self) -> Child | None:
        return next((child for child in self.children if not child.running), None)

    def check(self) -> int | None:
        """0 if a stop was requested, 1 if a child died, None while all is well."""
        if self.stop_requested.is_set():
            self.say("demo", f"{self.stop_reason or 'stop'} received")
            return 0
        dead = self.first_dead()
        if dead is not None:
            assert dead.process is not None
            self.say("demo", f"{dead.name} exited unexpectedly (exit code {dead.process.returncode})")
            return 1
        return None

    def wait(self, until: float | None = None) -> int:
        """Block until a stop is requested (0), time.monotonic() passes ``until`` (0) or a child dies (1)."""
        while (status := self.check()) is None:
            if until is not None and time.monotonic() >= until:
                self.say("demo", "time is up (--duration)")
                return 0
            self.stop_requested.wait(0.2)
        return status

    def stop_all(self) -> None:
        """SIGTERM each child (not its group: Celery stops its own pool), wait, then SIGKILL the group."""
        running = [child for child in self.children if child.running]
        if running:
            self.say("demo", f"stopping {', '.join(child.name for child in running)}")
        for child in running:
            assert child.process is not None
            child.process.terminate()
        deadline = time.monotonic() + self.grace
        waiting = list(running)
        while waiting and time.monotonic() < deadline:
            time.sleep(0.1)
            for child in [child for child in waiting if not child.running]:
                assert child.process is not None
                self.say("demo", f"{child.name} stopped (exit code {child.process.returncode})")
                waiting.remove(child)
        for child in waiting:
            if child.running:
                assert child.process is not None
                self.say("demo", f"{child.name} did not stop within {self.grace:g}s, killing it")
                with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                    os.killpg(child.process.pid, signal.SIGKILL)
        for child in self.children:
            assert child.process is not None
            child.process.wait()
        for reader in self._readers:
            reader.join(timeout=2)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


class Command(BaseCommand):
    help = "Run feed, worker, stream and web together on this machine (Ctrl-C stops them all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="Port for the web server (default 8000).")
        parser.add_argument("--feed-port", type=int, default=8765, help="Port for the local feed (default 8765).")
        parser.add_argument("--rate", type=int, default=300, help="Synthetic trades per second (default 300).")
        parser.add_argument("--duration", type=float, default=None, help="Stop after this many seconds.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.check_ports(options["port"], options["feed_port"])
        self.prepare_database()
        supervisor = Supervisor(sys.stdout, self.child_env(options["feed_port"]), Path(settings.BASE_DIR))
        self.catch_signals(supervisor)
        try:
            code = self.run_children(supervisor, options)
        finally:
            supervisor.stop_all()
        if code:
            raise CommandError("a child process died; the demo stopped", returncode=code)
        supervisor.say("demo", "stopped")

    def check_ports(self, *ports: int) -> None:
        for port in ports:
            if not port_is_free(port):
                raise CommandError(f"port {port} on 127.0.0.1 is in use: stop what holds it or pick another port")

    def prepare_database(self) -> None:
        database = settings.DATABASES["default"]
        self.stdout.write(f"database: {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}")
        self.stdout.write(f"broker:   {settings.CELERY_BROKER_URL}")
        if warning := persistence_warning():
            self.stdout.write(f"⚠️ broker: {warning} (README, Reliability)")
        call_command("migrate", interactive=False, verbosity=0)
        user_model = get_user_model()
        if user_model.objects.filter(username="admin").exists():
            self.stdout.write("superuser: admin (exists; password unchanged)")
        else:
            user_model.objects.create_superuser("admin", "admin@localhost", "admin")
            self.stdout.write("superuser: admin / admin (created)")

    def child_env(self, feed_port: int) -> dict[str, str]:
        return {
            **os.environ,
            "POLYGON_WS_URL": f"ws://127.0.0.1:{feed_port}",
            "POLYGON_REST_URL": f"http://127.0.0.1:{feed_port}",
            "POLYGON_API_KEY": FEED_API_KEY,
            "PYTHONUNBUFFERED": "1",
        }

    def catch_signals(self, supervisor: Supervisor) -> None:
        def request_stop(signum: int, frame: object) -> None:
            supervisor.request_stop(signal.Signals(signum).name)

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    def run_children(self, supervisor: Supervisor, options: dict[str, Any]) -> int:
        started = time.monotonic()
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        supervisor.start(Child("feed", [*manage, "feed", *self.feed_args(options)]))
        if not self.wait_for_port(supervisor, options["feed_port"]):
            status = supervisor.check()
            return 1 if status is None else status
        supervisor.start(Child("worker", [sys.executable, "-m", "celery", *self.worker_args()]))
        # Contracts, open interest and spot from the feed's REST side, before the first trade;
        # beat keeps them fresh afterwards.
        supervisor.say("demo", "loading reference data from the feed's REST side (refresh_reference)")
        if not self.run_once(supervisor, "refresh", [*manage, "refresh_reference", "--verbosity", "0"]):
            supervisor.say("demo", "going on without it: rules on open interest and strike band will not match")
        supervisor.start(Child("beat", [sys.executable, "-m", "celery", *self.beat_args()]))
        supervisor.start(Child("stream", [*manage, "stream"]))
        supervisor.start(Child("web", [*manage, "runserver", f"127.0.0.1:{options['port']}", "--noreload"]))
        if self.wait_for_port(supervisor, options["port"]):
            self.print_where_to_look(supervisor, options["port"])
        duration = options["duration"]
        return supervisor.wait(until=None if duration is None else started + duration)

    def feed_args(self, options: dict[str, Any]) -> list[str]:
        return [
            "--host", "127.0.0.1",
            "--port", str(options["feed_port"]),
            "--api-key", FEED_API_KEY,
            "--tickers", ",".join(DEMO_TICKERS),
            "--rate", str(options["rate"]),
        ]  # fmt: skip

    def run_once(self, supervisor: Supervisor, name: str, argv: list[str]) -> bool:
        """Run a one-shot command to the end with its output prefixed; True if it succeeded."""
        child = Child(name, argv)
        supervisor.start(child)
        assert child.process is not None
        code = child.process.wait()
        supervisor.children.remove(child)  # done: not one of the long-running children
        if code:
            supervisor.say("demo", f"{name} failed (exit code {code})")
        return code == 0

    def beat_args(self) -> list[str]:
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)  # not there yet on PostgreSQL + Redis
        schedule = Path(settings.VAR_DIR) / "celerybeat-schedule"
        return ["-A", "flowsite", "--quiet", "beat", "-l", "INFO", "--schedule", str(schedule)]

    def worker_args(self) -> list[str]:
        # --quiet: no start-up banner (the demo prints where to look itself).
        args = [
            "-A",
            "flowsite",
            "--quiet",
            "worker",
            "-Q",
            ",".join(queues.QUEUES),
            "--concurrency",
            "1",
            "-l",
            "INFO",
        ]
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            # The filesystem broker has no one to gossip or mingle with, and no heartbeats.
            args += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
        return args

    def wait_for_port(self, supervisor: Supervisor, port: int, timeout: float = 30.0) -> bool:
        """Wait until something answers on the port; False if stopped, a child died or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_answers(port):
                return True
            if supervisor.stop_requested.wait(0.2) or supervisor.first_dead():
                return False
        supervisor.say("demo", f"nothing answers on port {port} after {timeout:g}s")
        return False

    def print_where_to_look(self, supervisor: Supervisor, port: int) -> None:
        base = f"http://127.0.0.1:{port}"
        supervisor.say("demo", f"hits (JSON):  {base}/api/pulse/smart-money")
        supervisor.say("demo", f"admin:        {base}/{settings.ADMIN_URL}  (admin / admin)")
        supervisor.say("demo", "Ctrl-C stops everything")
