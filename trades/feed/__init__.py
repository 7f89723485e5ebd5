"""The local feed: a Polygon-protocol options WebSocket server, with Polygon's REST API on the same
port, for demos, replays, tests and the benchmark."""

from trades.feed.market import DEFAULT_TICKERS
from trades.feed.server import DEFAULT_API_KEY, FeedServer, FeedStats
from trades.feed.source import Frame, PrebuiltSource, Source
from trades.feed.synthetic import SyntheticFlow, pregenerate_frames
from trades.feed.tape import Tape, TapeError, read_tape
from trades.feed.trade_log import TradeLog
from trades.feed.universe import (
    Contract,
    Reference,
    ReferenceFileError,
    SyntheticReference,
    Underlying,
    Universe,
    load_reference_file,
)

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_TICKERS",
    "Contract",
    "FeedServer",
    "FeedStats",
    "Frame",
    "PrebuiltSource",
    "Reference",
    "ReferenceFileError",
    "Source",
    "SyntheticFlow",
    "SyntheticReference",
    "Tape",
    "TapeError",
    "TradeLog",
    "Underlying",
    "Universe",
    "load_reference_file",
    "pregenerate_frames",
    "read_tape",
]
