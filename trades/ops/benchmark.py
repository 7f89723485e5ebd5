"""The throughput benchmark: synthetic trades through feed → listener → Redis → worker → PostgreSQL.

Real parts only: the local feed runs in this process; `manage.py stream` and a Celery worker
run as their own processes; the worker's Celery task events (one per batch) say how many
trades it judged and how long it was busy. Nothing here asserts a speed: it prints numbers.
"""

from __future__ import annotations

import ast
import cProfile
import os
import pstats
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from celery import Celery
from django.conf import settings

from trades import queues
from trades.feed.server import FeedServer
from trades.feed.source import Frame, PrebuiltSource, Source
from trades.feed.synthetic import SyntheticFlow, now_ms, pregenerate_frames
from trades.feed.universe import SyntheticReference
from trades.models import TradeSource
from trades.presets import PRESET_TICKERS
from trades.services import ingest

ROOT = Path(settings.BASE_DIR)  # where manage.py is, as the demo finds it
API_KEY = "flowsite-bench"
CLOCK = 500.0  # synthetic trades per second of trade time, as on a busy day: a million take 33 minutes


@dataclass
class WorkerTally:
    """What the worker's task-succeeded events say, accumulated as they arrive: the batches', and
    beat's order-closing ticks' (told apart by their results)."""

    batches: int = 0
    trades: int = 0
    hits: int = 0
    stored: int = 0
    kept: int = 0  # prints kept for grouping
    busy_seconds: float = 0.0
    last_done: float = 0.0  # wall clock of the last batch's completion
    orders: dict[str, int] = field(default_factory=dict)  # the ticks' order counts, summed
    ticks: list[float] = field(default_factory=list)  # wall clock of each tick's completion
    rejections: dict[str, int] = field(default_factory=dict)  # the batches' rejected items, by reason
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, event: dict) -> None:
        counts = ast.literal_eval(event.get("result") or "{}")
        if not isinstance(counts, dict):
            return
        with self.lock:
            self.busy_seconds += event.get("runtime", 0.0)
            if "closed" in counts:  # a tick: services/orders.OrderReport
                self.ticks.append(event.get("timestamp", 0.0))
                for name, value in counts.items():
                    self.orders[name] = self.orders.get(name, 0) + value
                return
            if "trades" not in counts:  # a batch kept as a dead letter
                return
            self.batches += 1
            self.trades += counts.get("trades", 0)
            self.hits += counts.get("hits", 0)
            self.stored += counts.get("stored", 0)
            for reason, count in (counts.get("rejections") or {}).items():
                self.rejections[reason] = self.rejections.get(reason, 0) + count
            self.kept += counts.get("kept") or 0
            self.last_done = max(self.last_done, event.get("timestamp", 0.0))

    def first_tick_after(self, moment: float) -> float | None:
        with self.lock:
            return min((tick for tick in self.ticks if tick > moment), default=None)


class TimedSource(PrebuiltSource):
    """Prebuilt frames that note the wall clock of the first frame handed to the server."""

    first_sent: float | None = None

    def frames(self, frame_size: int) -> Iterator[Frame]:
        for frame in super().frames(frame_size):
            if self.first_sent is None:
                self.first_sent = time.time()
            yield frame


@dataclass
class Usage:
    """A process's peak memory (with its children's) and CPU time (its reaped children included)."""

    peak_mb: float
    cpu_seconds: float


class PeakMemory:
    """Samples VmHWM of a process and its children from /proc until stopped.

    ru_maxrss of a child is no use here: it counts the moment between fork and exec, when the
    child still maps this process's prebuilt frames. VmHWM starts afresh at exec.
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peaks_kb: dict[int, int] = {}
        self.running = True
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while self.running:
            for pid in [self.pid, *children(self.pid)]:
                if (peak := status_kb(pid, "VmHWM")) is not None:
                    self.peaks_kb[pid] = max(peak, self.peaks_kb.get(pid, 0))
            time.sleep(0.05)

    def stop(self) -> float:
        """Stop sampling; the peak in MB summed over the process and its children."""
        self.running = False
        return sum(self.peaks_kb.values()) / 1024


def children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def status_kb(pid: int, key: str) -> int | None:
    """A figure in kB from /proc/<pid>/status (VmHWM, VmRSS); None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


