"""Memory over a long run: synthetic trades (ten million by default) at a steady rate through the
listener, a worker and the order closer, their resident memory sampled every second. What
matters is the growth after warm-up (the first tenth of the trades): a leak shows as memory that
keeps climbing with the trades. Printed, never asserted.

The feed makes the trades as it goes (nothing pregenerated: ten million frames would not fit
the benchmark's own memory), its trade clock at 500 trades a second as in the throughput run.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from celery import Celery
from django.conf import settings

from trades import queues
from trades.feed.server import FeedServer
from trades.feed.synthetic import SyntheticFlow, now_ms
from trades.feed.universe import SyntheticReference
from trades.ops import benchmark
from trades.presets import PRESET_TICKERS

WARM_UP_SHARE = 0.1


@dataclass
class Samples:
    """Resident memory (MB) of each process with its children, by trades sent so far."""

    pids: dict[str, int]
    feed: FeedServer  # its trades sent so far
    rows: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    running: bool = True

    def start(self) -> None:
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while self.running:
            self.rows.append((self.feed.stats.trades_sent, {name: tree_rss_mb(pid) for name, pid in self.pids.items()}))
            time.sleep(1.0)

    def lines(self, trades: int) -> list[str]:
        warm = next((row for row in self.rows if row[0] >= trades * WARM_UP_SHARE), None)
        if warm is None or len(self.rows) < 2:
            return ["  too short to say (no sample after warm-up)"]
        after = [memory for sent, memory in self.rows if sent >= warm[0]]
        lines = []
        for name in self.pids:
            alive = [memory[name] for memory in after if memory[name]] or [0.0]  # the listener exits first
            start, end, peak = warm[1][name], alive[-1], max(alive)
            growth = (end / start - 1) if start else 0.0
            lines.append(
                f"  {name:<10} {start:7.1f} MB after {warm[0]:,} trades → {end:7.1f} MB at the end "
                f"({growth:+.1%}), at most {peak:.1f} MB"
            )
        return lines + self.trajectory(trades)

    def trajectory(self, trades: int) -> list[str]:
        """Each process's memory at every tenth of the trades: a plateau, a sawtooth or a climb."""
        marks = [trades * step // 10 for step in range(1, 11)]
        picked = [next((row for row in self.rows if row[0] >= mark), self.rows[-1]) for mark in marks]
        header = "  " + " " * 10 + "".join(f"{sent / 1e6:>8.2f}M" for sent, _ in picked)
        rows = [f"  {name:<10}" + "".join(_megabytes(memory[name]) for _, memory in picked) for name in self.pids]
        return ["  resident MB by millions of trades sent:", header, *rows]


def _megabytes(value: float) -> str:
    return f"{value:>9.0f}" if value else f"{'exited':>9}"


def tree_rss_mb(pid: int) -> float:
    """VmRSS of a process and its children, in MB (0 once it has exited)."""
    return sum(benchmark.status_kb(each, "VmRSS") or 0 for each in [pid, *benchmark.children(pid)]) / 1024


def run(app: Celery, trades: int, rate: float, child_env: dict[str, str], log_dir: Path) -> list[str]:
    flow = SyntheticFlow(PRESET_TICKERS, seed=1, start_ms=now_ms(), clock_rate=benchmark.CLOCK)
    feed = benchmark.bench_feed(flow, SyntheticReference(flow), rate=rate, trades=trades)
    host, port = feed.start_in_thread()
    started = time.monotonic()
    try:
        benchmark.load_reference(f"http://{host}:{port}", child_env, log_dir / "refresh.log")
        env = {**child_env, "POLYGON_REST_URL": f"http://{host}:{port}", "POLYGON_API_KEY": benchmark.API_KEY}
        env |= {"POLYGON_WS_URL": f"ws://{host}:{port}"}
        worker = benchmark.start_worker(2, "prefork", env, log_dir / "worker.log")
        closer = benchmark.start_closer(env, log_dir / "closer.log")
        try:
            benchmark.wait_for_worker(app, 2)
            args = [sys.executable, str(benchmark.ROOT / "manage.py"), "stream", "--once", "--source", "replay"]
            log = (log_dir / "stream.log").open("wb")
            listener = subprocess.Popen(args, cwd=benchmark.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            samples = Samples({"listener": listener.pid, "worker": worker.pid, "closer": closer.pid}, feed)
            samples.start()
            if listener.wait() != 0:
                raise RuntimeError(f"the listener exited with {listener.returncode}; see {log_dir / 'stream.log'}")
            wait_for_empty_ingest_queue()
            samples.running = False
        finally:
            for process in (worker, closer):
                process.terminate()
                process.wait()
    finally:
        feed.stop()
    elapsed = time.monotonic() - started
    return [
        f"soak        {feed.stats.trades_sent:,} trades in {elapsed:.0f} s (asked for {rate:,.0f}/s; the whole run "
        f"with start-up, {feed.stats.trades_sent / elapsed:,.0f}/s); resident memory with children, after the first "
        f"{WARM_UP_SHARE:.0%} (warm-up) and at the end:",
        *samples.lines(trades),
    ]


def wait_for_empty_ingest_queue(timeout: float = 600.0) -> None:
    """The worker has taken every batch (the listener has published them all once it exits)."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix") or ""
    benchmark.wait_until(lambda: client.llen(f"{prefix}{queues.INGEST}") == 0, timeout, "the ingest queue to drain")
    time.sleep(2.0)  # the last batches taken are judged
