"""Tape files: one JSON array of events per line, replayed verbatim.

Blank lines and lines starting with ``#`` are skipped. Every other line is a frame as it is,
malformed or not (tests replay broken lines on purpose); only the line ending is removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from trades.feed.source import Frame, frame_from_payload


class TapeError(Exception):
    """The tape cannot be read."""


class Tape:
    def __init__(self, path: Path | str, loop: bool = False) -> None:
        self.path = Path(path)
        self.loop = loop
        check_readable(self.path)

    def frames(self, frame_size: int) -> Iterator[Frame]:
        """The tape's lines as frames (``frame_size`` does not apply: a line is a frame)."""
        while True:
            replayed = 0
            for frame in read_frames(self.path):
                replayed += 1
                yield frame
            if not self.loop or replayed == 0:
                return

    def __str__(self) -> str:
        return f"tape {self.path}{' (looping)' if self.loop else ''}"


def check_readable(path: Path) -> None:
    if not path.is_file():
        raise TapeError(f"tape {path} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise TapeError(f"tape {path} is not readable")


def read_frames(path: Path) -> Iterator[Frame]:
    with path.open("rb") as tape:
        for line in tape:
            payload = line.rstrip(b"\r\n")
            if is_frame_line(payload):
                yield frame_from_payload(payload)


def is_frame_line(line: bytes) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith(b"#")


def read_tape(path: Path | str, loop: bool = False) -> Tape:
    """A tape file as a feed source; raises TapeError if it cannot be read."""
    return Tape(path, loop=loop)
