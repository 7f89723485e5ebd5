"""The webhook sender against real receivers on 127.0.0.1, and its SSRF guard.

Nothing here ever connects anywhere but loopback: an autouse fixture fails the test on any
connection to another address and on any real DNS lookup. Refusals are tested with literal
private addresses and with hostnames whose resolution is monkeypatched; the guard must refuse
before a socket is connected.

Checked against: Standard Webhooks (spec/standard-webhooks.md, "Delivery success and failure":
2xx is success, 3xx a failure, redirects not followed); RFC 9110 §10.2.3 Retry-After
(delay-seconds or an HTTP-date); Discord docs/topics/rate-limits ("Exceeding A Rate Limit": a
429 body ``{"message", "retry_after": <float seconds>, "global"}``).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.receiver import Receiver
from trades.webhooks import sender
from trades.webhooks.sender import (
    discord_retry_after,
    excerpt,
    non_public_kind,
    parse_retry_after,
    retry_after,
    send,
)

BODY = b'{"type":"trade.flagged"}'
HEADERS = {"Content-Type": "application/json", "webhook-id": "msg_test"}
GENEROUS = 5.0  # seconds: a bound on "it gave up", far above the timeouts used


def post(url: str, *, allow_private: bool = True, connect_timeout: float = 2.0, read_timeout: float = 2.0):
    return send(
        url, BODY, HEADERS, allow_private=allow_private, connect_timeout=connect_timeout, read_timeout=read_timeout
    )


# --- never leave the machine -----------------------------------------------------------------------

_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo


def _is_loopback(sockaddr: Any) -> bool:
    host = sockaddr[0] if isinstance(sockaddr, tuple) else str(sockaddr)
    return host in {"127.0.0.1", "::1", "localhost"} or str(host).startswith("127.")


class Network:
    """Records every connect and lookup; fails the test on anything that would leave loopback."""

    def __init__(self) -> None:
        self.connects: list[Any] = []
        self.lookups: list[str] = []
        self.names: dict[str, Callable[[int], list[str]]] = {}  # hostname → addresses per lookup number

    def resolve_as(self, host: str, *answers: list[str]) -> None:
        """``host`` resolves to answers[0] on the first lookup, answers[1] on the second, ..."""
        self.names[host] = lambda n: answers[min(n, len(answers) - 1)]


@pytest.fixture(autouse=True)
def network(monkeypatch) -> Iterator[Network]:
    net = Network()

    def connect(sock: socket.socket, address: Any) -> None:
        net.connects.append(address)
        if not _is_loopback(address):
            raise AssertionError(f"a test tried to connect to {address}")
        _real_connect(sock, address)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list:
        host = host.decode() if isinstance(host, bytes) else host
        if host in net.names:
            n = sum(1 for looked in net.lookups if looked == host)
            net.lookups.append(host)
            family = lambda ip: socket.AF_INET6 if ":" in ip else socket.AF_INET  # noqa: E731
            return [
                (family(ip), socket.SOCK_STREAM, 6, "", (ip, port) if ":" not in ip else (ip, port, 0, 0))
                for ip in net.names[host](n)
            ]
        net.lookups.append(host)
        if host in (None, "localhost") or sender._is_ip_literal(str(host)):
            return _real_getaddrinfo(host, port, *args, **kwargs)
        raise AssertionError(f"a test tried a real DNS lookup of {host}")

    def no_create_connection(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("socket.create_connection: the sender must connect to the vetted address itself")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", no_create_connection)
    yield net


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.url = receiver.start()  # type: ignore[attr-defined]
    yield receiver
    receiver.stop()


def url_of(receiver: Receiver) -> str:
    return receiver.url  # type: ignore[attr-defined]


# --- answers -------------------------------------------------------------------------------------


def test_a_200_with_the_start_of_its_body(receiver):
    receiver.answer = lambda n: (200, {}, b"thanks " + b"x" * 1000)
    result = post(url_of(receiver))
    assert (result.status_code, result.error, result.refused, result.retry_after) == (200, "", False, None)
    assert result.ok
    assert result.response_excerpt.startswith("thanks xxx") and len(result.response_excerpt) == 300
    assert result.duration_ms >= 0
    (request,) = receiver.requests
    assert request.body == BODY
    assert request.headers["webhook-id"] == "msg_test"
    assert request.headers["content-type"] == "application/json"


def test_a_500_is_an_answer_not_an_error(receiver):
    receiver.answer = lambda n: (500, {}, b"boom")
    result = post(url_of(receiver))
    assert (result.status_code, result.response_excerpt, result.error) == (500, "boom", "")
    assert not result.ok and not result.refused


def test_a_429_with_retry_after_seconds(receiver):
    receiver.answer = lambda n: (429, {"Retry-After": "7"}, b"slow down")
    result = post(url_of(receiver))
    assert (result.status_code, result.retry_after) == (429, 7.0)


def test_a_discord_429_body_says_how_long(receiver):
    answer = b'{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}'
    receiver.answer = lambda n: (429, {"Content-Type": "application/json"}, answer)
    result = post(url_of(receiver))
    assert (result.status_code, result.retry_after) == (429, 1.5)


def test_a_503_with_an_http_date_retry_after(receiver):
    later = datetime.now(UTC) + timedelta(seconds=120)
    receiver.answer = lambda n: (503, {"Retry-After": format_datetime(later, usegmt=True)}, b"maintenance")
    result = post(url_of(receiver))
    assert result.status_code == 503
    assert result.retry_after is not None and 100 <= result.retry_after <= 121


def test_a_redirect_is_not_followed(receiver):
    elsewhere = Receiver()
    elsewhere_url = elsewhere.start()
    try:
        receiver.answer = lambda n: (302, {"Location": elsewhere_url}, b"moved")
        result = post(url_of(receiver))
        assert (result.status_code, result.response_excerpt) == (302, "moved")
        assert not result.ok
        assert elsewhere.requests == []
    finally:
        elsewhere.stop()


def test_a_receiver_that_hangs_is_given_up_after_the_read_timeout(receiver):
    receiver.hang_seconds = lambda n: 3.0
    started = time.monotonic()
    result = post(url_of(receiver), read_timeout=0.5)
    elapsed = time.monotonic() - started
    assert result.status_code is None
    assert result.error.startswith("read timeout") and "0.5" in result.error
    assert elapsed < GENEROUS  # a bound on the timeout working, not a speed claim
    assert result.duration_ms >= 400  # it did wait for the answer before giving up


def test_a_closed_port_is_an_error_not_an_exception():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = post(f"http://127.0.0.1:{port}/hooks")
    assert result.status_code is None and not result.refused
    assert result.error.startswith("connection failed") and "127.0.0.1" in result.error


def test_a_connection_that_is_never_accepted_is_given_up_after_the_connect_timeout():
    """A listener whose accept queue is full: Linux drops further SYNs, so connecting hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        queued = []
        for _ in range(8):  # fill the accept queue; stop once a connect hangs
            probe = socket.socket()
            probe.settimeout(0.3)
            queued.append(probe)
            try:
                probe.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        else:
            pytest.skip("this kernel accepts every connection: cannot make connect hang")
        try:
            started = time.monotonic()
            result = post(f"http://127.0.0.1:{port}/", connect_timeout=0.5)
            elapsed = time.monotonic() - started
        finally:
            for probe in queued:
                probe.close()
    assert result.status_code is None and not result.refused
    assert result.error.startswith("connect timeout") and "0.5" in result.error
    assert elapsed < GENEROUS