@dataclass
class Result:
    trades: int
    generated_in: float
    reference_seconds: float
    listener_seconds: float
    listener: Usage
    worker: WorkerTally
    worker_processes: int
    worker_usage: Usage
    closer_usage: Usage
    end_to_end_seconds: float
    last_batch_seconds: float  # first frame sent → the last batch stored
    feed: Usage
    pool: str
    seed_style_seconds: float
    seed_style: Usage
    orders_on: bool
    profile: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        def rate(seconds: float) -> str:
            return f"{self.trades / seconds:>12,.0f} trades/s" if seconds > 0 else "n/a"

        def usage(of: Usage) -> str:
            per_cpu = self.trades / of.cpu_seconds if of.cpu_seconds else 0
            return f"CPU {of.cpu_seconds:5.2f} s ({per_cpu:,.0f} trades per CPU second), peak RSS {of.peak_mb:.0f} MB"

        per_busy = self.worker.trades / self.worker.busy_seconds if self.worker.busy_seconds else 0
        return [
            f"trades      {self.trades:,} synthetic, frames of 100 (generated in {self.generated_in:.2f} s, untimed)",
            f"reference   contracts, open interest, spot over REST in {self.reference_seconds:.1f} s (untimed)",
            f"listener    {rate(self.listener_seconds)}  {self.listener_seconds:5.2f} s first frame → exit   "
            + usage(self.listener),
            f"worker      {per_busy:>12,.0f} trades/s  per busy second of one of {self.worker_processes} "
            f"{self.pool} process(es); {self.worker.batches} batches   " + usage(self.worker_usage),
            "closer      beat's order-closing ticks in one solo process                        "
            + usage(self.closer_usage),
            f"end to end  {rate(self.end_to_end_seconds)}  {self.end_to_end_seconds:5.2f} s first frame sent → "
            + (
                f"last batch stored ({self.last_batch_seconds:.2f} s), and its orders closed by the next tick"
                if self.orders_on
                else "last batch stored"
            ),
            f"hits        {self.worker.hits:,} judged hits, {self.worker.stored:,} stored; rejected: "
            + (", ".join(f"{count:,} {reason}" for reason, count in sorted(self.worker.rejections.items())) or "none"),
            "orders      " + self.orders_line(),
            "feed        in this process, with the event receiver   " + usage(self.feed),
            f"seed-style  {rate(self.seed_style_seconds)}  {self.seed_style_seconds:5.2f} s first frame sent → exit "
            "(one process: polygon-api-client, the same rules, a row per hit)   " + usage(self.seed_style),
            f"ratio       end to end / seed-style: {self.ratio:.2f}×",
            *self.profile,
        ]

    @property
    def ratio(self) -> float:
        return self.seed_style_seconds / self.end_to_end_seconds

    def orders_line(self) -> str:
        if not self.orders_on:
            return "off (--without-orders: no profile judges orders)"
        counts = self.worker.orders
        return (
            f"grouping on: {self.worker.kept:,} prints kept, {counts.get('closed', 0):,} orders closed by "
            f"{len(self.worker.ticks):,} ticks of beat, {counts.get('candidates', 0):,} candidates sent to be judged "
            "(their quote look-ups run on the reference queue, not timed here; the orders of the last second close "
            "once the feed has been quiet for the lateness)"
        )


def run(
    app: Celery,
    trades: int,
    worker_processes: int,
    pool: str,
    child_env: dict[str, str],
    log_dir: Path,
    orders_on: bool = True,
) -> Result:
    started = time.perf_counter()
    # A fixed seed and clock: the frames and the feed's REST universe describe the same contracts.
    seed, start_ms = 1, now_ms()
    frames = pregenerate_frames(trades, 100, PRESET_TICKERS, seed=seed, start_ms=start_ms, clock_rate=CLOCK)
    source = TimedSource(frames)
    generated_in = time.perf_counter() - started
    reference = SyntheticReference(SyntheticFlow(PRESET_TICKERS, seed=seed, start_ms=start_ms, clock_rate=CLOCK))
    feed = bench_feed(source, reference)
    host, port = feed.start_in_thread()
    try:
        reference_seconds = load_reference(f"http://{host}:{port}", child_env, log_dir / "refresh.log")
        if not orders_on:
            judge_prints_only(child_env, log_dir / "profiles.log")
        # The worker looks up candidate orders' quotes on the feed, as it would on Polygon.
        child_env = {**child_env, "POLYGON_REST_URL": f"http://{host}:{port}", "POLYGON_API_KEY": API_KEY}
        own_cpu_before = cpu_seconds(resource.getrusage(resource.RUSAGE_SELF))
        tally = WorkerTally()
        receiver = start_event_receiver(app, tally)
        worker = start_worker(worker_processes, pool, child_env, log_dir / "worker.log")
        closer = start_closer(child_env, log_dir / "closer.log")
        worker_memory, closer_memory = PeakMemory(worker.pid), PeakMemory(closer.pid)
        try:
            wait_for_worker(app, 2)
            listener, listener_exit = run_listener(f"ws://{host}:{port}", child_env, log_dir / "stream.log")
            sent = feed.stats.trades_sent
            wait_until(lambda: tally.trades >= sent, timeout=300, what=f"the worker to judge {sent:,} trades")
            if orders_on:  # stored means closed too: the orders the last batch's watermark passed
                wait_until(lambda: tally.first_tick_after(tally.last_done), timeout=60, what="beat's next tick")
        finally:
            worker_usage, closer_usage = stop(worker, worker_memory), stop(closer, closer_memory)
            receiver.should_stop = True
    finally:
        feed.stop()
    first = source.first_sent or 0.0
    own = resource.getrusage(resource.RUSAGE_SELF)
    closed_at = tally.first_tick_after(tally.last_done) if orders_on else None
    profile = judging_profile(frames)
    seed_style_seconds, seed_style = run_seed_style(frames, reference, child_env, log_dir / "seed-style.log")
    return Result(
        trades=sent,
        generated_in=generated_in,
        reference_seconds=reference_seconds,
        listener_seconds=listener_exit - first,
        listener=listener,
        worker=tally,
        worker_processes=worker_processes,
        worker_usage=worker_usage,
        closer_usage=closer_usage,
        end_to_end_seconds=(closed_at or tally.last_done) - first,
        last_batch_seconds=tally.last_done - first,
        feed=Usage(own.ru_maxrss / 1024, cpu_seconds(own) - own_cpu_before),
        pool=pool,
        seed_style_seconds=seed_style_seconds,
        seed_style=seed_style,
        orders_on=orders_on,
        profile=profile,
    )


