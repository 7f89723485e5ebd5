"""Where the listener connects, from settings: the Polygon feed or an explicit URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from polygon import WebSocketClient
from polygon.websocket.models import Feed, Market


class StreamConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ClientOptions:
    api_key: str
    feed: Feed | str  # a Feed, or "host:port" from POLYGON_WS_URL
    secure: bool

    @property
    def url(self) -> str:
        host = self.feed.value if isinstance(self.feed, Feed) else self.feed
        return f"ws{'s' if self.secure else ''}://{host}/{Market.Options.value}"

    def build_client(self, channels: list[str]) -> WebSocketClient:
        return WebSocketClient(
            api_key=self.api_key,
            feed=self.feed,
            market=Market.Options,
            secure=self.secure,
            raw=True,
            subscriptions=list(channels),
            # Error closes come back to our supervisor, which reconnects with backoff.
            max_reconnects=0,
        )


def client_options() -> ClientOptions:
    api_key: str = settings.POLYGON_API_KEY
    if not api_key:
        raise StreamConfigError("POLYGON_API_KEY is not set: the listener needs a Polygon/Massive API key")
    if settings.POLYGON_WS_URL:
        host, secure = parse_ws_url(settings.POLYGON_WS_URL)
        return ClientOptions(api_key=api_key, feed=host, secure=secure)
    feed = Feed.RealTime if settings.POLYGON_FEED == "realtime" else Feed.Delayed
    return ClientOptions(api_key=api_key, feed=feed, secure=True)


def parse_ws_url(url: str) -> tuple[str, bool]:
    """`ws://host:port` or `wss://host` → ("host:port", secure). The path is the market's."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise StreamConfigError(f"POLYGON_WS_URL must look like ws://host:port or wss://host, not {url!r}")
    if parts.path.strip("/") not in ("", Market.Options.value):
        raise StreamConfigError(f"POLYGON_WS_URL must not carry a path other than /options: {url!r}")
    return parts.netloc, parts.scheme == "wss"


def parse_channels(text: str) -> list[str]:
    """`--channels "T.*, T.O:AAPL..."` → ["T.*", "T.O:AAPL..."]."""
    return [channel.strip() for channel in text.split(",") if channel.strip()]
