"""Polygon's WebSocket protocol, server side: status frames, control messages, subscriptions.

Pure functions and one small class, so tests can drive the protocol without a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from trades.feed.source import Frame, frame_from_events, is_trade

ALL_TRADES = "T.*"
TRADE_CHANNEL_PREFIX = "T."

MAX_CONNECTIONS_MESSAGE = (
    "Maximum number of websocket connections exceeded. You have been disconnected from the older connection."
)


def status_frame(status: str, message: str) -> str:
    return orjson.dumps([{"ev": "status", "status": status, "message": message}]).decode()


CONNECTED = status_frame("connected", "Connected Successfully")
AUTH_SUCCESS = status_frame("auth_success", "authenticated")
AUTH_FAILED = status_frame("auth_failed", "authentication failed")
AUTH_TIMEOUT = status_frame("auth_timeout", "No authentication request received.")
MAX_CONNECTIONS = status_frame("max_connections", MAX_CONNECTIONS_MESSAGE)


def error_frame(message: str) -> str:
    return status_frame("error", message)


class ProtocolError(ValueError):
    """A client message that is not a control message."""


@dataclass(frozen=True, slots=True)
class ControlMessage:
    action: str
    params: str


def parse_control(text: str | bytes) -> ControlMessage:
    """``{"action": ..., "params": ...}``, or raise ProtocolError."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ProtocolError("invalid message: not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("action"), str):
        raise ProtocolError("invalid message: expected an object with an action")
    params = message.get("params", "")
    if not isinstance(params, str):
        raise ProtocolError("invalid message: params must be a string")
    return ControlMessage(message["action"], params)


def split_channels(params: str) -> list[str]:
    """``"T.*, T.O:AAPL251220C00190000"`` → the channels, in order, without blanks or repeats."""
    channels = [channel.strip() for channel in params.split(",")]
    return list(dict.fromkeys(channel for channel in channels if channel))


@dataclass
class Subscriptions:
    """One connection's channels and what they let through."""

    channels: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.channels)

    @property
    def all_trades(self) -> bool:
        return ALL_TRADES in self.channels

    @property
    def trade_symbols(self) -> frozenset[str]:
        return frozenset(
            channel.removeprefix(TRADE_CHANNEL_PREFIX)
            for channel in self.channels
            if channel.startswith(TRADE_CHANNEL_PREFIX) and channel != ALL_TRADES
        )

    def select(self, frame: Frame) -> Frame | None:
        """What this connection gets of a frame: all of it under ``T.*``, else its symbols' trades."""
        if self.all_trades:
            return frame
        symbols = self.trade_symbols
        if not symbols:
            return None
        events = [item for item in frame.items() if is_trade(item) and item.get("sym") in symbols]
        return frame_from_events(events) if events else None


def handle_control(subscriptions: Subscriptions, text: str | bytes) -> list[str]:
    """Apply an authenticated client's message; return the status frames to answer with."""
    try:
        message = parse_control(text)
    except ProtocolError as exc:
        return [error_frame(str(exc))]
    if message.action == "subscribe":
        channels = split_channels(message.params)
        subscriptions.channels.update(channels)
        return [status_frame("success", f"subscribed to: {channel}") for channel in channels]
    if message.action == "unsubscribe":
        channels = split_channels(message.params)
        subscriptions.channels.difference_update(channels)
        return [status_frame("success", f"unsubscribed to: {channel}") for channel in channels]
    if message.action == "auth":
        return [error_frame("already authenticated")]
    return [error_frame(f"unknown action: {message.action}")]