def judging_profile(frames: list[Frame], batches: int = 20, top: int = 12) -> list[str]:
    """Where a worker's time goes: the tape's first batches judged again in this process under
    cProfile (their hits are stored already: the same work but the inserts), the functions that
    took the most time of their own. cProfile slows pure Python more than C: shares, not seconds."""
    texts = [frame.payload.decode() for frame in frames]
    per_batch = max(1, settings.STREAM_BATCH_TRADES // max(1, frames[0].trades))
    starts = range(0, min(len(texts), batches * per_batch), per_batch)
    profiler = cProfile.Profile()
    for start in starts:
        profiler.runcall(ingest.ingest_frames, texts[start : start + per_batch], TradeSource.REPLAY)
    entries = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(own for _, _, own, _, _ in entries.values()) or 1.0
    ranked = sorted(entries.items(), key=lambda item: item[1][2], reverse=True)[:top]
    lines = [f"profile     judging {len(starts)} batches of {per_batch * frames[0].trades:,} trades again: own time"]
    for (path, line, function), (_, _, own, _, _) in ranked:
        place = f"{Path(path).name}:{line}" if line else path
        lines.append(f"  {own / total:6.1%}  {function} ({place})")
    return lines


def workers_table(results: dict[int, Result]) -> list[str]:
    """The same tape with one and with more worker processes, side by side."""
    lines = ["workers     end to end     listener      worker CPU   closer CPU   seed-style    ratio"]
    for workers, result in results.items():
        lines.append(
            f"  {workers:<9} {result.trades / result.end_to_end_seconds:>9,.0f} t/s  "
            f"{result.trades / result.listener_seconds:>9,.0f} t/s  {result.worker_usage.cpu_seconds:8.2f} s  "
            f"{result.closer_usage.cpu_seconds:9.2f} s  {result.trades / result.seed_style_seconds:>9,.0f} t/s  "
            f"{result.ratio:5.2f}×"
        )
    return lines


def summary(results: list[Result]) -> list[str]:
    """Each round's two rates and their ratio, and the median ratio."""
    lines = ["rounds      end to end   seed-style   ratio"]
    for number, result in enumerate(results, 1):
        lines.append(
            f"  {number:<9} {result.trades / result.end_to_end_seconds:>10,.0f}   "
            f"{result.trades / result.seed_style_seconds:>10,.0f}   {result.ratio:5.2f}×"
        )
    lines.append(f"median      end to end / seed-style: {statistics.median(r.ratio for r in results):.2f}×")
    return lines


def bench_feed(source: Source, reference: SyntheticReference, **options: Any) -> FeedServer:
    """The local feed serving the tape once, then closing; its REST side answers for the tape's
    contracts. ``options``: more of FeedServer's (a rate, a number of trades)."""
    return FeedServer(
        source=source,
        reference=reference,
        api_key=API_KEY,
        close_when_done=True,
        max_connections=None,
        record_trades=False,  # the bench times the pipeline; nobody asks the feed for past trades
        **options,
    )


def judge_prints_only(env: dict[str, str], log: Path) -> None:
    """Disable the profiles that judge orders (--without-orders): the cost of grouping is the difference."""
    code = (
        "from trades.models import FilterProfile; FilterProfile.objects.filter(judges='orders').update(enabled=False)"
    )
    args = [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code]
    with log.open("wb") as output:
        subprocess.run(args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, check=True)


def run_seed_style(
    frames: list[Frame], reference: SyntheticReference, env: dict[str, str], log: Path
) -> tuple[float, Usage]:
    """The same tape through trades/ops/seed_style.py: the first frame sent → the script's exit."""
    source = TimedSource(frames)
    feed = bench_feed(source, reference)
    host, port = feed.start_in_thread()
    try:
        args = [sys.executable, "-m", "trades.ops.seed_style", f"ws://{host}:{port}", API_KEY]
        script_env = {**env, "DJANGO_SETTINGS_MODULE": "flowsite.settings"}
        process = subprocess.Popen(args, cwd=ROOT, env=script_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        memory = PeakMemory(process.pid)
        _, status, usage = os.wait4(process.pid, 0)
        exited = time.time()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"the seed-style script failed:\n{log.read_text(errors='replace')[-3000:]}")
    finally:
        feed.stop()
    return exited - (source.first_sent or exited), Usage(memory.stop(), cpu_seconds(usage))


def start_event_receiver(app: Celery, tally: WorkerTally):  # type: ignore[no-untyped-def]
    connection = app.connection_for_read()
    receiver = app.events.Receiver(connection, handlers={"task-succeeded": tally.add})
    threading.Thread(target=receiver.capture, kwargs={"limit": None, "timeout": None}, daemon=True).start()
    return receiver


def start_worker(
    processes: int, pool: str, env: dict[str, str], log: Path, queue_names: str = queues.INGEST, name: str = "bench"
) -> subprocess.Popen:
    """A worker on ``queue_names`` (the batches' by default), node ``name``-<this pid>."""
    args = [sys.executable, "-m", "celery", "-A", "flowsite", "worker", "-Q", queue_names, "-P", pool]
    args += ["-c", str(processes), "-E", "-l", "WARNING", "--without-mingle", "--without-gossip"]
    args += ["-n", f"{name}-{os.getpid()}@%h"]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def start_closer(env: dict[str, str], log: Path) -> subprocess.Popen:
    """The order closer, as in production: one solo process on the orders queue, with beat's tick."""
    args = [sys.executable, "-m", "celery", "-A", "flowsite", "worker", "-Q", queues.ORDERS, "-P", "solo"]
    args += ["-E", "-l", "WARNING", "--without-mingle", "--without-gossip", "-n", f"bench-closer-{os.getpid()}@%h"]
    args += ["-B", "-s", str(log.with_suffix(".beat-schedule"))]
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_for_worker(app: Celery, count: int) -> None:
    wait_until(
        lambda: len(app.control.ping(timeout=0.5) or []) >= count, timeout=60, what=f"{count} workers to answer a ping"
    )


def load_reference(rest_url: str, env: dict[str, str], log: Path) -> float:
    """`manage.py refresh_reference` against the feed, so both profiles judge as in production."""
    started = time.perf_counter()
    args = [sys.executable, str(ROOT / "manage.py"), "refresh_reference"]
    refresh_env = {**env, "POLYGON_REST_URL": rest_url, "POLYGON_API_KEY": API_KEY}
    with log.open("wb") as output:
        if subprocess.run(args, cwd=ROOT, env=refresh_env, stdout=output, stderr=subprocess.STDOUT).returncode:
            # The log folder is removed at the end of the run: show the end of it now.
            raise RuntimeError(f"refresh_reference failed:\n{log.read_text(errors='replace')[-3000:]}")
    return time.perf_counter() - started


def run_listener(url: str, env: dict[str, str], log: Path, source: str = "replay") -> tuple[Usage, float]:
    """Run `manage.py stream --once` to the end; return its peak memory and when it exited."""
    listener_env = {**env, "POLYGON_WS_URL": url, "POLYGON_API_KEY": API_KEY}
    args = [sys.executable, str(ROOT / "manage.py"), "stream", "--once", "--source", source]
    process = subprocess.Popen(args, cwd=ROOT, env=listener_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    memory = PeakMemory(process.pid)
    _, status, usage = os.wait4(process.pid, 0)
    exited = time.time()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"the listener exited with {process.returncode}; see {log}")
    return Usage(memory.stop(), cpu_seconds(usage)), exited


def stop(process: subprocess.Popen, memory: PeakMemory) -> Usage:
    """Warm-stop the worker; its CPU time includes its pool processes, which it reaps."""
    peak_mb = memory.stop()
    process.send_signal(signal.SIGTERM)
    _, _, usage = os.wait4(process.pid, 0)
    return Usage(peak_mb, cpu_seconds(usage))


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
