"""A tiny local Polygon REST server for the reference-data tests.

Serves canned replies (the JSON fixtures under tests/fixtures/polygon/, or any body) by path and
query to the real polygon RESTClient, records every request, and can misbehave on purpose: hang,
answer 401, 403, 429 or 500, or send a page that is not JSON. And addresses where no server
answers at all: one that refuses connections, one that never completes them.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "polygon"
API_KEY = "test-key"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the server stops)
    drop: bool = False  # close the connection without an answer


def ok(body: bytes | dict[str, Any]) -> Reply:
    return Reply(body=body) if isinstance(body, bytes) else Reply(body=json.dumps(body).encode())


def status(code: int, **headers: str) -> Reply:
    return Reply(status=code, body=json.dumps({"status": "ERROR", "error": f"HTTP {code}"}).encode(), headers=headers)


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Route:
    path: str
    when: Callable[[dict[str, str]], bool]
    replies: list[Reply]


class PolygonServer:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.requests: list[Request] = []
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll: stop() waits for it, and the reference tests start one server each.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def on(self, path: str, *replies: Reply, when: Callable[[dict[str, str]], bool] | None = None) -> None:
        """Answer GET path (and query, if `when` says so) with these replies in turn; the last repeats.
        The route added last wins."""
        self.routes.insert(0, Route(path, when or (lambda query: True), list(replies)))

    def requests_to(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    def _reply_for(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            for route in self.routes:
                if route.path == request.path and route.when(request.query):
                    return route.replies.pop(0) if len(route.replies) > 1 else route.replies[0]
        return status(404)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {key: values[-1] for key, values in parse_qs(url.query).items()}
                reply = server._reply_for(Request(url.path, query, dict(self.headers.items())))
                if reply.hang:
                    server._released.wait(30)
                    return
                if reply.drop:
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        return Handler


@contextmanager
def serve_polygon(settings: Any) -> Iterator[PolygonServer]:
    """A running server, with the Django settings pointing the reference client at it."""
    server = PolygonServer()
    server.start()
    settings.POLYGON_REST_URL = server.url
    settings.POLYGON_API_KEY = API_KEY
    settings.POLYGON_REST_RETRIES = 2
    settings.POLYGON_REST_CONNECT_TIMEOUT = 2.0
    settings.POLYGON_REST_READ_TIMEOUT = 5.0
    try:
        yield server
    finally:
        server.stop()


def refusing_url() -> str:
    """An address where nothing listens: every connection is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def unanswered_connections_url() -> Iterator[str]:
    """An address whose connections are never completed (as behind a firewall that drops them):
    a listener that accepts nothing, its one-place queue taken, so the kernel drops new SYNs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            yield f"http://127.0.0.1:{port}"


# --- bodies in the documented shapes (tests/fixtures/polygon/contracts_A_page1.json) -----------------


def contract_item(symbol: str, underlying: str, shares: int = 100) -> dict[str, Any]:
    """One /v3/reference/options/contracts result, shaped like the documented example."""
    from trades.domain.occ import parse_occ

    option = parse_occ(symbol)
    return {
        "cfi": "OCASPS",
        "contract_type": "call" if option.right == "C" else "put",
        "exercise_style": "american",
        "expiration_date": option.expiry.isoformat(),
        "primary_exchange": "BATO",
        "shares_per_contract": shares,
        "strike_price": float(option.strike),
        "ticker": symbol,
        "underlying_ticker": underlying,
    }


def contracts_page(items: list[dict[str, Any]], next_cursor: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {"results": items, "status": "OK", "request_id": "local"}
    if next_cursor:
        page["next_url"] = f"https://api.polygon.io/v3/reference/options/contracts?cursor={next_cursor}"
    return page


def chain_item(symbol: str, open_interest: int | None, price: float | None = None) -> dict[str, Any]:
    """One /v3/snapshot/options/{underlying} result, shaped like chain_AAPL.json (no greeks: they may be missing)."""
    from trades.domain.occ import parse_occ

    option = parse_occ(symbol)
    item: dict[str, Any] = {
        "day": {},
        "details": {
            "contract_type": "call" if option.right == "C" else "put",
            "exercise_style": "american",
            "expiration_date": option.expiry.isoformat(),
            "shares_per_contract": 100,
            "strike_price": float(option.strike),
            "ticker": symbol,
        },
        "open_interest": open_interest,
    }
    if price is not None:
        item["underlying_asset"] = {"price": price, "ticker": "X", "timeframe": "DELAYED"}
    return item
