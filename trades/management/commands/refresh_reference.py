"""``manage.py refresh_reference [--tickers AAPL,SPY] [--only conditions,contracts,open-interest,spot]``

Loads reference data from Polygon's REST API now (beat keeps it fresh afterwards): by default
everything, for the underlyings on enabled profiles' watchlists. Prints a summary table and exits
non-zero, naming the underlying and the reason, if any refresh failed. The spot is read even when
the market is closed (it is then the last price), unlike the beat task.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from trades.services import reference
from trades.services.reference import Progress, RefreshReport, RefreshResult

STEPS = ("conditions", "contracts", "open-interest", "spot")


class Command(BaseCommand):
    help = "Load contracts, open interest, spot, conditions and exchanges from Polygon's REST API."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickers", help="Comma-separated underlyings (default: the watched ones).")
        parser.add_argument(
            "--only", help=f"Comma-separated steps out of {','.join(STEPS)} (default: all, in that order)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        steps = self.parse_steps(options["only"])
        tickers = self.parse_tickers(options["tickers"])
        if not tickers and set(steps) - {"conditions"}:
            self.stdout.write(self.style.WARNING("no underlyings to refresh: no enabled profile watches a ticker"))
        try:
            reports = [self.run_step(step, tickers) for step in steps]
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
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
            return reference.watched_underlyings()
        return list(dict.fromkeys(t.strip().upper() for t in tickers.split(",") if t.strip()))

    def run_step(self, step: str, tickers: list[str]) -> RefreshReport:
        if step == "conditions":
            with self.progress("conditions", 2) as progress:
                return reference.refresh_conditions(progress)
        refresh: Callable[..., RefreshReport] = {
            "contracts": reference.refresh_contracts,
            "open-interest": reference.refresh_open_interest,
            "spot": reference.refresh_spot,
        }[step]
        with self.progress(step, len(tickers)) as progress:
            return refresh(tickers, progress)

    @contextmanager
    def progress(self, step: str, total: int) -> Iterator[Progress]:
        # On a terminal only: a log file or a test gets the summary table alone.
        with tqdm(total=total, desc=step, unit="underlying", file=sys.stderr, disable=None, leave=False) as bar:

            def advance(result: RefreshResult) -> None:
                bar.set_postfix_str(f"{result.name} {'ok' if result.ok else 'FAILED'}")
                bar.update(1)

            yield advance

    def print_summary(self, reports: list[RefreshReport]) -> None:
        rows = [("step", "name", "status", "details")]
        for report in reports:
            for result in report.results:
                status = "ok" if result.ok else "FAILED"
                rows.append((report.kind, result.name, status, result.reason or _counts(result.counts)))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        for index, row in enumerate(rows):
            line = "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
            style = self.style.ERROR if row[2] == "FAILED" else (self.style.MIGRATE_HEADING if index == 0 else str)
            self.stdout.write(style(line.rstrip()))

    def fail_if_any_failed(self, reports: list[RefreshReport]) -> None:
        failed = [f"{report.kind} {result.name}: {result.reason}" for report in reports for result in report.failed]
        if failed:
            raise CommandError("reference refresh failed (the previous data was kept):\n  " + "\n  ".join(failed))
        self.stdout.write(self.style.SUCCESS("reference data refreshed"))


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in counts.items() if value is not None)
