"""``manage.py feed``: a local Polygon-protocol options feed (tape replay or synthetic flow)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades.domain.calendar import NEW_YORK
from trades.feed.server import DEFAULT_API_KEY, FeedServer
from trades.feed.source import Source
from trades.feed.synthetic import DEFAULT_TICKERS, SyntheticFlow
from trades.feed.tape import Tape, TapeError
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
        parser.add_argument("--trades", type=non_negative_int, help="end each connection's stream after N trades")
        parser.add_argument("--frame-size", type=positive_int, default=100, help="synthetic events per frame")
        parser.add_argument("--seed", type=int, help="make the synthetic flow repeatable (except t and q)")
        parser.add_argument(
            "--start", type=start_time_ms, help="synthetic clock start, ISO 8601 (default: the wall clock)"
        )
        parser.add_argument("--close-when-done", action="store_true", help="close with 1000 when the stream ends")
        parser.add_argument("--loop", action="store_true", help="replay the tape again and again")
        parser.add_argument(
            "--disconnect-after", type=non_negative_int, help="fault injection: drop the first connection (1011)"
        )
        parser.add_argument("--max-connections", type=non_negative_int, default=1, help="per key; 0 = unlimited")
        parser.add_argument(
            "--reference",
            type=Path,
            help="serve these contracts, open interest and spots on the REST side (JSON; default: the synthetic "
            "flow's own contracts, none for a tape)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = self.build_source(options)
        server = FeedServer(
            source=source,
            api_key=options["api_key"],
            rate=options["rate"],
            frame_size=options["frame_size"],
            trades=options["trades"],
            close_when_done=options["close_when_done"],
            max_connections=options["max_connections"] or None,
            disconnect_after=options["disconnect_after"],
            reference=self.build_reference(options, source),
        )
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
