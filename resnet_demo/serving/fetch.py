"""Downloading an image URL without letting a stranger reach what the server can reach.

http(s) only, no userinfo; the host is resolved once and every address must be global (no loopback,
private, link-local, multicast, reserved, shared/CGNAT, unspecified; IPv4-mapped, NAT64, 6to4 and Teredo
IPv6 are unwrapped and their IPv4 checked too); the connection goes to the checked address (no second
lookup, so no DNS rebinding); each redirect is checked the same way (at most 5); only ports 80 and 443
(``RESNET_DEMO_URL_PORTS``), so the server cannot probe other ports of public hosts; one deadline covers
the whole fetch (connect, TLS, headers, body, redirects) and the byte cap is counted while streaming.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
import urllib.parse

from ..base.settings import settings

MAX_REDIRECTS = 5
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(ValueError):
    """A refused or failed download, with a message meant for the user."""


# -- addresses --------------------------------------------------------------------------------------
def _embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = []
    if addr.ipv4_mapped:
        found.append(addr.ipv4_mapped)
    if addr.sixtofour:
        found.append(addr.sixtofour)
    if addr.teredo:
        found.extend(addr.teredo)  # (server, client)
    if addr in _NAT64:
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return found


def address_refusal(ip: str) -> str | None:
    """None when ``ip`` is a public (global unicast) address, else why it is refused."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return f"{ip!r} is not an IP address"
    candidates = (_embedded_ipv4(addr) if isinstance(addr, ipaddress.IPv6Address) else []) + [addr]
    for a in candidates:
        for attr, what in (("is_loopback", "loopback"), ("is_private", "private"),
                           ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                           ("is_reserved", "reserved"), ("is_unspecified", "unspecified")):
            if getattr(a, attr):
                return f"{a}, a {what} address"
        if not a.is_global:
            return f"{a}, not a public address"
    return None


def _literal_ip(host: str) -> str | None:
    """The address a numeric host means, in any spelling the OS accepts (127.1, 0x7f000001, 2130706433...)."""
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and host[0].isdigit():
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _resolve(host: str, port: int) -> list[str]:
    """Name resolution (stubbed in tests)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _connect(address: tuple[str, int], timeout: float) -> socket.socket:
    """The one place a socket is opened (stubbed in tests)."""
    return socket.create_connection(address, timeout=timeout)


def check_url(url: str) -> tuple[urllib.parse.SplitResult, str]:
    """Validate a URL and resolve its host; returns (parts, the checked address to connect to)."""
    url = url.strip()
    if len(url) > 2048:
        raise FetchError("The URL is too long (over 2048 characters).")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise FetchError(f"That URL cannot be parsed ({e}).") from e
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"Only http:// and https:// image URLs are allowed, not {parts.scheme or 'this'}:.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise FetchError("URLs with a user name or password (user@host) are not allowed.")
    host = parts.hostname
    if not host:
        raise FetchError("The URL has no host name.")
    ports = settings().url_ports
    if port not in ports:
        raise FetchError(f"Refused: port {port}. Only the standard web ports "
                         f"({', '.join(map(str, sorted(ports)))}) can be fetched.")
    literal = _literal_ip(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = _resolve(host, port)
        except (OSError, UnicodeError) as e:
            raise FetchError(f"The host {host} could not be found.") from e
        if not addresses:
            raise FetchError(f"The host {host} could not be found.")
    for ip in addresses:
        why = address_refusal(ip)
        if why:
            raise FetchError(f"Refused: {host} resolves to {why}. Only public internet addresses can be fetched.")
    return parts, addresses[0]


class _Deadline:
    """One deadline for a whole fetch. Socket timeouts alone bound each read, not their sum (a server
    that sends one header byte per second never trips them); at expiry this shuts the open connection
    down, which ends whatever read, write or TLS handshake is blocked on it."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.end = seconds, time.monotonic() + seconds
        self.expired = False
        self._sock: socket.socket | None = None  # a dup of the connection's descriptor: valid through TLS wrapping
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0 or self.expired:
            raise self.error()
        return left

    def error(self) -> FetchError:
        return FetchError(f"The download took longer than {self.seconds:g} s and was stopped.")

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._release()
            self._sock = sock.dup()  # shutdown acts on the connection, whichever descriptor names it
            if self.expired:
                self._shutdown()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed

    def _release(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._release()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, ip: str, deadline: _Deadline) -> None:
        super().__init__(host, port, timeout=deadline.left())
        self.ip, self.deadline = ip, deadline

    def connect(self) -> None:
        self.sock = _connect((self.ip, self.port), self.deadline.left())
        self.deadline.watch(self.sock)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: str, deadline: _Deadline) -> None:
        self.ip, self.deadline, self.ctx = ip, deadline, ssl.create_default_context()
        super().__init__(host, port, timeout=deadline.left(), context=self.ctx)

    def connect(self) -> None:
        sock = _connect((self.ip, self.port), self.deadline.left())
        self.deadline.watch(sock)
        sock.settimeout(self.deadline.left())
        self.sock = self.ctx.wrap_socket(sock, server_hostname=self.host)  # certificate checked for the name


