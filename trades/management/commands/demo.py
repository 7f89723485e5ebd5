"""``manage.py demo``: the whole pipeline on one machine, honcho-style.

Migrates, makes sure a superuser admin/admin exists, backfills the feed's last few trading days
(``manage.py backfill``, from its flat files), then runs and watches five children:

    feed    manage.py feed        synthetic MAG7 + SPY, QQQ options trades (Polygon protocol)
    worker  celery worker         every queue (trades/queues.py): batches, orders, reference, webhooks
    beat    celery beat           the order-closing tick, reference refreshes, webhook and gap sweeps
    stream  manage.py stream      the listener, pointed at the feed
    web     manage.py runserver   the flow board, the JSON API and the admin

Every line a child prints comes out prefixed with its name. Ctrl-C or SIGTERM stops all
children (SIGTERM, a grace period, then SIGKILL) and exits 0; a child that dies on its own
stops the rest and exits 1. Children inherit the environment plus the feed's addresses and key
(POLYGON_WS_URL, POLYGON_REST_URL, POLYGON_API_KEY, POLYGON_FLATFILES_*) and PYTHONUNBUFFERED.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades import queues
from trades.ops.supervisor import Child, Supervisor, port_answers, port_is_free
from trades.presets import PRESET_TICKERS as DEMO_TICKERS
from trades.selectors.health import persistence_warning
from trades.services import day_volume

FEED_API_KEY = "flowsite-local"
HISTORY_DAYS = 10  # backfilled at start: enough for what is usual at a strike, and for "last time"


class Command(BaseCommand):
    help = "Run feed, worker, stream and web together on this machine (Ctrl-C stops them all)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="Port for the web server (default 8000).")
        parser.add_argument("--feed-port", type=int, default=8765, help="Port for the local feed (default 8765).")
        parser.add_argument("--rate", type=int, default=300, help="Synthetic trades per second (default 300).")
        parser.add_argument("--duration", type=float, default=None, help="Stop after this many seconds.")
        parser.add_argument(
            "--history-days",
            type=int,
            default=HISTORY_DAYS,
            help=f"Past trading days backfilled from the feed's flat files at start (default {HISTORY_DAYS}; 0: none).",
        )

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
            "POLYGON_FLATFILES_URL": f"http://127.0.0.1:{feed_port}",
            "POLYGON_FLATFILES_KEY_ID": FEED_API_KEY,
            "POLYGON_FLATFILES_SECRET": "local",
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
        # History to stand on: the feed's last few trading days, from its flat files (a second run
        # skips the days done), then what the stock did next for their orders.
        if days := options["history_days"]:
            supervisor.say("demo", f"backfilling the last {days} trading days from the feed's flat files")
            backfill = [*manage, "backfill", "--days", str(days), "--source", "flatfiles", "--in-process"]
            if not self.run_once(supervisor, "backfill", backfill):
                supervisor.say("demo", "going on without history")
        # The feed trades around the clock: in the evening or at a weekend, without this, the day's
        # volume (a session's chain snapshot) is unknown, so no order is known to open a position.
        if day_volume.count_whole_day_outside_session():
            supervisor.say("demo", "outside the session: today's volume is counted from the feed's first trade")
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
        supervisor.say("demo", f"flow board:   {base}/board/  (sign in as admin / admin)")
        supervisor.say("demo", f"admin:        {base}/{settings.ADMIN_URL}  (admin / admin)")
        supervisor.say("demo", "Ctrl-C stops everything")
