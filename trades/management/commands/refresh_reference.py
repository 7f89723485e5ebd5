"""``manage.py refresh_reference [--tickers AAPL,SPY] [--only conditions,contracts,open-interest,spot]``

Loads reference data from Polygon's REST API now (beat keeps it fresh afterwards): by default
everything, for the underlyings on enabled profiles' watchlists. Prints a summary table and exits
non-zero, naming the underlying and the reason, if any refresh failed. The spot is read even when
the market is closed (it is then the last price), unlike the beat task.

Polygon refusing the key or the plan (401/403) stops the command at once with one line saying
what to do; an API that does not answer is given up on after a few calls (the client's circuit
breaker), so the rest is reported as not tried within seconds. Progress: a bar on a terminal, one
line per underlying otherwise (a log).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from tqdm import tqdm

from trades.polygon_rest.client import GuardedRESTClient, rest_client
from trades.services import reference_data
from trades.services.reference_data import Progress, RefreshReport, RefreshResult

STEPS = ("conditions", "contracts", "open-interest", "spot", "dividends")
PREFIX = "refresh_reference:"
REFRESHES: dict[str, Callable[..., RefreshReport]] = {
    "contracts": reference_data.refresh_contracts,
    "open-interest": reference_data.refresh_open_interest,
    "spot": reference_data.refresh_spot,
    "dividends": reference_data.refresh_dividends,
}


class Command(BaseCommand):
    help = "Load contracts, open interest, spot, conditions and exchanges from Polygon's REST API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickers", help="Comma-separated underlyings (default: the watched ones).")
        parser.add_argument(
            "--only", help=f"Comma-separated steps out of {','.join(STEPS)} (default: all, in that order)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.quiet = options["verbosity"] == 0  # -v 0: no progress, no table; failures and the last line only
        steps = self.parse_steps(options["only"])
        tickers = self.parse_tickers(options["tickers"])
        if not tickers and set(steps) - {"conditions"}:
            self.stdout.write(self.style.WARNING("no underlyings to refresh: no enabled profile watches a ticker"))
        try:
            client = rest_client()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        reports: list[RefreshReport] = []
        for step in steps:
            report = self.run_step(step, tickers, client)
            if report.access_refused:  # every other call would be refused alike
                self.print_summary(reports)
                raise CommandError(f"{report.access_refused}; stopped at {step}, nothing else was tried")
            reports.append(report)
        self.print_summary(reports)
        self.fail_if_any_failed(reports)

    def parse_steps(self, only: str | None) -> list[str]:
        if not only:
            return list(STEPS)
        wanted = {step.strip() for step in only.split(",") if step.strip()}
        unknown = wanted - set(STEPS)
        if unknown:
            raise CommandError(f"unknown step(s) {', '.join(sorted(unknown))}; choose from {', '.join(STEPS)}")
        return [step for step in STEPS if step in wanted]

    def parse_tickers(self, tickers: str | None) -> list[str]:
        if tickers is None:
            return reference_data.watched_underlyings()
        return list(dict.fromkeys(t.strip().upper() for t in tickers.split(",") if t.strip()))

    def run_step(self, step: str, tickers: list[str], client: GuardedRESTClient) -> RefreshReport:
        with self.progress(step, 2 if step == "conditions" else len(tickers)) as progress:
            if step == "conditions":
                report = reference_data.refresh_conditions(progress, client)
            else:
                report = REFRESHES[step](tickers, progress, client)
        if report.not_tried and not report.access_refused and not self.stdout.isatty() and not self.quiet:
            self.stdout.write(f"{PREFIX} {step}: {len(report.not_tried)} {report.not_tried[0].reason}")
        return report

    @contextmanager
    def progress(self, step: str, total: int) -> Iterator[Progress | None]:
        if self.quiet:
            yield None
            return
        if not self.stdout.isatty():  # a log or a test: a bar would be noise there
            yield ProgressLines(self.stdout, step, total)
            return
        with tqdm(total=total, desc=step, unit="underlying", file=sys.stderr, disable=None, leave=False) as bar:

            def advance(result: RefreshResult) -> None:
                bar.set_postfix_str(f"{result.name} {'ok' if result.ok else 'FAILED'}")
                bar.update(1)

            yield advance

    def print_summary(self, reports: list[RefreshReport]) -> None:
        rows = [row for report in reports for row in _summary_rows(report)]
        if not rows or self.quiet:
            return
        rows.insert(0, ("step", "name", "status", "details"))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        for index, row in enumerate(rows):
            line = "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
            style = self.style.ERROR if row[2] == "FAILED" else (self.style.MIGRATE_HEADING if index == 0 else str)
            self.stdout.write(style(line.rstrip()))

    def fail_if_any_failed(self, reports: list[RefreshReport]) -> None:
        failed = [
            f"{report.kind} {result.name}: {result.reason}"
            for report in reports
            for result in report.failed
            if result.tried
        ]
        not_tried = [result for report in reports for result in report.not_tried]
        if not_tried:
            failed.append(f"{len(not_tried)} more {not_tried[-1].reason}")
        if failed:
            raise CommandError("reference refresh failed (the previous data was kept):\n  " + "\n  ".join(failed))
        self.stdout.write(self.style.SUCCESS("reference data refreshed"))


class ProgressLines:
    """One line per name refreshed, e.g. "refresh_reference: contracts 3/10 AAPL ok 1.2 s"."""

    def __init__(self, out: OutputWrapper, step: str, total: int) -> None:
        self.out = out
        self.step = step
        self.total = total
        self.done = 0
        self.since = time.monotonic()

    def __call__(self, result: RefreshResult) -> None:
        now = time.monotonic()
        self.done += 1
        status = "ok" if result.ok else f"FAILED: {result.reason}"
        self.out.write(f"{PREFIX} {self.step} {self.done}/{self.total} {result.name} {status} {now - self.since:.1f} s")
        self.since = now


def _summary_rows(report: RefreshReport) -> Iterator[tuple[str, str, str, str]]:
    for result in report.results:
        if result.tried:
            status = "ok" if result.ok else "FAILED"
            yield report.kind, result.name, status, result.reason or reference_data.describe_counts(result.counts)
    if report.not_tried:  # one row for them all: they share their reason
        names = " ".join(result.name for result in report.not_tried)
        yield report.kind, "-", "skipped", f"{names} ({report.not_tried[0].reason})"
