"""``manage.py demo``: the little process supervisor, then the whole pipeline end to end."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.core.management import load_command_class
from kombu import Connection

from trades.management.commands.demo import Command
from trades.ops.supervisor import Child, Supervisor

ROOT = Path(__file__).resolve().parents[2]
SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def supervisor(grace: float = 5.0) -> Supervisor:
    return Supervisor(io.StringIO(), dict(os.environ), ROOT, grace=grace)


def output(sup: Supervisor) -> str:
    assert isinstance(sup.out, io.StringIO)
    return sup.out.getvalue()


def wait_for_line(sup: Supervisor, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in output(sup):
        assert time.monotonic() < deadline, f"{text!r} never printed:\n{output(sup)}"
        time.sleep(0.05)


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (Linux /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_duration_over_stops_children_and_prefixes_their_output():
    sup = supervisor()
    sup.start(Child("sleepy", python(SLEEPER)))
    wait_for_line(sup, "sleepy | ready")
    assert sup.wait(until=time.monotonic() + 0.5) == 0
    sup.stop_all()
    assert not sup.children[0].running
    assert "time is up (--duration)" in output(sup)


def test_stop_request_is_a_clean_stop():
    sup = supervisor()
    sup.start(Child("sleepy", python(SLEEPER)))
    sup.request_stop("SIGTERM")
    assert sup.wait() == 0
    sup.stop_all()
    assert "SIGTERM received" in output(sup)


def test_a_dying_child_stops_the_rest_with_failure():
    sup = supervisor()
    sup.start(Child("sleepy", python(SLEEPER)))
    sup.start(Child("crashy", python("import sys; sys.exit(3)")))
    assert sup.wait(until=time.monotonic() + 30) == 1
    sup.stop_all()
    assert "crashy exited unexpectedly (exit code 3)" in output(sup)
    assert not sup.children[0].running


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period():
    sup = supervisor(grace=0.5)
    stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + SLEEPER
    sup.start(Child("stubborn", python(stubborn)))
    wait_for_line(sup, "stubborn | ready")
    sup.stop_all()
    process = sup.children[0].process
    assert process is not None and process.returncode == -signal.SIGKILL
    assert "stubborn did not stop within 0.5s, killing it" in output(sup)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_killing_a_stuck_child_kills_what_it_forked():
    sup = supervisor(grace=0.5)
    forks = (
        "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('grandchild', p.pid, flush=True); time.sleep(60)"
    )
    sup.start(Child("parent", python(forks)))
    wait_for_line(sup, "parent | grandchild")
    grandchild = int(output(sup).split("grandchild ")[1].split()[0])
    sup.stop_all()
    deadline = time.monotonic() + 5
    while is_alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_alive(grandchild)


def test_the_feed_accepts_the_demo_command_line():
    options = {"port": 8000, "feed_port": 18765, "rate": 300, "duration": None}
    parser = load_command_class("trades", "feed").create_parser("manage.py", "feed")
    parsed = parser.parse_args(Command().feed_args(options))
    assert (parsed.host, parsed.port, parsed.rate) == ("127.0.0.1", 18765, 300)
    assert {"AAPL", "NVDA", "SPY", "QQQ"} <= set(parsed.tickers)


# --- the demo's broker ---------------------------------------------------------------------


def test_the_filesystem_broker_shows_a_message_only_once_it_is_whole(tmp_path, monkeypatch):
    """kombu's own transport creates the file, then writes it: a fast worker can read it empty."""
    folders = {name: tmp_path / name for name in ("queue", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
    }
    before_rename: list[tuple[list[str], bytes]] = []
    rename = Path.replace

    def watch_rename(self: Path, target: Path) -> Path:
        before_rename.append(([path.name for path in folders["queue"].iterdir()], self.read_bytes()))
        return rename(self, target)

    monkeypatch.setattr(Path, "replace", watch_rename)
    transport = "flowsite.broker:FilesystemTransport"
    with Connection("filesystem://", transport=transport, transport_options=options) as connection:
        queue = connection.SimpleQueue("ingest")
        queue.put({"frames": ["[]"]})
        [(names, content)] = before_rename
        assert len(names) == 1 and names[0].endswith(".ingest.msg.part"), names
        assert json.loads(content)["properties"]["delivery_info"]["routing_key"] == "ingest"  # whole JSON
        message = queue.get(timeout=1)
        assert message.payload == {"frames": ["[]"]}
        message.ack()
        queue.close()


# --- end to end ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def smart_money(port: int) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/pulse/smart-money?limit=5", timeout=5) as response:
        return list(json.load(response)["results"])


def read_json(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return dict(json.load(response))


def order_hits(port: int) -> list[dict[str, object]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/pulse/orders?limit=100", timeout=5) as response:
        return list(json.load(response)["results"])


def sided(orders: list[dict[str, object]]) -> list[dict[str, object]]:
    """Orders of the live stream (not the history backfilled at start) whose side came from a quote
    the feed served."""
    return [
        order
        for order in orders
        if order["source"] == "live" and order["aggressor"] in ("BUY", "SELL", "NEUTRAL", "MIXED")
    ]


def wait_for_hits(port: int, demo: subprocess.Popen[bytes], timeout: float, read=smart_money):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert demo.poll() is None, f"the demo exited early with {demo.returncode}"
        try:
            if hits := read(port):
                return hits
        except OSError:
            pass  # the web server is not up yet
        time.sleep(1)
    raise AssertionError(f"no hits from {read.__name__} within {timeout:g}s")


@pytest.mark.e2e
def test_demo_serves_smart_money_hits_on_the_embedded_default(tmp_path):
    """A fresh var dir, no DATABASE_URL or CELERY_BROKER_URL: SQLite plus the filesystem broker."""
    web_port, feed_port = free_port(), free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "LANG": "C.UTF-8",
        "FLOWSITE_VAR_DIR": str(tmp_path / "var"),
        "FLOWSITE_DOTENV": str(tmp_path / ".env"),  # none: as on a fresh clone (and DEBUG unset, as `make demo`)
    }
    log_path = tmp_path / "demo.log"
    # --duration is the safety net: the demo ends itself even if this test dies.
    command = ["manage.py", "demo", "--duration", "150", "--port", str(web_port), "--feed-port", str(feed_port)]
    command += ["--history-days", str(HISTORY_DAYS)]
    with log_path.open("wb") as log:
        demo = subprocess.Popen([sys.executable, *command], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            hits = wait_for_hits(web_port, demo, timeout=60)
            orders = wait_for_hits(web_port, demo, timeout=90, read=lambda port: sided(order_hits(port)))
            time.sleep(STEADY_SECONDS)  # a few stats lines' worth of steady output
            summary = read_json(web_port, "/api/summary")  # the board's strip, on SQLite
            demo.send_signal(signal.SIGTERM)
            exit_code = demo.wait(timeout=30)
        finally:
            if demo.poll() is None:
                demo.send_signal(signal.SIGTERM)
                demo.wait(timeout=30)
    log_text = log_path.read_text(errors="replace")
    assert exit_code == 0, log_text
    assert hits, log_text
    # Orders too (the shipped "sweeps" profile), sided against the quotes the feed serves, logged by type.
    assert {order["order_type"] for order in orders} <= {"SWEEP", "BLOCK"} and orders, log_text
    assert re.search(r"💰 Smart Money: (GOLDEN )?(SWEEP|BLOCK)", log_text), log_text
    assert re.search(r"worker +\| .*💰 Smart Money: O:", log_text), log_text  # live print hits, not only history
    # History first: the feed's last trading days from its flat files, their orders' outcomes.
    done = rf"backfill: {HISTORY_DAYS} of {HISTORY_DAYS} units done, 0 failed, 0 not entitled; .* trades judged"
    assert re.search(done, log_text), log_text
    assert re.search(r"outcomes: \d+ orders with a direction measured", log_text), log_text
    # Insight sentences: the newest of the history's, then each live order's on its log line.
    sentence = r"[A-Z]+ \$[\d.]+ (calls|puts) \d+/\d+ \(\d+ DTE.*\): \$[\d.]+[KM]? premium in the last 30 minutes"
    assert re.search(r"backfill \|   " + sentence, log_text), log_text
    assert re.search(r"worker +\| .*💰 Smart Money: .*\] " + sentence, log_text), log_text
    assert summary["results"] and all(row["hits"] > 0 for row in summary["results"]), summary
    assert "superuser: admin / admin (created)" in log_text
    assert "SIGTERM received" in log_text
    # Quiet output: a bounded start-up (no Celery banners, one line per reference refresh step),
    # then hits and the listener's stats lines, with task chatter at debug.
    startup, steady, share = output_shares(log_text)
    print(f"demo output: {startup} start-up lines, then {steady} lines of which {share:.0%} hits and stats")
    assert startup <= 70, log_text
    assert share >= 0.75, log_text  # 95-100 % seen; a beat refresh line a minute may fall in the window
    assert "Decimal(" not in log_text and "Task trades." not in log_text


STEADY_SECONDS = 5
HISTORY_DAYS = 2  # the default ten take five times as long; two still give a day's outcomes
HIT, STATS = "💰 Smart Money:", "📊"


def output_shares(log_text: str) -> tuple[int, int, float]:
    """Start-up lines (until the listener subscribed), steady lines, and the share of hits and
    stats lines among the steady ones (until the stop; the web server's request lines aside)."""
    lines = log_text.splitlines()
    subscribed = next(i for i, line in enumerate(lines) if "📡 Subscribed to" in line)
    stop = next(i for i, line in enumerate(lines) if "SIGTERM received" in line)
    # Without the web server's request lines: this test's own polling of the API makes them.
    steady = [line for line in lines[subscribed + 1 : stop] if " web    | " not in line]
    useful = sum(HIT in line or STATS in line for line in steady)
    return subscribed + 1, len(steady), useful / max(len(steady), 1)