def test_a_dns_failure_is_an_error_not_a_refusal(monkeypatch):
    def fail(*args: Any, **kwargs: Any) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    result = post("https://hooks.example.test/flow", allow_private=False)
    assert result.status_code is None and not result.refused
    assert result.error.startswith("DNS: could not resolve hooks.example.test")


def one_shot_server(answer: bytes) -> tuple[int, threading.Thread]:
    """A TCP server on 127.0.0.1 that reads a request, writes ``answer`` raw and closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(GENEROUS)

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], thread


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"", "connection error"),  # closed without a word
        (b"this is not HTTP\r\n\r\n", "connection error"),
    ],
)
def test_a_broken_answer_is_an_error_not_an_exception(answer, error):
    port, thread = one_shot_server(answer)
    result = post(f"http://127.0.0.1:{port}/")
    thread.join(GENEROUS)
    assert result.status_code is None and result.error.startswith(error)


def test_a_body_cut_short_keeps_the_status_and_says_so():
    port, thread = one_shot_server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
    result = post(f"http://127.0.0.1:{port}/")
    thread.join(GENEROUS)
    assert result.status_code == 200
    assert result.error.startswith("reading the answer")


# --- the guard -----------------------------------------------------------------------------------


def test_loopback_is_refused_unless_allowed_and_nothing_is_connected(receiver, network):
    result = post(url_of(receiver), allow_private=False)
    assert result.refused and result.status_code is None
    assert result.error == (
        "refused: 127.0.0.1 is a loopback address; allow private networks on the endpoint to send there"
    )
    assert network.connects == [] and receiver.requests == []


@pytest.mark.parametrize(
    ("url", "address", "kind"),
    [
        ("http://10.1.2.3/", "10.1.2.3", "private"),
        ("http://172.16.5.4:8080/x", "172.16.5.4", "private"),
        ("https://192.168.1.10/hook", "192.168.1.10", "private"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
        ("http://100.64.0.1/", "100.64.0.1", "carrier-grade NAT"),
        ("http://127.8.9.10/", "127.8.9.10", "loopback"),
        ("http://0.0.0.0:8000/", "0.0.0.0", "unspecified"),
        ("http://224.0.0.251/", "224.0.0.251", "multicast"),
        ("http://240.0.0.1/", "240.0.0.1", "reserved"),
        ("http://[fd00::1]/", "fd00::1", "private"),
        ("http://[::1]:9000/", "::1", "loopback"),
        ("http://[fe80::1]/", "fe80::1", "link-local"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", "loopback"),  # IPv4-mapped
        ("http://[::ffff:10.0.0.7]/", "::ffff:a00:7", "private"),
        ("http://[64:ff9b::a9fe:a9fe]/", "64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("http://[2002:a00:1::1]/", "2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_literal_private_addresses_are_refused_before_connecting(url, address, kind, network):
    result = post(url, allow_private=False)
    assert result.refused and result.status_code is None
    assert result.error.startswith(f"refused: {address} is a") and f" {kind} address" in result.error
    assert "allow private networks on the endpoint" in result.error
    assert network.connects == []


@pytest.mark.parametrize("address", ["10.0.0.7", "127.0.0.1", "169.254.169.254", "100.64.0.1", "fd00::1"])
def test_a_hostname_resolving_to_a_private_address_is_refused_before_connecting(address, network):
    network.resolve_as("hooks.example.test", [address])
    result = post("https://hooks.example.test/flow", allow_private=False)
    assert result.refused
    assert result.error.startswith(f"refused: {address} (resolved from hooks.example.test) is a")
    assert network.connects == []


def test_one_private_address_among_public_ones_is_enough_to_refuse(network):
    network.resolve_as("hooks.example.test", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "10.0.0.7"])
    result = post("https://hooks.example.test/flow", allow_private=False)
    assert result.refused and "10.0.0.7 (resolved from hooks.example.test) is a private address" in result.error
    assert network.connects == []


def test_the_connection_goes_to_the_vetted_address_even_if_dns_changes(receiver, network):
    """DNS rebinding: the first answer is checked and used; a later, different answer is never asked for."""
    port = receiver.server.server_address[1]
    network.resolve_as("hooks.example.test", ["127.0.0.1"], ["10.9.9.9"])
    result = post(f"http://hooks.example.test:{port}/hooks", allow_private=True)
    assert result.status_code == 200
    assert network.lookups.count("hooks.example.test") == 1
    assert [address[0] for address in network.connects] == ["127.0.0.1"]
    assert receiver.requests[0].headers["host"] == f"hooks.example.test:{port}"  # the name, not the IP


def test_when_one_address_does_not_answer_the_next_vetted_one_is_tried(receiver, network):
    port = receiver.server.server_address[1]
    network.resolve_as("hooks.example.test", ["::1", "127.0.0.1"])
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    result = post(f"http://hooks.example.test:{port}/hooks", allow_private=True)  # the receiver is IPv4 only
    assert result.status_code == 200
    assert [address[0] for address in network.connects] == ["::1", "127.0.0.1"]


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.test/", "file:///etc/passwd", "hooks.example.test/flow", "http://", "http://[::1"]
)
def test_urls_that_are_not_http_are_refused(url, network):
    result = post(url, allow_private=True)
    assert result.refused and result.error.startswith("refused: ")
    assert network.connects == []


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001:82b::200e", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass_the_guard(address):
    import ipaddress

    assert non_public_kind(ipaddress.ip_address(address)) is None


# --- TLS: the pinned address, the hostname's certificate ------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=hooks.example.test",
            "-addext",
            "subjectAltName=DNS:hooks.example.test",
            "-keyout",
            str(folder / "key.pem"),
            "-out",
            str(folder / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return folder


class TLSReceiver:
    def __init__(self, folder: Path) -> None:
        self.server_names: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)  # type: ignore[assignment,misc]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tls_receiver(certificate) -> Iterator[TLSReceiver]:
    receiver = TLSReceiver(certificate)
    yield receiver
    receiver.stop()


def test_tls_sends_the_hostname_and_checks_the_certificate(tls_receiver, network):
    network.resolve_as("hooks.example.test", ["127.0.0.1"])
    result = post(f"https://hooks.example.test:{tls_receiver.port}/hooks")
    assert result.status_code is None and not result.refused
    assert result.error.startswith("TLS error") and "certificate verify failed" in result.error
    assert tls_receiver.server_names == ["hooks.example.test"]  # SNI: the name, though we dialled 127.0.0.1
    assert [address[0] for address in network.connects] == ["127.0.0.1"]


def test_tls_succeeds_when_the_certificate_is_trusted_and_names_the_host(
    tls_receiver, certificate, network, monkeypatch
):
    monkeypatch.setattr(sender, "_ca_certs", lambda: str(certificate / "cert.pem"))
    network.resolve_as("hooks.example.test", ["127.0.0.1"])
    result = post(f"https://hooks.example.test:{tls_receiver.port}/hooks")
    assert (result.status_code, result.response_excerpt, result.error) == (200, "ok", "")


def test_tls_refuses_a_trusted_certificate_for_another_name(tls_receiver, certificate, network, monkeypatch):
    monkeypatch.setattr(sender, "_ca_certs", lambda: str(certificate / "cert.pem"))
    network.resolve_as("other.example.test", ["127.0.0.1"])
    result = post(f"https://other.example.test:{tls_receiver.port}/hooks")
    assert result.status_code is None and result.error.startswith("TLS error")
    assert "hostname" in result.error.lower() or "match" in result.error.lower()


# --- reading what came back ------------------------------------------------------------------------


def test_parse_retry_after():
    now = datetime(2025, 12, 5, 15, 30, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 120 ", now) == 120.0
    assert parse_retry_after("Fri, 05 Dec 2025 15:32:00 GMT", now) == 120.0
    assert parse_retry_after("Fri, 05 Dec 2025 15:00:00 GMT", now) == 0.0  # in the past: now
    for nonsense in [None, "", "soon", "-5", "1e9", "Fri, 99 Foo 2025"]:
        assert parse_retry_after(nonsense, now) is None


def test_discord_retry_after():
    assert discord_retry_after(b'{"retry_after": 64.57, "global": false}') == 64.57
    assert discord_retry_after(b'{"retry_after": 3}') == 3.0
    for nonsense in [b"", b"not json", b"[1]", b'{"retry_after": "5"}', b'{"retry_after": true}']:
        assert discord_retry_after(nonsense) is None
    for nonsense in [b'{"retry_after": -1}', b'{"retry_after": NaN}', b'{"retry_after": Infinity}', b"\xff\xfe"]:
        assert discord_retry_after(nonsense) is None


def test_retry_after_takes_the_longer_and_reads_the_body_only_on_429():
    assert retry_after(429, "2", b'{"retry_after": 3.5}') == 3.5
    assert retry_after(429, "9", b'{"retry_after": 3.5}') == 9.0
    assert retry_after(503, None, b'{"retry_after": 3.5}') is None
    assert retry_after(500, None, b"") is None


def test_the_excerpt_is_safe_to_store():
    assert excerpt(b"x" * 10_000) == "x" * 300
    assert excerpt(b"ok \xff\xfe\x00 done") == "ok \ufffd\ufffd\ufffd done"
    assert excerpt("é".encode() * 500) == "é" * 300
