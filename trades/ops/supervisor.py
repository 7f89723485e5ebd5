"""Run several processes as one, honcho-style (`manage.py demo`): start them, prefix every line they
print with their name, and stop them all together (SIGTERM, a grace period, then SIGKILL)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

STOP_GRACE_SECONDS = 10.0


@dataclass
class Child:
    """One supervised process: a name for its output prefix and the command to run."""

    name: str
    argv: list[str]
    process: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Starts children, prefixes their output, and stops them all together."""

    def __init__(self, out: TextIO, env: dict[str, str], cwd: Path, grace: float = STOP_GRACE_SECONDS) -> None:
        self.out = out
        self.env = env
        self.cwd = cwd
        self.grace = grace
        self.children: list[Child] = []
        self.stop_requested = threading.Event()
        self.stop_reason = ""
        self._lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    def say(self, name: str, line: str) -> None:
        with self._lock:
            self.out.write(f"{time.strftime('%H:%M:%S')} {name:<6} | {line.rstrip()}\n")
            self.out.flush()

    def start(self, child: Child) -> None:
        # Each child leads its own process group: Ctrl-C reaches only the supervisor, which
        # then stops the children itself, and a SIGKILL to the group takes what a child forked.
        child.process = subprocess.Popen(
            child.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            process_group=0,
        )
        self.children.append(child)
        self.say("demo", f"started {child.name} (pid {child.process.pid}): {' '.join(child.argv)}")
        reader = threading.Thread(target=self._pump, args=(child,), daemon=True)
        reader.start()
        self._readers.append(reader)

    def _pump(self, child: Child) -> None:
        assert child.process is not None and child.process.stdout is not None
        for line in child.process.stdout:
            self.say(child.name, line)

    def request_stop(self, reason: str) -> None:
        """Safe in a signal handler: it only sets a flag (say() would take the output lock)."""
        self.stop_reason = reason
        self.stop_requested.set()

    def first_dead(self) -> Child | None:
        return next((child for child in self.children if not child.running), None)

    def check(self) -> int | None:
        """0 if a stop was requested, 1 if a child died, None while all is well."""
        if self.stop_requested.is_set():
            self.say("demo", f"{self.stop_reason or 'stop'} received")
            return 0
        dead = self.first_dead()
        if dead is not None:
            assert dead.process is not None
            self.say("demo", f"{dead.name} exited unexpectedly (exit code {dead.process.returncode})")
            return 1
        return None

    def wait(self, until: float | None = None) -> int:
        """Block until a stop is requested (0), time.monotonic() passes ``until`` (0) or a child dies (1)."""
        while (status := self.check()) is None:
            if until is not None and time.monotonic() >= until:
                self.say("demo", "time is up (--duration)")
                return 0
            self.stop_requested.wait(0.2)
        return status

    def stop_all(self) -> None:
        """SIGTERM each child (not its group: Celery stops its own pool), wait, then SIGKILL the group."""
        running = [child for child in self.children if child.running]
        if running:
            self.say("demo", f"stopping {', '.join(child.name for child in running)}")
        for child in running:
            assert child.process is not None
            child.process.terminate()
        deadline = time.monotonic() + self.grace
        waiting = list(running)
        while waiting and time.monotonic() < deadline:
            time.sleep(0.1)
            for child in [child for child in waiting if not child.running]:
                assert child.process is not None
                self.say("demo", f"{child.name} stopped (exit code {child.process.returncode})")
                waiting.remove(child)
        for child in waiting:
            if child.running:
                assert child.process is not None
                self.say("demo", f"{child.name} did not stop within {self.grace:g}s, killing it")
                with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                    os.killpg(child.process.pid, signal.SIGKILL)
        for child in self.children:
            assert child.process is not None
            child.process.wait()
        for reader in self._readers:
            reader.join(timeout=2)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True
