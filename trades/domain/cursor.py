"""The API's page cursor: where a walk through the flow, newest first, stopped.

A cursor is the (first print's SIP time, row id) of the last hit of a page, written as opaque
URL-safe text. The next page is every hit strictly older by that key, so a hit stored while a
client walks is never shown twice and never pushes an older one off a page (keyset pagination;
an offset would do both).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

_VERSION = "1"


class InvalidCursor(ValueError):
    """A cursor this API did not write (or one from another version of it)."""


@dataclass(frozen=True, order=True)
class Cursor:
    ts_ns: int
    id: int

    def encode(self) -> str:
        raw = f"{_VERSION}:{self.ts_ns}:{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """The cursor ``text`` stands for; InvalidCursor for anything ``Cursor.encode`` did not write."""
    if not text or len(text) > 80 or not text.isascii():
        raise InvalidCursor("not a cursor of this API")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor("not a cursor of this API") from error
    version, _, rest = raw.partition(":")
    ts_text, _, id_text = rest.partition(":")
    if version != _VERSION or not _is_number(ts_text) or not _is_number(id_text):
        raise InvalidCursor("not a cursor of this API")
    found = Cursor(int(ts_text), int(id_text))
    if found.encode() != text:  # one spelling per cursor: no padding games, no leading zeros
        raise InvalidCursor("not a cursor of this API")
    return found


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 20
