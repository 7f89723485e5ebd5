"""``manage.py backfill``: judge past trading days by the same rules as live, over Polygon's REST API.

Plans the units (one per underlying and trading day), records them in the checkpoint table, queues
them on the ``backfill`` queue (run ``celery -A flowsite worker -Q backfill``; more workers backfill
faster) and follows them with a progress bar until they are done. Run again, or after it was
interrupted, it does only what is left.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, Q, Sum
from tqdm import tqdm

from trades.models import BackfillSource, BackfillUnit, UnitStatus
from trades.polygon_rest import flatfiles
from trades.selectors.flow_rules import current_flow_rules
from trades.selectors.insights import latest_insights
from trades.services import backfill
from trades.services.reference_data import watched_underlyings
from trades.services.watchlists import TickerError, parse_tickers

FINISHED = (UnitStatus.DONE, UnitStatus.FAILED, UnitStatus.NOT_ENTITLED)
POLL_SECONDS = 1.0


def ticker_list(text: str) -> list[str]:
    try:
        return parse_tickers(text)
    except TickerError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def name_list(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


EXAMPLES = 3  # insight sentences shown at the end of a run


class Command(BaseCommand):
    help = "Backfill past trading days: every print and order judged by the profiles, stored as source=backfill."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=90, help="the last N trading days before today (default 90)")
        parser.add_argument("--from", dest="first", type=date.fromisoformat, help="first day (YYYY-MM-DD)")
        parser.add_argument("--to", dest="last", type=date.fromisoformat, help="last day (default: yesterday)")
        parser.add_argument("--tickers", type=ticker_list, help="underlyings (default: those the profiles watch)")
        parser.add_argument(
            "--profiles", type=name_list, default=[], help="judge by these enabled profiles only (default: all)"
        )
        parser.add_argument("--source", choices=BackfillSource.values, default=BackfillSource.REST)
        parser.add_argument(
            "--redo", action="store_true", help="judge the days again though done (after editing a profile)"
        )
        parser.add_argument("--dry-run", action="store_true", help="print the plan and its REST calls, do nothing")
        parser.add_argument("--in-process", action="store_true", help="run the units here, one after another")
        parser.add_argument("--no-follow", action="store_true", help="queue the units and return")

    def handle(self, *args: Any, **options: Any) -> None:
        tickers = options["tickers"] or watched_underlyings()
        client = backfill.backfill_client()
        try:
            plan = backfill.plan(
                client,
                tickers,
                days=None if options["first"] else options["days"],
                first=options["first"],
                last=options["last"],
                source=options["source"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        plan.profiles = self.profiles(options["profiles"])
        if options["dry_run"]:
            self.print_plan(backfill.estimate_calls(client, plan))
            return
        self.print_plan(plan)
        unit_ids = backfill.record(plan, self.published(plan), redo=options["redo"])
        backfill.load_dividends(client, plan)
        underlyings = {ticker for ticker, _ in plan.units}
        all_ids = list(
            BackfillUnit.objects.filter(source=plan.source, underlying__in=underlyings, day__in=plan.days).values_list(
                "pk", flat=True
            )
        )
        self.stdout.write(f"{len(all_ids) - len(unit_ids)} units done before; {len(unit_ids)} to do")
        started = time.monotonic()
        if options["in_process"]:
            for unit_id in tqdm(unit_ids, desc="backfill", unit="unit"):
                try:
                    backfill.run_unit(unit_id, client)
                except Exception as exc:  # kept for the next run, as a worker's final failure is
                    backfill.note_failed(unit_id, f"{type(exc).__name__}: {exc}")
        else:
            backfill.queue(unit_ids)
            if options["no_follow"]:
                self.stdout.write("queued on the backfill queue; follow them in admin (Backfill units)")
                return
            self.follow(unit_ids)
        self.print_totals(all_ids, unit_ids, time.monotonic() - started)
        measured, described = backfill.finish(client)
        self.stdout.write(
            f"outcomes: {measured.measured:,} orders with a direction measured ({measured.complete:,} complete, the "
            f"rest waiting for their sessions' closes), {measured.bars:,} day bars read"
        )
        self.stdout.write(f"insights: {described:,} orders described; the newest:")
        for sentence in latest_insights(EXAMPLES):
            self.stdout.write(f"  {sentence}")

    def profiles(self, names: list[str]) -> list[str]:
        enabled = {profile.name for profile in current_flow_rules().profiles}
        unknown = sorted(set(names) - enabled)
        if unknown:
            raise CommandError(f"no enabled profile named {', '.join(unknown)}; enabled: {', '.join(sorted(enabled))}")
        return sorted(names)

    def published(self, plan: backfill.Plan) -> dict[date, str] | None:
        """The flat files' ETags now, of the days done before: one republished since is done again."""
        if plan.source != BackfillSource.FLATFILES:
            return None
        done = BackfillUnit.objects.filter(source=plan.source, day__in=plan.days, status=UnitStatus.DONE)
        days = sorted(done.values_list("day", flat=True))
        if not days:
            return None  # nothing done yet: no file to compare with
        try:
            return flatfiles.etags(flatfiles.flat_files_client(), days)
        except flatfiles.FlatFilesRefused as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # the endpoint away, a name that does not resolve...
            raise CommandError(f"cannot list the flat files at {settings.POLYGON_FLATFILES_URL}: {exc}") from None

    def print_plan(self, plan: backfill.Plan) -> None:
        if not plan.days:
            self.stdout.write("no trading days in that range")
            return
        calls = "" if plan.calls is None else f", about {plan.calls:,} REST calls ({plan.calls_per_unit:,} a unit)"
        calls += f"; judged by {', '.join(plan.profiles)}" if plan.profiles else ""
        self.stdout.write(
            f"backfill {plan.days[0]} to {plan.days[-1]}: {len(plan.days)} trading days × {len(plan.tickers)} "
            f"underlyings ({','.join(plan.tickers)}) in {len(plan.units)} units over {plan.source}{calls}"
        )

    def follow(self, unit_ids: Sequence[int]) -> None:
        """A progress bar over the units until every one has finished (done, failed or refused)."""
        units = BackfillUnit.objects.filter(pk__in=unit_ids)
        with tqdm(total=len(unit_ids), desc="backfill", unit="unit") as bar:
            finished = 0
            while finished < len(unit_ids):
                time.sleep(POLL_SECONDS)
                now = units.filter(status__in=FINISHED).count()
                bar.update(now - finished)
                finished = now
                totals = units.aggregate(trades=Sum("trades"), hits=Sum("hits"), orders=Sum("orders"))
                bar.set_postfix({name: f"{value or 0:,}" for name, value in totals.items()}, refresh=False)

    def print_totals(self, unit_ids: Sequence[int], run_ids: Sequence[int], seconds: float) -> None:
        """The totals of every unit of the plan (done before or now); the rate of this run's."""
        totals = BackfillUnit.objects.filter(pk__in=unit_ids).aggregate(
            calls=Sum("calls"),
            trades=Sum("trades"),
            hits=Sum("hits"),
            orders=Sum("orders"),
            stored=Sum("stored"),
            done=Count("pk", filter=Q(status=UnitStatus.DONE)),
            failed=Count("pk", filter=Q(status=UnitStatus.FAILED)),
            refused=Count("pk", filter=Q(status=UnitStatus.NOT_ENTITLED)),
        )
        values = {name: value or 0 for name, value in totals.items()}
        this_run = BackfillUnit.objects.filter(pk__in=run_ids).aggregate(trades=Sum("trades"))["trades"] or 0
        rate = this_run / seconds if seconds > 0 else 0.0
        self.stdout.write(
            f"backfill: {values['done']} of {len(unit_ids)} units done, {values['failed']} failed, "
            f"{values['refused']} not entitled; {values['calls']:,} REST calls, {values['trades']:,} trades judged "
            f"({rate:,.0f}/s in this run), {values['hits']:,} print hits and {values['orders']:,} order hits "
            f"({values['stored']:,} new) in {seconds:.1f} s"
        )
        for unit in BackfillUnit.objects.filter(pk__in=unit_ids).exclude(status=UnitStatus.DONE)[:10]:
            self.stdout.write(f"  {unit}: {unit.status} {unit.error}")
