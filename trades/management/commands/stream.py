"""`manage.py stream`: the Polygon WebSocket listener (one per account)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trades.stream.config import StreamConfigError, client_options, parse_channels
from trades.stream.listener import Listener, ListenerLockHeld
from trades.stream.lock import LockUnavailable, listener_lock
from trades.stream.publisher import SOURCES, BatchPublisher, celery_publish
from trades.stream.stats import StreamStats


class Command(BaseCommand):
    help = "Listen to the Polygon options trade stream and enqueue the raw frames for the workers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="Exit 0 when the server closes the connection cleanly (replays)."
        )
        parser.add_argument("--source", choices=SOURCES, default="live", help="Recorded on the stored trades.")
        parser.add_argument(
            "--channels",
            type=parse_channels,
            help='Comma-separated channels, e.g. "T.*" or "T.O:AAPL251220C00190000"; overrides the Subscription table.',
        )
        parser.add_argument("--batch-trades", type=int, help="Publish after this many trades (STREAM_BATCH_TRADES).")
        parser.add_argument(
            "--batch-ms", type=int, help="... or this many milliseconds after the previous batch (STREAM_BATCH_MS)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client = client_options()
        except StreamConfigError as exc:
            raise CommandError(str(exc)) from exc
        if options["channels"] == []:
            raise CommandError("--channels needs at least one channel, e.g. --channels 'T.*'")
        stats = StreamStats()
        publisher = BatchPublisher(
            celery_publish(options["source"]),
            batch_trades=options["batch_trades"] or settings.STREAM_BATCH_TRADES,
            batch_ms=options["batch_ms"] if options["batch_ms"] is not None else settings.STREAM_BATCH_MS,
            capacity_trades=settings.STREAM_BUFFER_TRADES,
            stats=stats,
        )
        listener = Listener.from_settings(
            client,
            publisher=publisher,
            lock=listener_lock(),
            stats=stats,
            channels=options["channels"],
            once=options["once"],
            track_gaps=options["source"] == "live",  # a replay has no REST to fill its gaps from
        )
        try:
            exit_code = listener.run()
        except (ListenerLockHeld, LockUnavailable) as exc:
            raise CommandError(str(exc)) from exc
        if exit_code:
            raise CommandError(f"stream stopped: {listener.exit_reason}", returncode=exit_code)
