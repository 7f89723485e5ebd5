"""One webhook POST, made safely: it never raises on network trouble, never follows a redirect,
never waits without a bound, and never reaches a private network unless the endpoint allows it.

The SSRF guard judges the addresses the request will actually go to: the host is resolved here,
every address it resolves to must be globally routable (unless ``allow_private``), and the
connection is then made to exactly such a vetted address (a urllib3 connection whose socket is
pinned to it), so a DNS answer that changes between the check and the connect cannot slip
through. TLS still sends the hostname as SNI and checks the certificate against it; the Host
header carries the hostname too.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import socket
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationParseError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util import Timeout, make_headers, parse_url

EXCERPT_CHARS = 300
MAX_RESPONSE_BYTES = 64 * 1024  # read no more of an answer than this
MAX_ADDRESSES_TRIED = 3  # of a host's (vetted) addresses, when connecting to one fails
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CARRIER_GRADE_NAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SECONDS = re.compile(r"\d+(\.\d+)?")


@dataclass(frozen=True)
class SendResult:
    status_code: int | None  # None when no HTTP answer came back
    duration_ms: int
    response_excerpt: str = ""  # the start of the answer's body, decoded leniently
    error: str = ""  # what went wrong when there is no answer (or it could not be read)
    retry_after: float | None = None  # seconds the receiver asked us to wait
    refused: bool = False  # the guard would not send there: retrying will not help

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def failure(self) -> str:
        """What went wrong, in a few words ("503 Service Unavailable", "read timeout: …"); "" if ok."""
        return "" if self.ok else failure_text(self.status_code, self.error)


def failure_text(status_code: int | None, error: str) -> str:
    """A failed attempt in a few words: the status with its reason phrase, or the error."""
    if status_code is None:
        return error
    try:
        return f"{status_code} {HTTPStatus(status_code).phrase}"
    except ValueError:  # a status no RFC names
        return f"HTTP {status_code}"


@dataclass(frozen=True)
class Address:
    """One resolved address of the target, as ``socket.connect`` takes it."""

    family: int
    sockaddr: tuple[Any, ...]

    @property
    def ip(self) -> str:
        return str(self.sockaddr[0])


class Refused(Exception):
    """The request must not be made (a bad URL, or the guard said no)."""


def send(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    connect_timeout: float,
    read_timeout: float,
) -> SendResult:
    """POST ``body`` to ``url``, once. Every failure is a SendResult, never an exception."""
    started = time.monotonic()

    def result(**fields: Any) -> SendResult:
        return SendResult(duration_ms=round((time.monotonic() - started) * 1000), **fields)

    try:
        target = parse_url(url)
        scheme, host, port = _target(target.scheme, target.host, target.port)
    except (Refused, LocationParseError) as exc:
        return result(status_code=None, error=f"refused: {exc}", refused=True)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as exc:
        return result(status_code=None, error=f"DNS: could not resolve {host}: {exc}")
    if not allow_private:
        problem = refusal(host, addresses)
        if problem:
            return result(status_code=None, error=problem, refused=True)

    request_headers = dict(headers)
    if target.auth:
        request_headers.update(make_headers(basic_auth=unquote(target.auth)))
    timeout = Timeout(connect=connect_timeout, read=read_timeout)
    error = ""
    for address in addresses[:MAX_ADDRESSES_TRIED]:
        pool = _pool(scheme, host, port, address, timeout)
        try:
            response = pool.urlopen(
                "POST",
                target.request_uri,
                body=body,
                headers=request_headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except (ConnectTimeoutError, NewConnectionError) as exc:  # not connected: the next address
            error = _describe(exc, address, port, timeout)
            pool.close()
            continue
        except (HTTPError, OSError) as exc:
            pool.close()
            return result(status_code=None, error=_describe(exc, address, port, timeout))
        try:
            return result(**_answer(response, address, port, timeout))
        finally:
            response.release_conn()
            pool.close()
    return result(status_code=None, error=error)


# --- the target and the guard ---------------------------------------------------------------------


def _target(scheme: str | None, host: str | None, port: int | None) -> tuple[str, str, int]:
    if scheme not in DEFAULT_PORTS:
        raise Refused(f"the URL's scheme must be http or https, not {scheme!r}")
    if not host:
        raise Refused("the URL has no host")
    return scheme, host.strip("[]"), DEFAULT_PORTS[scheme] if port is None else port


def resolve(host: str, port: int) -> list[Address]:
    """Every TCP address of ``host`` (an IP literal is not looked up), in the resolver's order."""
    flags = socket.AI_NUMERICHOST if _is_ip_literal(host) else 0
    found: list[Address] = []
    for family, _type, _proto, _name, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=flags):
        address = Address(int(family), tuple(sockaddr))
        if family in (socket.AF_INET, socket.AF_INET6) and address not in found:
            found.append(address)
    if not found:
        raise OSError(f"no IPv4 or IPv6 address for {host}")
    return found


