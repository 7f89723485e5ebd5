"""A real webhook receiver on 127.0.0.1 for the tests: it records every request, verifies the
Standard Webhooks signature with the `standardwebhooks` package (not our code), and answers
what the test tells it to.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int  # what the receiver answers
    signature_ok: bool
    answered: bool = False  # the answer was written (a hung request killed mid-wait never is)

    def json(self) -> Any:
        return json.loads(self.body)


# An answer: (status, headers, body); a callable gets the request number (0-based).
Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Receiver:
    secret: str = ""
    answer: Callable[[int], Answer] = field(default=lambda n: (200, {}, b"ok"))
    hang_seconds: Callable[[int], float] = field(default=lambda n: 0.0)
    requests: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    number = len(receiver.requests)
                    status, headers, answer = receiver.answer(number)
                    received = Received(
                        webhook_id=self.headers.get("webhook-id", ""),
                        headers={key.lower(): value for key, value in self.headers.items()},
                        body=body,
                        at=time.monotonic(),
                        status=status,
                        signature_ok=receiver.verifies(body, self.headers),
                    )
                    receiver.requests.append(received)
                time.sleep(receiver.hang_seconds(number))
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                self.wfile.flush()
                received.answered = True

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def verifies(self, body: bytes, headers: Any) -> bool:
        if not self.secret:
            return False
        try:
            Webhook(self.secret).verify(body, {key.lower(): value for key, value in headers.items()})
        except WebhookVerificationError:
            return False
        return True

    def ids_answered(self, status: int) -> list[str]:
        with self._lock:
            return [request.webhook_id for request in self.requests if request.answered and request.status == status]
