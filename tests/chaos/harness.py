"""The chaos harness: the whole pipeline on private servers, with faults injected mid-stream.

Each scenario gets its own PostgreSQL cluster and its own Redis (persistent: AOF, fsync always,
noeviction, as the README asks of production), so restarting them touches nothing else, and
runs the real processes against them: the local feed (in this process), `manage.py stream`,
Celery workers (with beat), and a webhook receiver. The tape holds known hits among noise;
after the fault, the scenario waits for every hit to be stored and delivered, then reports
expected, stored, lost, duplicated and the time to recover.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import psycopg
import redis

from tests import processes
from tests.receiver import Receiver
from trades.feed.server import FeedServer
from trades.feed.tape import Tape
from trades.feed.universe import load_reference_file
from trades.webhooks.signing import generate_secret

NY = ZoneInfo("America/New_York")
T0 = int(datetime(2025, 12, 5, 10, 30, tzinfo=NY).timestamp() * 1000)
API_KEY = "chaos-key"
SLOW_MARKER = b"FAULT:slow"  # tests/faulty_app.py makes a worker slow on a batch carrying it
PG_BIN = Path("/usr/lib/postgresql")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    processes.wait_for(condition, timeout, what, interval)


# --- Private servers ------------------------------------------------------------------------------


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb as the postgres user), restartable at will."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.bin = sorted(PG_BIN.glob("*/bin"))[-1]
        self.data = root / "data"
        root.mkdir(parents=True, exist_ok=True)
        shutil.chown(root, "postgres")
        self._as_postgres(self.bin / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: object) -> None:
        command = ["runuser", "-u", "postgres", "--", *map(str, args)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -c unix_socket_directories='' -c listen_addresses=127.0.0.1 -c fsync=off"
        log = self.root / "server.log"
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._as_postgres(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop")

    def query(self, sql: str, *params: Any) -> list[tuple]:
        with psycopg.connect(self.url, connect_timeout=5, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()


class PrivateRedis:
    """A redis-server of our own, with the persistence the guarantee needs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        root.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root)]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction"]
        log = (self.root / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self.answers, 10, "redis to answer")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                probe.sendall(b"PING\r\n")
                return probe.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM: Redis writes its AOF and exits, as on any orderly restart."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(20)
            self.process = None


# --- The tape: known hits among noise ----------------------------------------------------------------

CONTRACTS = [
    f"O:{root}251219{right}{strike * 1000:08d}"
    for root, strikes in (("AAPL", (190, 200)), ("MSFT", (400, 410)), ("NVDA", (120, 130)))
    for strike in strikes
    for right in "CP"
]


@dataclass(frozen=True)
class ChaosTape:
    """`trades` prints, one per millisecond from T0, in frames of `frame_size`; every `hit_every`-th
    is a $60,000 print (a hit of the chaos profile), the rest $500 of noise. The frame holding
    trade `slow_at` also carries a status event that tests/faulty_app.py makes a worker slow on."""

    trades: int = 4000
    hit_every: int = 50
    frame_size: int = 10
    slow_at: int | None = None

    def events(self) -> list[dict]:
        events = []
        for index in range(self.trades):
            hit = index % self.hit_every == self.hit_every // 2
            symbol = CONTRACTS[index % len(CONTRACTS)]
            price, size = (6.0, 100) if hit else (0.5, 10)
            event = {"ev": "T", "sym": symbol, "x": 302, "p": price, "s": size, "c": [209], "t": T0 + index}
            events.append(event | {"q": index + 1})
        return events

    def hits(self) -> set[tuple[str, int]]:
        return {(event["sym"], event["t"]) for event in self.events() if event["p"] == 6.0}

    def write(self, folder: Path) -> tuple[Path, Path]:
        events = self.events()
        tape = folder / "chaos.tape"
        with tape.open("wb") as out:
            for start in range(0, len(events), self.frame_size):
                frame = events[start : start + self.frame_size]
                if self.slow_at is not None and start <= self.slow_at < start + self.frame_size:
                    frame = [*frame, {"ev": "status", "status": "info", "message": SLOW_MARKER.decode()}]
                out.write(orjson.dumps(frame) + b"\n")
        reference = folder / "chaos-reference.json"
        reference.write_bytes(orjson.dumps(reference_universe()))
        return tape, reference


def reference_universe() -> dict[str, Any]:
    underlyings = {"AAPL": {"price": 195.0}, "MSFT": {"price": 405.0}, "NVDA": {"price": 125.0}}
    contracts = [
        {
            "ticker": symbol,
            "underlying_ticker": symbol[2:-15],
            "expiration_date": "2025-12-19",
            "contract_type": "call" if symbol[-9] == "C" else "put",
            "strike_price": int(symbol[-8:]) / 1000,
        }
        for symbol in CONTRACTS
    ]
    return {"underlyings": underlyings, "contracts": contracts}


