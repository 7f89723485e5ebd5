"""`manage.py bench`: trades per second through the real pipeline, printed (never asserted)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from celery import current_app as app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from trades.ops import api_bench, backfill_bench, benchmark, latency_bench, soak_bench


class Command(BaseCommand):
    help = "Replay synthetic trades through feed → listener → Redis → worker → PostgreSQL and print the rates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trades", type=int, default=1_000_000)
        parser.add_argument("--workers", type=int, default=2, help="Worker pool processes (the machine has 2 cores).")
        parser.add_argument("--pool", choices=["prefork", "solo"], default="prefork", help="Celery worker pool.")
        parser.add_argument(
            "--without-orders", action="store_true", help="Disable the profiles that judge orders (no grouping)."
        )
        parser.add_argument(
            "--backfill",
            action="store_true",
            help="Measure the backfill instead: MAG7 from the local feed's history, over REST and from flat files.",
        )
        parser.add_argument(
            "--api", action="store_true", help="Measure the API instead: its query mix on --hits stored order hits."
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="Everything, one after the other: throughput with 1 and 2 worker processes, latency, soak "
            "(make bench's default; about 20 minutes).",
        )
        parser.add_argument(
            "--latency",
            action="store_true",
            help="Measure latency instead: a steady feed, each hit's print → stored → webhook received.",
        )
        parser.add_argument(
            "--rates", default="1000,20000", help="--latency: trades per second to play, comma-separated"
        )
        parser.add_argument("--seconds", type=float, default=60.0, help="--latency: how long to play each rate")
        parser.add_argument(
            "--soak",
            type=int,
            metavar="TRADES",
            help="Measure memory instead: this many trades (e.g. 10000000) through listener, worker and closer.",
        )
        parser.add_argument("--soak-rate", type=float, default=40_000.0, help="--soak: trades per second")
        parser.add_argument("--hits", type=int, default=1_000_000, help="--api: stored order hits")
        parser.add_argument("--days", type=int, default=10, help="--backfill: trading days of history")
        parser.add_argument(
            "--history-prints", type=int, default=20_000, help="--backfill: prints a day over the feed's underlyings"
        )
        parser.add_argument(
            "--sources", default="rest,flatfiles", help="--backfill: which to measure, comma-separated (rest,flatfiles)"
        )
        parser.add_argument(
            "--agree",
            action="store_true",
            help="--backfill: stream every day through the live path too and compare with the backfill",
        )
        parser.add_argument(
            "--rounds",
            type=int,
            default=1,
            help="Run it this many times, each on a new database, and print the median ratio "
            "(on a shared machine one run's two timings can see different loads).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.require_real_services()
        if options["api"]:
            with self.bench_database():
                api_bench.run(options["hits"], self.stdout.write)
            return
        if options["all"]:
            self.run_all(options)
            return
        if options["soak"]:
            self.run_soak(options["soak"], options["soak_rate"])
            return
        if options["latency"]:
            self.run_latency(options["rates"], options["seconds"])
            return
        if options["backfill"]:
            with self.bench_database():
                sources = [source for source in options["sources"].split(",") if source]
                for line in backfill_bench.run(options["days"], options["history_prints"], sources, options["agree"]):
                    self.stdout.write(line)
            return
        results = []
        for round_number in range(1, options["rounds"] + 1):
            if options["rounds"] > 1:
                self.stdout.write(f"Round {round_number} of {options['rounds']}")
            results.append(self.run_once(options))
            for line in results[-1].lines():
                self.stdout.write(line)
        if len(results) > 1:
            for line in benchmark.summary(results):
                self.stdout.write(line)

    def run_all(self, options: dict[str, Any]) -> None:
        """Everything the README quotes, in one run: throughput with one and two worker processes,
        latency at each rate, and the soak's memory."""
        results = {}
        for workers in (1, 2):
            self.stdout.write(f"Throughput with {workers} worker process(es)")
            results[workers] = self.run_once({**options, "workers": workers})
            for line in results[workers].lines():
                self.stdout.write(line)
        for line in benchmark.workers_table(results):
            self.stdout.write(line)
        self.run_latency(options["rates"], options["seconds"])
        self.run_soak(options["soak"] or 10_000_000, options["soak_rate"])

    def run_latency(self, rates: str, seconds: float) -> None:
        for rate in [int(rate) for rate in rates.split(",") if rate]:
            with self.measurement() as (env, logs):
                lines = latency_bench.run(app, rate, seconds, env, logs)
            for line in lines:
                self.stdout.write(line)

    def run_soak(self, trades: int, rate: float) -> None:
        with self.measurement() as (env, logs):
            lines = soak_bench.run(app, trades, rate, env, logs)
        for line in lines:
            self.stdout.write(line)

    def run_once(self, options: dict[str, Any]) -> benchmark.Result:
        with self.measurement() as (env, logs):
            return benchmark.run(
                app,
                options["trades"],
                options["workers"],
                options["pool"],
                env,
                logs,
                orders_on=not options["without_orders"],
            )

    @contextmanager
    def measurement(self) -> Iterator[tuple[dict[str, str], Path]]:
        """A new database and a folder for the children's logs, both gone afterwards: the children's
        environment, pointing at that database, and the folder."""
        with self.bench_database() as name, tempfile.TemporaryDirectory(prefix="flowsite-bench-") as logs:
            yield self.child_env(name), Path(logs)

    @contextmanager
    def bench_database(self) -> Iterator[str]:
        """A new database for one measurement (migrated, dropped afterwards), and the broker's keys gone after."""
        original_name = connection.settings_dict["NAME"]
        bench_name = f"flowsite_bench_{uuid.uuid4().hex[:8]}"
        settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = bench_name
        self.stdout.write(f"Creating database {bench_name} (dropped afterwards) …")
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            yield bench_name
        finally:
            connection.creation.destroy_test_db(original_name, verbosity=0)
            self.forget_broker_keys()

    def require_real_services(self) -> None:
        if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
            raise CommandError(
                "the benchmark runs on PostgreSQL and Redis: set DATABASE_URL and CELERY_BROKER_URL (make bench does)"
            )

    def child_env(self, database: str) -> dict[str, str]:
        db = connection.settings_dict
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database}"
        return {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}

    def forget_broker_keys(self) -> None:
        prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix")
        if prefix:
            client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
