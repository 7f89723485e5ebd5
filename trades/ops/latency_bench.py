"""Latency: from a print leaving the local feed to its hit stored and its webhook received.

The feed plays synthetic flow at a steady rate, its trade clock running at that rate too, and
notes when each frame goes out; a receiver on a webhook endpoint notes when each alert arrives.
The listener, a worker (the queues of compose's `worker`), the webhooks' worker (threads) and the
order closer with beat run as their own processes, as in compose. Every hit the profiles find is
a known hit: its print's send time is looked up by its sequence number. Printed, never asserted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from celery import Celery
from django.db.models import Max
from django.utils import timezone
from kombu import Queue

from trades import queues
from trades.domain.orders import GAP_MS, LATENESS_MS
from trades.feed.source import Frame, PrebuiltSource
from trades.feed.synthetic import SyntheticFlow, now_ms, pregenerate_frames
from trades.feed.universe import SyntheticReference
from trades.models import (
    DeliveryStatus,
    KeptPrint,
    OptionTrade,
    Order,
    OrderState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from trades.ops import benchmark
from trades.presets import PRESET_TICKERS

FRAMES_PER_SECOND = 200  # as the real feed sends them: a frame every few milliseconds
WORKER_QUEUES = ",".join((queues.INGEST, queues.REFERENCE, queues.DEFAULT))  # compose's `worker`
SETTLE_SECONDS = 120.0  # at most, after the last print: the last batches, orders and webhooks
STOP_SECONDS = 30.0  # a warm stop's wait


class SendTimes:
    """When each frame left the feed (seconds since the epoch), in the order they were sent."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def sent(self, frame: Frame) -> None:
        self.times.append(time.time())


@dataclass
class Arrivals:
    """When each alert reached the webhook endpoint: trades by sequence, orders by order id."""

    trades: dict[int, float] = field(default_factory=dict)
    orders: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, body: bytes, at: float) -> None:
        data = orjson.loads(body).get("data") or {}
        with self.lock:
            if data.get("order_id"):
                self.orders.setdefault(data["order_id"], at)
            elif data.get("sequence") is not None:
                self.trades.setdefault(data["sequence"], at)


def start_receiver(arrivals: Arrivals) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            arrivals.note(body, time.time())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/alerts"


def percentiles(label: str, seconds: Iterable[float]) -> str:
    values = sorted(value * 1000 for value in seconds)
    if not values:
        return f"  {label:<38} none"

    def at(share: float) -> float:
        return values[min(len(values) - 1, int(share * len(values)))]

    return (
        f"  {label:<38} p50 {at(0.50):7.1f}  p95 {at(0.95):7.1f}  p99 {at(0.99):7.1f}  "
        f"max {values[-1]:7.1f} ms  ({len(values):,})"
    )


def run(app: Celery, rate: int, seconds: float, child_env: dict[str, str], log_dir: Path) -> list[str]:
    """Play ``seconds`` of flow at ``rate`` trades per second; what each hit's way took, as lines to print."""
    trades = int(rate * seconds)
    frame_size = max(1, rate // FRAMES_PER_SECOND)
    seed, start_ms = 1, now_ms()
    frames = pregenerate_frames(trades, frame_size, PRESET_TICKERS, seed=seed, start_ms=start_ms, clock_rate=rate)
    frame_of = frame_index(frames)
    reference = SyntheticReference(SyntheticFlow(PRESET_TICKERS, seed=seed, start_ms=start_ms, clock_rate=rate))
    send_times = SendTimes()
    feed = benchmark.bench_feed(
        PrebuiltSource(frames), reference, rate=rate, frame_size=frame_size, on_sent=send_times.sent
    )
    arrivals = Arrivals()
    receiver, receiver_url = start_receiver(arrivals)
    host, port = feed.start_in_thread()
    try:
        benchmark.load_reference(f"http://{host}:{port}", child_env, log_dir / "refresh.log")
        WebhookEndpoint.objects.create(name="latency", url=receiver_url, allow_private=True)
        env = {**child_env, "POLYGON_REST_URL": f"http://{host}:{port}", "POLYGON_API_KEY": benchmark.API_KEY}
        processes = {
            "worker": benchmark.start_worker(2, "prefork", env, log_dir / "worker.log", WORKER_QUEUES),
            # compose's `webhooks`: deliveries in threads, on a queue of their own
            "webhooks": benchmark.start_worker(16, "threads", env, log_dir / "webhooks.log", queues.WEBHOOKS, "hooks"),
            "closer and beat": benchmark.start_closer(env, log_dir / "closer.log"),
        }
        try:
            benchmark.wait_for_worker(app, len(processes))
            before = {name: tree_cpu_seconds(process.pid) for name, process in processes.items()}
            listener, _ = benchmark.run_listener(f"ws://{host}:{port}", env, log_dir / "stream.log", source="live")
            settled = settle(app, SETTLE_SECONDS)
            cpu = {name: tree_cpu_seconds(process.pid) - before[name] for name, process in processes.items()}
        finally:
            stop_all(processes)
    finally:
        feed.stop()
        receiver.shutdown()
    sent = send_times.times
    return [
        f"latency at {rate:,} trades/s for {seconds:.0f} s ({trades:,} trades in frames of {frame_size}, "
        f"{len(send_times.times):,} frames sent)",
        *trade_lines(frame_of, sent, arrivals),
        *order_lines(frame_of, sent, arrivals),
        "  CPU per million trades at this rate   "
        + ", ".join(f"{name} {used * 1e6 / trades:.1f} s" for name, used in cpu.items())
        + f", listener {listener.cpu_seconds * 1e6 / trades:.1f} s (workers: from the first print to the last alert)",
        *([] if settled else [f"  not settled {SETTLE_SECONDS:.0f} s after the last print: work was still waiting"]),
    ]


def stop_all(processes: dict[str, subprocess.Popen]) -> None:
    """A warm stop; a process that has not ended within STOP_SECONDS is killed, and said so."""
    for process in processes.values():
        process.terminate()
    for name, process in processes.items():
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"  the {name} did not stop within {STOP_SECONDS:.0f} s of SIGTERM: killed", flush=True)
            for pid in [*benchmark.children(process.pid), process.pid]:
                os.kill(pid, signal.SIGKILL)
            process.wait()