CONFIGURE = """
from trades.models import FilterProfile, Watchlist, WatchedTicker, WebhookEndpoint
FilterProfile.objects.all().delete()
watchlist = Watchlist.objects.create(name="chaos")
for ticker in ("AAPL", "MSFT", "NVDA"):
    WatchedTicker.objects.create(watchlist=watchlist, symbol=ticker)
FilterProfile.objects.create(name="chaos", watchlist=watchlist, min_premium=50_000, min_dte=0, max_dte=30)
WebhookEndpoint.objects.create(name="desk", url={url!r}, secret={secret!r}, allow_private=True)
"""


# --- The pipeline ----------------------------------------------------------------------------------


@dataclass
class Figures:
    scenario: str
    expected: int
    stored: int
    lost: int
    duplicated: int
    spurious: int
    webhooks_expected: int
    webhooks_delivered: int
    recovery_seconds: float
    notes: dict[str, Any] = field(default_factory=dict)
    recovery: str = "recovered in"  # what recovery_seconds measured

    @property
    def webhooks_lost(self) -> int:
        return self.webhooks_expected - self.webhooks_delivered

    def line(self) -> str:
        extra = "".join(f", {key} {value}" for key, value in self.notes.items())
        return (
            f"CHAOS {self.scenario:<28} expected {self.expected}, stored {self.stored}, lost {self.lost}, "
            f"duplicated {self.duplicated}, spurious {self.spurious}; webhooks {self.webhooks_delivered}/"
            f"{self.webhooks_expected} delivered ({self.webhooks_lost} lost); "
            f"{self.recovery} {self.recovery_seconds:.1f} s{extra}"
        )


