"""``manage.py feed``: a local Polygon-protocol options feed (tape replay or synthetic flow)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades.domain.calendar import NEW_YORK
from trades.feed.history import HISTORY_DAYS, PRINTS_PER_DAY, History
from trades.feed.market import DEFAULT_TICKERS
from trades.feed.server import DEFAULT_API_KEY, FeedServer
from trades.feed.source import PrebuiltSource, Source
from trades.feed.synthetic import SyntheticFlow
from trades.feed.tape import Tape, TapeError
from trades.feed.trade_log import DEFAULT_CAPACITY
from trades.feed.universe import Reference, ReferenceFileError, SyntheticReference, load_reference_file

log = logging.getLogger("trades.feed")


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def ticker_list(text: str) -> list[str]:
    tickers = [ticker.strip().upper() for ticker in text.split(",") if ticker.strip()]
    if not tickers:
        raise argparse.ArgumentTypeError("expected tickers separated by commas, e.g. AAPL,MSFT")
    return tickers


def start_time_ms(text: str) -> int:
    """ISO 8601; without an offset it is New York time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date-time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=NEW_YORK)
    return int(moment.timestamp() * 1000)


def listener_host(host: str) -> str:
    """The address a listener on this machine should dial when the feed binds every interface."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def check_disconnect_options(options: dict[str, Any]) -> None:
    if options["disconnect_after"] is not None:
        return
    for name in ("disconnect_code", "disconnects"):
        if options[name] is not None:
            raise CommandError(f"--{name.replace('_', '-')} needs --disconnect-after")


def announce_faults(server: FeedServer) -> None:
    if server.disconnect_after is not None:
        log.info(
            "fault injection: %d disconnect(s) with code %d, each after %d trades; %s",
            server.disconnects,
            server.disconnect_code,
            server.disconnect_after,
            "each connection replays from the start"
            if server.gap_trades is None
            else f"one live timeline, at least {server.gap_trades} trades unsent after each drop",
        )


class Command(BaseCommand):
    help = "Serve a local Polygon-protocol options feed (a tape replay or synthetic flow) for demos and tests."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=non_negative_int, default=8765, help="0 picks a free port")
        parser.add_argument("--api-key", default=DEFAULT_API_KEY)
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--tape", type=Path, help="replay this file: one JSON array of events per line")
        source.add_argument(
            "--tickers",
            type=ticker_list,
            help=f"synthetic flow for these underlyings (the default source: {','.join(DEFAULT_TICKERS)})",
        )
        parser.add_argument("--rate", type=non_negative_float, default=500.0, help="trades/s; 0 = as fast as possible")
        parser.add_argument(
            "--trades",
            type=non_negative_int,
            help="end each connection's stream after N trades (with --gap-trades: the shared timeline's)",
        )
        parser.add_argument("--frame-size", type=positive_int, default=100, help="synthetic events per frame")
        parser.add_argument("--seed", type=int, help="make the synthetic flow repeatable (except t and q)")
        parser.add_argument(
            "--start", type=start_time_ms, help="synthetic clock start, ISO 8601 (default: the wall clock)"
        )
        parser.add_argument("--close-when-done", action="store_true", help="close with 1000 when the stream ends")
        parser.add_argument("--loop", action="store_true", help="replay the tape again and again")
        parser.add_argument(
            "--disconnect-after",
            type=non_negative_int,
            help="fault injection: drop a streaming connection after N trades (the first one, or --disconnects)",
        )
        parser.add_argument(
            "--disconnect-code",
            type=int,
            choices=(1000, 1006, 1011),
            help="how --disconnect-after drops: 1000 a clean close (the polygon client does not reconnect), "
            "1006 the TCP connection cut with no close frame, 1011 a server error (the default)",
        )
        parser.add_argument(
            "--disconnects",
            type=positive_int,
            help="drop this many streaming connections, each after --disconnect-after trades (default 1)",
        )
        parser.add_argument(
            "--gap-trades",
            type=non_negative_int,
            help="connections share one live timeline (a reconnect continues at the live edge, not from the "
            "start) and after each drop at least N trades (whole frames) go by unsent: they are only in the "
            "trade log (GET /v3/trades)",
        )
        parser.add_argument(
            "--trade-log-size",
            type=non_negative_int,
            default=DEFAULT_CAPACITY,
            help="trades the REST side keeps for /v3/trades and the snapshots, oldest dropped first; 0 = no trade log",
        )
        parser.add_argument("--max-connections", type=non_negative_int, default=1, help="per key; 0 = unlimited")
        parser.add_argument(
            "--history-days",
            type=non_negative_int,
            default=HISTORY_DAYS,
            help="past trading days of the synthetic flow served over REST for backfills (0 = none)",
        )
        parser.add_argument(
            "--history-prints",
            type=positive_int,
            default=PRINTS_PER_DAY,
            help="prints in each past day's tape (over every ticker)",
        )
        parser.add_argument(
            "--day",
            type=date.fromisoformat,
            help="stream this past trading day's tape (YYYY-MM-DD, within --history-days) instead of today's flow",
        )
        parser.add_argument(
            "--reference",
            type=Path,
            help="serve these contracts, open interest and spots on the REST side (JSON; default: the synthetic "
            "flow's own contracts, none for a tape)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        check_disconnect_options(options)
        source = self.build_source(options)
        history = self.build_history(options, source)
        reference = self.build_reference(options, source)
        if options["day"] is not None:
            day = options["day"]
            if history is None or not history.covers(day):
                raise CommandError(f"--day {day} is not one of the synthetic flow's past trading days")
            reference = history.as_of(day)  # the REST side as it was that day
            source = PrebuiltSource(history.tape(day).frames)
        try:
            server = FeedServer(
                source=source,
                api_key=options["api_key"],
                rate=options["rate"],
                frame_size=options["frame_size"],
                trades=options["trades"],
                close_when_done=options["close_when_done"],
                max_connections=options["max_connections"] or None,
                disconnect_after=options["disconnect_after"],
                disconnect_code=options["disconnect_code"] or 1011,
                disconnects=options["disconnects"] or 1,
                gap_trades=options["gap_trades"],
                reference=reference,
                record_trades=options["trade_log_size"] > 0,
                trade_log_capacity=options["trade_log_size"],
                history=history,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        announce_faults(server)
        self.serve(server, options["host"], options["port"])

    def build_source(self, options: dict[str, Any]) -> Source:
        if options["tape"] is not None:
            try:
                return Tape(options["tape"], loop=options["loop"])
            except TapeError as exc:
                raise CommandError(str(exc)) from None
        if options["loop"]:
            raise CommandError("--loop replays a --tape; the synthetic flow never ends")
        try:
            return SyntheticFlow(options["tickers"] or DEFAULT_TICKERS, seed=options["seed"], start_ms=options["start"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None

    def build_history(self, options: dict[str, Any], source: Source) -> History | None:
        """The synthetic flow's past trading days, for backfills (a tape has none)."""
        if not isinstance(source, SyntheticFlow) or not options["history_days"]:
            return None
        today = SyntheticReference(source).trade_date()
        return History(source.underlyings, source.seed, today, options["history_days"], options["history_prints"])

    def build_reference(self, options: dict[str, Any], source: Source) -> Reference | None:
        """What the REST side lists: the --reference file, else the synthetic flow's contracts."""
        if options["reference"] is not None:
            try:
                return load_reference_file(options["reference"])
            except ReferenceFileError as exc:
                raise CommandError(str(exc)) from None
        if isinstance(source, SyntheticFlow):
            reference = SyntheticReference(source)
            reference.universe()  # built now, not on the first request
            return reference
        log.warning("a tape without --reference: the REST side lists no contracts")
        return None

    def serve(self, server: FeedServer, host: str, port: int) -> None:
        """Serve until SIGINT or SIGTERM, then return (exit status 0)."""

        def announce() -> None:
            assert server.address is not None
            bound_port = server.address[1]
            log.info(
                "local feed: %s on ws://%s:%d/options at %s trades/s, REST on http://%s:%d (%s); point the "
                "listener at it with POLYGON_REST_URL=http://%s:%d POLYGON_WS_URL=ws://%s:%d POLYGON_API_KEY=%s",
                server.source,
                host,
                bound_port,
                server.rate or "max",
                host,
                bound_port,
                server.reference,
                listener_host(host),
                bound_port,
                listener_host(host),
                bound_port,
                server.api_key,
            )

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, server.request_stop)
            await server.run(host, port, ready=announce)

        try:
            asyncio.run(main())
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from None
        log.info("local feed stopped: %s", server.stats)