def tree_cpu_seconds(pid: int) -> float:
    """CPU time a running process and its running children have used so far (/proc)."""
    total = 0.0
    for each in [pid, *benchmark.children(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return total


def frame_index(frames: list[Frame]) -> dict[int, int]:
    """The frame each trade is in, by its sequence number."""
    index: dict[int, int] = {}
    for number, frame in enumerate(frames):
        for event in frame.items():
            index[event["q"]] = number
    return index


def settle(app: Celery, seconds: float) -> bool:
    """Wait until every batch is judged (none queued, no hit stored for a second), no delivery
    waits or is being sent, and no order is being judged: True; False after ``seconds``."""
    deadline = time.monotonic() + seconds
    time.sleep(min(seconds, (GAP_MS + LATENESS_MS) / 1000 + 1))  # the last orders' watermark
    while time.monotonic() < deadline:
        if not (queued_batches(app) or _busy()):
            return True
        time.sleep(0.2)
    return False


def queued_batches(app: Celery) -> int:
    with app.connection_for_write() as connection:
        declared: Any = Queue(queues.INGEST, channel=connection.default_channel).queue_declare()
        return int(declared.message_count)


def _busy() -> bool:
    unsent = WebhookDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])
    latest = OptionTrade.objects.aggregate(latest=Max("stored_at"))["latest"]
    storing = latest is not None and (timezone.now() - latest).total_seconds() < 1
    return storing or unsent.exists() or Order.objects.filter(state=OrderState.JUDGING).exists()


def trade_lines(frame_of: dict[int, int], sent: list[float], arrivals: Arrivals) -> list[str]:
    rows = OptionTrade.objects.filter(sequence__isnull=False)
    stored_at = {seq: at.timestamp() for seq, at in rows.values_list("sequence", "stored_at") if at is not None}
    sent_at = {sequence: sent[frame] for sequence, frame in frame_of.items()}
    attempts = WebhookAttempt.objects.filter(delivery__trade__isnull=False).values_list(
        "delivery__trade__sequence", "attempted_at"
    )
    first_attempt: dict[int | None, float] = {}
    for sequence, attempted_at in attempts:
        first_attempt[sequence] = min(attempted_at.timestamp(), first_attempt.get(sequence, float("inf")))
    return [
        f"  print hits: {len(stored_at):,} stored, {len(arrivals.trades):,} webhooks received",
        percentiles("print sent → hit stored (a)", deltas(sent_at, stored_at)),
        percentiles("print sent → webhook received (b)", deltas(sent_at, arrivals.trades)),
        percentiles("hit stored → webhook received", deltas(stored_at, arrivals.trades)),
        percentiles("hit stored → its first attempt started", deltas(stored_at, first_attempt)),
    ]


def order_lines(frame_of: dict[int, int], sent: list[float], arrivals: Arrivals) -> list[str]:
    """An order can close once the watermark (the latest print's time − GAP_MS − LATENESS_MS) passes
    its last print: at a steady rate, that long after its last print was sent."""
    hits = list(Order.objects.filter(state=OrderState.HIT).values_list("order_id", "received_at", "judged_at"))
    last_sequence = last_prints([order_id for order_id, _, _ in hits])
    wait = (GAP_MS + LATENESS_MS) / 1000
    closable = {
        order_id: sent[frame_of[sequence]] + wait
        for order_id, sequence in last_sequence.items()
        if sequence in frame_of
    }
    closed = {order_id: closed_at.timestamp() for order_id, closed_at, _ in hits}
    judged = {order_id: judged_at.timestamp() for order_id, _, judged_at in hits if judged_at}
    return [
        f"  order hits: {len(hits):,} stored, {len(arrivals.orders):,} webhooks received "
        f"(an order closes {wait:.1f} s after its last print at the earliest: GAP_MS + LATENESS_MS)",
        percentiles("closable → closed (the close delay)", deltas(closable, closed)),
        percentiles("closed → judged and stored", deltas(closed, judged)),
        percentiles("closed → webhook received", deltas(closed, arrivals.orders)),
    ]


def last_prints(order_ids: list[str]) -> dict[str, int]:
    """Each order's last print's sequence number."""
    last: dict[str, tuple[int, int]] = {}
    prints = KeptPrint.objects.filter(order_id__in=order_ids, sequence__isnull=False)
    for order_id, ts_ns, sequence in prints.values_list("order_id", "ts_ns", "sequence"):
        assert sequence is not None
        if order_id not in last or (ts_ns, sequence) > last[order_id]:
            last[order_id] = (ts_ns, sequence)
    return {order_id: sequence for order_id, (_, sequence) in last.items()}


def deltas(start: dict[Any, float], end: dict[Any, float]) -> list[float]:
    return [end[key] - at for key, at in start.items() if key in end]