class Pipeline:
    """Feed (in this process), `manage.py stream`, workers with beat, a receiver, on private servers."""

    def __init__(
        self,
        root: Path,
        tape: ChaosTape,
        *,
        rate: float = 400.0,
        env: dict[str, str] | None = None,
        **feed_options: Any,
    ) -> None:
        self.root = root
        self.tape = tape
        self.rate = rate
        self.extra_env = env or {}
        self.feed_options = {"gap_trades": 0, **feed_options}  # one live timeline: never a replay
        self.postgres = PrivatePostgres(root / "pg")
        self.redis = PrivateRedis(root / "redis")
        self.receiver = Receiver(secret=generate_secret())
        self.workers: list[subprocess.Popen] = []
        self.stream: subprocess.Popen | None = None
        self.feed: FeedServer | None = None
        self._logs = Counter[str]()

    # --- lifecycle ---

    def start(self) -> None:
        self.postgres.start()
        self.redis.start()
        self.receiver.url = self.receiver.start()  # type: ignore[attr-defined]
        self.manage("migrate", "--no-input")
        self.manage("shell", "-c", CONFIGURE.format(url=self.receiver.url, secret=self.receiver.secret))  # type: ignore[attr-defined]
        tape_path, reference_path = self.tape.write(self.root)
        self.feed = FeedServer(
            api_key=API_KEY,
            source=Tape(tape_path),
            reference=load_reference_file(reference_path),
            rate=self.rate,
            **self.feed_options,
        )
        host, port = self.feed.start_in_thread()
        self.feed_url = f"http://{host}:{port}"
        self.start_worker()
        self.start_stream()

    def stop(self) -> None:
        for process in [self.stream, *self.workers]:
            if process is not None:
                processes.stop(process)
        if self.feed is not None:
            self.feed.stop()
        with suppress(Exception):
            self.receiver.stop()
        with suppress(Exception):
            self.redis.stop()
        with suppress(Exception):
            self.postgres.stop()

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": self.postgres.url,
            "CELERY_BROKER_URL": self.redis.url,
            "POLYGON_API_KEY": API_KEY,
            "POLYGON_WS_URL": self.feed_url.replace("http", "ws") if self.feed else "",
            "POLYGON_REST_URL": getattr(self, "feed_url", ""),
            "STREAM_STATS_SECONDS": "1",
            "STREAM_SUBSCRIPTION_REFRESH_SECONDS": "1",
            "STREAM_BATCH_MS": "50",
            "STREAM_GAP_MARGIN_MS": "0",
            "WEBHOOK_SWEEP_SECONDS": "1",
            "STREAM_GAP_SWEEP_SECONDS": "5",
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            **self.extra_env,
        }

    def manage(self, *args: str) -> None:
        done = subprocess.run(
            processes.manage(*args),
            cwd=processes.ROOT,
            env=processes.process_env(**self.env()),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def log(self, name: str) -> Path:
        self._logs[name] += 1
        return self.root / f"{name}-{self._logs[name]}.log"

    def start_worker(self) -> subprocess.Popen:
        worker = processes.start_worker(
            self.log("worker"),
            queues="ingest,orders,reference,webhooks",
            env=self.env(),
            beat=True,
            concurrency=2,
            app="tests.faulty_app",
        )
        self.workers.append(worker)
        return worker

    def start_stream(self) -> subprocess.Popen:
        self.stream = processes.start([*processes.manage("stream")], self.log("stream"), **self.env())
        return self.stream

    # --- faults ---

    def kill_workers(self) -> None:
        """SIGKILL every worker: the parent and its pool children (the whole process group)."""
        for worker in self.workers:
            processes.stop(worker, signal.SIGKILL)
        self.workers.clear()

    def restart_redis(self, down_seconds: float) -> None:
        self.redis.stop()
        time.sleep(down_seconds)
        self.redis.start()

    def restart_postgres(self, down_seconds: float) -> None:
        self.postgres.stop()
        time.sleep(down_seconds)
        self.postgres.start()

    def restart_stream(self, down_seconds: float) -> int:
        assert self.stream is not None
        code = processes.stop(self.stream, signal.SIGTERM)
        time.sleep(down_seconds)
        self.start_stream()
        return code

    # --- progress and results ---

    @property
    def position(self) -> int:
        """Trades the feed's live timeline has emitted (sent or gone by in a gap)."""
        assert self.feed is not None and self.feed._live is not None
        return self.feed._live.position

    def wait_for_position(self, trades: int, timeout: float = 60) -> None:
        wait_until(lambda: self.position >= trades, timeout, f"the feed to emit {trades} trades")

    def stored(self) -> Counter[tuple[str, int]]:
        rows = self.postgres.query("SELECT symbol, sip_timestamp FROM trades_optiontrade")
        return Counter((symbol, stamp) for symbol, stamp in rows)

    def stored_at(self) -> dict[tuple[str, int], float]:
        rows = self.postgres.query(
            "SELECT symbol, sip_timestamp, extract(epoch from received_at) FROM trades_optiontrade"
        )
        return {(symbol, stamp): float(at) for symbol, stamp, at in rows}

    def all_stored_and_delivered(self) -> bool:
        try:
            stored = self.stored()
        except psycopg.Error:
            return False
        hits = self.tape.hits()
        return hits <= set(stored) and len(set(self.receiver.ids_answered(200))) >= len(hits)

    def figures(self, scenario: str, fault_at: float, fault_position: int, **notes: Any) -> Figures:
        """Wait for every hit to be stored and delivered (up to 3 minutes), then count."""
        processes.eventually(self.all_stored_and_delivered, timeout=180, interval=0.25)
        time.sleep(1.5)  # a duplicate in flight would land now
        hits, stored = self.tape.hits(), self.stored()
        stored_at = self.stored_at()
        # Recovered: every hit traded up to the fault is stored, and the first one after it too.
        affected = sorted(hit for hit in hits if hit[1] - T0 < fault_position) or sorted(hits)
        after = sorted((hit for hit in hits if hit[1] - T0 >= fault_position), key=lambda hit: hit[1])[:1]
        recovered_at = max(stored_at[hit] for hit in [*affected, *after] if hit in stored_at)
        delivered = set(self.receiver.ids_answered(200))
        return Figures(
            scenario=scenario,
            expected=len(hits),
            stored=sum(1 for hit in hits if hit in stored),
            lost=len(hits - set(stored)),
            duplicated=sum(count - 1 for count in stored.values() if count > 1),
            spurious=len(set(stored) - hits),
            webhooks_expected=len(hits),
            webhooks_delivered=len(delivered),
            recovery_seconds=max(0.0, recovered_at - fault_at),
            notes=notes,
        )

    def holds_slow_batch(self) -> bool:
        """A worker holds the slow batch, unacknowledged (it is in kombu's unacked hash): the scenario
        kills a worker in the middle of the batch, not between two of beat's short ticks."""
        prefix = os.environ.get("CELERY_KEY_PREFIX", "")
        held = redis.Redis.from_url(self.redis.url).hvals(f"{prefix}unacked")
        return any(SLOW_MARKER in base64.b64decode(orjson.loads(value)[0]["body"]) for value in held)

    def alive(self) -> dict[str, bool]:
        named = {"stream": self.stream, **{f"worker{i}": worker for i, worker in enumerate(self.workers)}}
        return {name: process is not None and process.poll() is None for name, process in named.items()}


def run_dir(name: str) -> Path:
    """A folder for one scenario's servers and logs (kept after the run, for reading the logs)."""
    base = Path(os.environ.get("FLOWSITE_CHAOS_DIR") or tempfile.gettempdir())
    folder = Path(tempfile.mkdtemp(prefix=f"flowsite-chaos-{name}-", dir=base))
    folder.chmod(0o755)  # the postgres user runs the private cluster inside it
    return folder
