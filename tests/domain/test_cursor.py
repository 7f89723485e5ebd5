"""The API's page cursor: every cursor it writes reads back; anything else a client sends is an
InvalidCursor (a 400 naming ``cursor``), never another exception and never a different cursor."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trades.domain.cursor import Cursor, InvalidCursor, decode_cursor

KEYS = st.integers(min_value=0, max_value=10**19)


@given(KEYS, KEYS)
def test_every_cursor_reads_back(ts_ns: int, row_id: int):
    cursor = Cursor(ts_ns, row_id)
    text = cursor.encode()
    assert decode_cursor(text) == cursor
    assert text.isascii() and "=" not in text and "/" not in text and "+" not in text  # URL-safe as it is


@given(st.text(max_size=100))
def test_any_text_is_a_cursor_we_wrote_or_refused(text: str):
    try:
        found = decode_cursor(text)
    except InvalidCursor:
        return
    assert found.encode() == text


@given(st.binary(max_size=60))
def test_any_bytes_behind_base64_are_a_cursor_we_wrote_or_refused(raw: bytes):
    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    try:
        found = decode_cursor(text)
    except InvalidCursor:
        return
    assert found.encode() == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "MTox",
        "MToxOjI=",
        base64.urlsafe_b64encode(b"2:1:2").decode(),
        base64.urlsafe_b64encode(b"1:-1:2").decode(),
    ],
)
def test_malformed_cursors_are_refused(text: str):
    with pytest.raises(InvalidCursor):
        decode_cursor(text)


def test_a_cursor_orders_as_the_flow_does():
    assert Cursor(5, 1) < Cursor(5, 2) < Cursor(6, 0)
