"""Webhook URLs that cannot be turned against our own network, and the one POST we make.

Pure (standard library only): the caller says whether private addresses are allowed
(``SHIELDX_WEBHOOK_ALLOW_PRIVATE``), so tests and private networks can lift the rule.

SSRF: a tenant chooses the URL and we connect to it from inside our network, so a URL
that reaches loopback, private, link-local (cloud metadata at 169.254.169.254), shared or
reserved addresses is refused when it is set (``check``), and again at every delivery,
because the name may resolve elsewhere by then (DNS rebinding). The delivery connects to
the very address it checked (no second lookup between check and connect) and presents
the host name for TLS, so the certificate is still verified for the name. Redirects are
never followed (a 3xx is a failed attempt), and every step has a timeout.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
# Whatever the receiver does (a byte every few seconds), one attempt ends by then.
TOTAL_TIMEOUT = 15.0
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")

Resolver = Callable[[str, int], list[str]]


class UrlRefused(ValueError):
    """Why a webhook URL cannot be used; the message never repeats the URL."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]  # the resolved addresses, all allowed


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the HTTP status, None when no answer came
    error: str = ""  # a fixed word when no answer came (never the receiver's text)

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return ip.is_global and not ip.is_multicast


def check(url: str, *, allow_private: bool, resolver: Resolver = resolve) -> Target:
    """The URL's target when it may be used; ``UrlRefused`` otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or _UNSAFE_CHARACTERS.search(url):
        raise UrlRefused("The webhook URL is not a valid URL.")
    if not url.isascii():  # what goes on the wire is ASCII: punycode the host, percent-encode the rest
        raise UrlRefused("The webhook URL must be ASCII (an IDN host in punycode, other characters percent-encoded).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("The webhook URL is not a valid URL.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise UrlRefused("The webhook URL must use https.")
    if not parts.hostname:
        raise UrlRefused("The webhook URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("The webhook URL must not carry credentials; the signature authenticates us.")
    if parts.fragment:
        raise UrlRefused("The webhook URL must not have a fragment.")
    if port == 0:
        raise UrlRefused("The webhook URL is not a valid URL.")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError):
        addresses = []
    if not addresses:
        raise UrlRefused("The webhook URL's host does not resolve.")
    if not allow_private and not all(_allowed(address) for address in addresses):
        raise UrlRefused("The webhook URL resolves to a loopback, private, link-local or reserved address.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, path, tuple(addresses))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever the name resolves to now."""

    def __init__(self, target: Target, address: str) -> None:
        super().__init__(target.host, target.port, timeout=CONNECT_TIMEOUT)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), CONNECT_TIMEOUT)
        self.sock.settimeout(READ_TIMEOUT)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    def __init__(self, target: Target, address: str) -> None:
        super().__init__(target, address)
        self._context = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: Mapping[str, str], *, allow_private: bool, resolver: Resolver = resolve) -> Outcome:
    """POST ``body`` once; never raises for what the network or the receiver does."""
    try:
        target = check(url, allow_private=allow_private, resolver=resolver)
    except UrlRefused:
        return Outcome(None, "address_refused")
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target, target.addresses[0])
    # A hard bound on the whole attempt, however the receiver trickles its answer: shutting
    # the socket down wakes the read in progress (closing it from here would not).
    cut = threading.Event()

    def cut_off() -> None:
        cut.set()
        if connection.sock is not None:
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)

    watchdog = threading.Timer(TOTAL_TIMEOUT, cut_off)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target.path, body=body, headers={**headers, "Content-Length": str(len(body))})
        response = connection.getresponse()
        response.read(4096)  # what a receiver says is not kept
        return Outcome(response.status)
    except TimeoutError:
        return Outcome(None, "timeout")
    except ssl.SSLError:
        return Outcome(None, "timeout" if cut.is_set() else "tls_error")
    except (OSError, http.client.HTTPException, ValueError):
        return Outcome(None, "timeout" if cut.is_set() else "connection_error")
    finally:
        watchdog.cancel()
        connection.close()
