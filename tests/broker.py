"""Reading queues back: the `ingest` queue as the listener's tests do, and any other."""

from __future__ import annotations

import time
from contextlib import suppress

from kombu import Connection, Queue


class IngestQueue:
    """Reads `trades.ingest_batch` messages back from the prefixed `ingest` queue."""

    def __init__(self, connection: Connection) -> None:
        self.queue = Queue("ingest", no_declare=True)(connection.default_channel)

    def purge(self) -> None:
        with suppress(Exception):
            self.queue.purge()

    def read(self, count: int, timeout: float = 10.0) -> list[tuple[list[str], dict]]:
        messages: list[tuple[list[str], dict]] = []
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            message = self.queue.get(no_ack=True)
            if message is None:
                time.sleep(0.02)
                continue
            assert message.headers["task"] == "trades.ingest_batch"
            args, kwargs, _embed = message.decode()
            received_at = kwargs.pop("received_at")  # when the listener had the first frame
            assert abs(time.time() - received_at) < 600, received_at
            messages.append((args[0], kwargs))
        return messages

    def read_frames(self, count: int, timeout: float = 10.0) -> list[str]:
        """The frames of as many messages as it takes to reach `count` frames."""
        frames: list[str] = []
        deadline = time.monotonic() + timeout
        while len(frames) < count and time.monotonic() < deadline:
            for message_frames, _kwargs in self.read(1, timeout=deadline - time.monotonic()):
                frames += message_frames
        return frames

    def is_empty(self) -> bool:
        return self.queue.get(no_ack=True) is None


class TaskQueue:
    """Any queue's task messages, read back: (task name, args) each."""

    def __init__(self, connection: Connection, name: str) -> None:
        self.queue = Queue(name, no_declare=True)(connection.default_channel)

    def purge(self) -> None:
        with suppress(Exception):
            self.queue.purge()

    def drain(self) -> list[tuple[str, list]]:
        tasks = []
        while (message := self.queue.get(no_ack=True)) is not None:
            args, _kwargs, _embed = message.decode()
            tasks.append((message.headers["task"], args))
        return tasks
