"""``manage.py backtest``: filter profiles judged again over the stored history, before they go live.

For each profile: its alerts a day, by name, and how they went the next day against a baseline
(trades/selectors/backtest.py). Reads only. The history is what was stored; a backfill with a
profile (``manage.py backfill --profiles NAME --redo``) judges the full tape with it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades import presets
from trades.models import FilterProfile
from trades.selectors.backtest import DEFAULT_DAYS, backtest, backtest_lines, last_days, profile_of

PRESET_NAMES = [str(profile["name"]) for profile in [*presets.PROFILES, *presets.ORDER_PROFILES]]


class Command(BaseCommand):
    help = "Backtest filter profiles on the stored history: alerts a day, by name, next-day cohort vs baseline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="profiles to backtest")
        parser.add_argument("--presets", action="store_true", help="every shipped preset profile in the database")
        parser.add_argument(
            "--days",
            type=int,
            default=DEFAULT_DAYS,
            help=f"the last N trading days (weekdays) ending today (default {DEFAULT_DAYS})",
        )
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last day (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        first, last = self.date_range(options["days"], options["first"], options["last"])
        rows = self.profiles(options["names"], options["presets"])
        if not rows:
            self.stdout.write(f"none of the shipped presets ({', '.join(PRESET_NAMES)}) is in the database")
        for row in rows:
            self.stdout.write("\n".join(backtest_lines(backtest(profile_of(row), first, last))) + "\n\n")

    def profiles(self, names: list[str], with_presets: bool) -> list[FilterProfile]:
        if not names and not with_presets:
            raise CommandError(f"name the profiles to backtest, or give --presets; profiles: {self.known()}")
        rows = {row.name: row for row in FilterProfile.objects.select_related("watchlist")}
        unknown = [name for name in names if name not in rows]
        if unknown:
            raise CommandError(f"no profile named {', '.join(unknown)}; profiles: {self.known()}")
        if with_presets:
            names = names + [name for name in PRESET_NAMES if name in rows]
        return [rows[name] for name in dict.fromkeys(names)]

    def known(self) -> str:
        return ", ".join(FilterProfile.objects.values_list("name", flat=True)) or "none"

    def date_range(self, days: int, first: date | None, last: date | None) -> tuple[date, date]:
        if days < 1:
            raise CommandError("--days must be at least 1")
        days_before, last = last_days(days, last)
        first = first or days_before
        if first > last:
            raise CommandError(f"--from {first} is after --to {last}")
        return first, last