def fetch_url(url: str, *, max_bytes: int | None = None, deadline_s: float | None = None) -> bytes:
    """GET an image URL under the rules above and return its body (limits default to the settings)."""
    now = settings()
    max_bytes = now.max_bytes if max_bytes is None else max_bytes
    deadline = _Deadline(now.fetch_timeout_s if deadline_s is None else deadline_s)
    try:
        return _fetch(url, max_bytes, deadline)
    finally:
        deadline.close()


def _fetch(url: str, max_bytes: int, deadline: _Deadline) -> bytes:
    for _hop in range(MAX_REDIRECTS + 1):
        parts, ip = check_url(url)
        cls = _PinnedHTTPSConnection if parts.scheme.lower() == "https" else _PinnedHTTPConnection
        conn = cls(parts.hostname, parts.port or (443 if cls is _PinnedHTTPSConnection else 80), ip, deadline)
        try:
            path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
            conn.request("GET", path, headers={"User-Agent": "resnet-lab/1.0", "Accept": "image/*"})
            sock = conn.sock  # http.client drops conn.sock once the response owns the stream
            sock.settimeout(deadline.left())
            resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.getheader("Location")
                if not location:
                    raise FetchError(f"The server answered a redirect ({resp.status}) without a target.")
                url = urllib.parse.urljoin(url, location)
                continue
            if resp.status != 200:
                raise FetchError(f"The server answered HTTP {resp.status} {resp.reason}.")
            ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
            if ctype.startswith("text/") or ctype in ("application/json", "application/xml", "application/pdf"):
                raise FetchError(f"The URL returned {ctype}, not an image. Use a direct link to the image file.")
            chunks, total = [], 0
            while True:
                sock.settimeout(deadline.left())
                chunk = resp.read1(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(f"The image is larger than {max_bytes / 2**20:.0f} MB; stopped downloading.")
                chunks.append(chunk)
            deadline.left()  # a shutdown at the deadline reads as the end of the body: not a whole image
            return b"".join(chunks)
        except FetchError:
            raise
        except TimeoutError as e:
            raise deadline.error() from e
        except ssl.SSLError as e:
            if deadline.expired:
                raise deadline.error() from e
            raise FetchError(f"Secure connection to {parts.hostname} failed ({e.reason}).") from e
        except (OSError, http.client.HTTPException) as e:
            if deadline.expired:
                raise deadline.error() from e
            raise FetchError(f"Could not download the image from {parts.hostname} ({type(e).__name__}).") from e
        finally:
            conn.close()
    raise FetchError(f"Too many redirects (more than {MAX_REDIRECTS}).")


