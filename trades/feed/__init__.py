"""The local feed: a Polygon-protocol options WebSocket server for demos, replays, tests and the benchmark."""

from trades.feed.server import DEFAULT_API_KEY, FeedServer, FeedStats
from trades.feed.source import Frame, PrebuiltSource, Source
from trades.feed.synthetic import DEFAULT_TICKERS, SyntheticFlow, pregenerate_frames
from trades.feed.tape import Tape, TapeError, read_tape

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_TICKERS",
    "FeedServer",
    "FeedStats",
    "Frame",
    "PrebuiltSource",
    "Source",
    "SyntheticFlow",
    "Tape",
    "TapeError",
    "pregenerate_frames",
    "read_tape",
]