def refusal(host: str, addresses: list[Address]) -> str:
    """Why the request may not go to these addresses ("" if it may): any one not public is enough."""
    for address in addresses:
        ip = ipaddress.ip_address(address.ip.split("%", 1)[0])
        kind = non_public_kind(ip)
        if kind:
            origin = "" if _is_ip_literal(host) else f" (resolved from {host})"
            article = "an" if kind[0] in "aeiou" else "a"
            return (
                f"refused: {ip}{origin} is {article} {kind} address; "
                "allow private networks on the endpoint to send there"
            )
    return ""


def non_public_kind(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is, or None if it is globally routable.

    An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, 6to4 2002::/16, NAT64
    64:ff9b::/96) is judged by that IPv4 address: that is where the packets end up.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return non_public_kind(embedded)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CARRIER_GRADE_NAT:
        return "carrier-grade NAT"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-public"
    return None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


# --- the connection, pinned to the vetted address ------------------------------------------------------


class _PinnedHTTPConnection(HTTPConnection):
    """Connects to the vetted address, whatever ``host`` resolves to by now."""

    def __init__(self, *args: Any, pinned: Address, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pinned = pinned

    def _new_conn(self) -> socket.socket:
        sock = socket.socket(self.pinned.family, socket.SOCK_STREAM)
        try:
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(self.timeout)
            sock.connect(self.pinned.sockaddr)
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(self, f"connection to {self.pinned.ip} timed out") from exc
        except OSError as exc:
            sock.close()
            raise NewConnectionError(self, f"could not connect to {self.pinned.ip}: {exc}") from exc
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


class _PinnedHTTPSConnection(_PinnedHTTPConnection, HTTPSConnection):
    """The pinned socket, then TLS as usual: SNI and certificate checks use the hostname."""


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


def _pool(scheme: str, host: str, port: int, address: Address, timeout: Timeout) -> HTTPConnectionPool:
    if scheme == "https":
        return _PinnedHTTPSPool(
            host, port, timeout=timeout, maxsize=1, cert_reqs="CERT_REQUIRED", ca_certs=_ca_certs(), pinned=address
        )
    return _PinnedHTTPPool(host, port, timeout=timeout, maxsize=1, pinned=address)


def _ca_certs() -> str | None:
    """certifi's bundle when installed (it comes with urllib3's usual company), else the system's."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - depends on the installation
        return None
    return certifi.where()


# --- the answer ----------------------------------------------------------------------------------------


def _answer(response: BaseHTTPResponse, address: Address, port: int, timeout: Timeout) -> dict[str, Any]:
    status = response.status
    try:
        content = response.read(MAX_RESPONSE_BYTES)
        error = ""
    except (HTTPError, OSError) as exc:  # the status came; the body did not
        content, error = b"", f"reading the answer: {_describe(exc, address, port, timeout)}"
    ok = 200 <= status < 300
    return {
        "status_code": status,
        "response_excerpt": excerpt(content),
        "error": error,
        "retry_after": None if ok else retry_after(status, response.headers.get("Retry-After"), content),
    }


def excerpt(content: bytes, limit: int = EXCERPT_CHARS) -> str:
    """The start of a body as text: undecodable bytes and NULs (PostgreSQL refuses them) replaced."""
    text = content[: limit * 4].decode("utf-8", errors="replace")
    return text[:limit].replace("\x00", "\ufffd").strip()


def retry_after(status: int, header: str | None, content: bytes, now: datetime | None = None) -> float | None:
    """Seconds to wait as the receiver asked: the Retry-After header (seconds or an HTTP-date), or
    on a 429 Discord's JSON ``retry_after`` (seconds, a float); the longer of the two."""
    asked = [parse_retry_after(header, now)]
    if status == 429:
        asked.append(discord_retry_after(content))
    waits = [wait for wait in asked if wait is not None]
    return max(waits) if waits else None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if _SECONDS.fullmatch(value):
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def discord_retry_after(content: bytes) -> float | None:
    """``retry_after`` from a Discord rate-limit answer (docs/topics/rate-limits): ``{"message":
    ..., "retry_after": 64.57, "global": false}``."""
    try:
        answer = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    wait = answer.get("retry_after") if isinstance(answer, dict) else None
    if isinstance(wait, bool) or not isinstance(wait, int | float):
        return None
    if not math.isfinite(wait) or wait < 0:
        return None
    return float(wait)


def _describe(exc: BaseException, address: Address, port: int, timeout: Timeout) -> str:
    """A short, readable account of a failure (urllib3's own messages name its objects)."""
    cause = exc.__cause__ or exc
    if isinstance(exc, NewConnectionError):
        return f"connection failed: {address.ip} port {port}: {cause}"
    if isinstance(exc, ConnectTimeoutError):
        return f"connect timeout: no connection to {address.ip} port {port} within {timeout.connect_timeout} s"
    if isinstance(exc, ReadTimeoutError):
        return f"read timeout: no answer within {timeout.read_timeout} s"
    if isinstance(exc, SSLError):
        return f"TLS error: {cause}"
    if isinstance(exc, ProtocolError):
        reason = exc.args[1] if len(exc.args) > 1 else exc
        return f"connection error: {reason!r}"
    return f"{type(exc).__name__}: {exc}"
