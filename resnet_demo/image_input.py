"""One safe path from an upload or a URL to an RGB PIL image.

URLs: http(s) only, no userinfo; the host is resolved once and every address must be global (no
loopback, private, link-local, multicast, reserved, shared/CGNAT, unspecified; IPv4-mapped, NAT64,
6to4 and Teredo IPv6 are unwrapped and their IPv4 checked too); the connection goes to the checked
address (no second lookup, so no DNS rebinding); each redirect is checked the same way (at most 5);
only ports 80 and 443 (``RESNET_DEMO_URL_PORTS``), so the server cannot probe other ports of public
hosts; one deadline covers the whole fetch (connect, TLS, headers, body, redirects) and the byte cap is
counted while streaming.

Decoding: raster formats only, a pixel limit (PIL's decompression-bomb warning is an error), EXIF
orientation applied, every mode converted to RGB (transparency over white, 16-bit scaled to 8-bit).
Every refusal is an ``InputError`` whose message a user can act on.
"""
from __future__ import annotations

import http.client
import io
import ipaddress
import os
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = int(os.environ.get("RESNET_DEMO_MAX_PIXELS", str(40_000_000)))
MAX_BYTES = int(float(os.environ.get("RESNET_DEMO_MAX_MB", "20")) * 2**20)  # uploads and downloads
FETCH_DEADLINE_S = float(os.environ.get("RESNET_DEMO_FETCH_TIMEOUT", "10"))
MAX_REDIRECTS = 5


def parse_ports(text: str) -> frozenset[int]:
    """``RESNET_DEMO_URL_PORTS``: comma-separated port numbers."""
    try:
        ports = frozenset(int(p) for p in text.split(",") if p.strip())
    except ValueError as e:
        raise ValueError(f"RESNET_DEMO_URL_PORTS must be comma-separated port numbers, got {text!r}") from e
    if not ports or not all(0 < p < 65536 for p in ports):
        raise ValueError(f"RESNET_DEMO_URL_PORTS must list ports between 1 and 65535, got {text!r}")
    return ports


URL_PORTS = parse_ports(os.environ.get("RESNET_DEMO_URL_PORTS", "80,443"))
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

# PIL warns above MAX_IMAGE_PIXELS and raises above twice that; make the warning an error as well.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.simplefilter("error", Image.DecompressionBombWarning)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class InputError(ValueError):
    """Bad input, with a message meant for the user."""


# -- decoding -------------------------------------------------------------------------------------
def decode_image(data: bytes | str | os.PathLike) -> Image.Image:
    """Bytes or a file path -> an RGB image (see the module docstring for the rules)."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        try:
            size = path.stat().st_size
        except OSError as e:
            raise InputError("The uploaded file could not be read; upload it again.") from e
        if size > MAX_BYTES:
            raise InputError(f"The file is {size / 2**20:.1f} MB; the limit is {MAX_BYTES / 2**20:.0f} MB.")
        data = path.read_bytes()
    if not data:
        raise InputError("The file is empty (0 bytes).")
    try:
        # No `with`: closing an image frees its pixels, and keeping them saves a full-size copy. The file
        # is a BytesIO, so nothing is left open.
        im = Image.open(io.BytesIO(data), formats=FORMATS)
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise InputError(f"The image is {w}x{h} = {w * h / 1e6:.0f} megapixels; the limit is "
                             f"{MAX_PIXELS / 1e6:.0f}. Resize it and try again.")
        im.seek(0)  # GIF / animated WebP / multi-page TIFF: the first frame
        im.load()
        ImageOps.exif_transpose(im, in_place=True)
        return to_rgb(im)
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InputError(f"The image has too many pixels (limit {MAX_PIXELS / 1e6:.0f} megapixels).") from e
    except UnidentifiedImageError as e:
        raise InputError("This file is not an image we can read. Use JPEG, PNG, WebP, GIF, BMP or TIFF "
                         f"(detected: {_sniff(data)}).") from e
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError, struct.error, zlib.error) as e:
        raise InputError(f"The image file is damaged or truncated and cannot be decoded ({e}).") from e


STRIP_PIXELS = 1 << 22  # 16 MB of float32: the most ``_to_8bit`` holds in float at once


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB (an RGB image is returned as it is). Transparency is composited over white;
    16/32-bit and float are rescaled to 8 bits."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _to_8bit(im).convert("RGB")
    if im.mode == "P" or im.mode == "PA" or "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit: the full range onto 0..255; 32-bit integer and float: min..max (of the finite values) onto
    0..255, NaN as 0. A band of rows at a time in float32: never a full-size float copy (a 6000x6000 float
    TIFF cost +1 GB converted whole in float64)."""
    w, h = im.size
    rows = max(1, STRIP_PIXELS // max(w, 1))

    def strips():
        for top in range(0, h, rows):
            yield top, np.array(im.crop((0, top, w, min(h, top + rows))), dtype=np.float32)  # a copy

    if im.mode.startswith("I;16"):
        lo, scale = 0.0, 1 / 257
    else:
        lo, hi = np.inf, -np.inf
        for _, a in strips():
            finite = a[np.isfinite(a)]
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        lo = lo if np.isfinite(lo) else 0.0
    out = np.empty((h, w), dtype=np.uint8)
    for top, a in strips():
        a -= np.float32(lo)
        a *= np.float32(scale)
        np.nan_to_num(a, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        np.clip(a, 0, 255, out=a)
        out[top:top + len(a)] = np.rint(a, out=a)
    return Image.fromarray(out, "L")


def _sniff(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    for magic, name in ((b"%pdf", "PDF"), (b"<svg", "SVG"), (b"<?xml", "XML/SVG"), (b"<!doctype html", "HTML"),
                        (b"<html", "HTML"), (b"pk\x03\x04", "ZIP")):
        if head.startswith(magic):
            return name
    try:
        head.decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "unknown binary"


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
        raise InputError("The URL is too long (over 2048 characters).")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as e:
        raise InputError(f"That URL cannot be parsed ({e}).") from e
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(f"Only http:// and https:// image URLs are allowed, not {parts.scheme or 'this'}:.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InputError("URLs with a user name or password (user@host) are not allowed.")
    host = parts.hostname
    if not host:
        raise InputError("The URL has no host name.")
    if port not in URL_PORTS:
        raise InputError(f"Refused: port {port}. Only the standard web ports "
                         f"({', '.join(map(str, sorted(URL_PORTS)))}) can be fetched.")
    literal = _literal_ip(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = _resolve(host, port)
        except (OSError, UnicodeError) as e:
            raise InputError(f"The host {host} could not be found.") from e
        if not addresses:
            raise InputError(f"The host {host} could not be found.")
    for ip in addresses:
        why = address_refusal(ip)
        if why:
            raise InputError(f"Refused: {host} resolves to {why}. Only public internet addresses can be fetched.")
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

    def error(self) -> InputError:
        return InputError(f"The download took longer than {self.seconds:g} s and was stopped.")

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


def fetch_url(url: str, *, max_bytes: int = MAX_BYTES, deadline_s: float = FETCH_DEADLINE_S) -> bytes:
    """GET an image URL under the rules above and return its body."""
    deadline = _Deadline(deadline_s)
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
                    raise InputError(f"The server answered a redirect ({resp.status}) without a target.")
                url = urllib.parse.urljoin(url, location)
                continue
            if resp.status != 200:
                raise InputError(f"The server answered HTTP {resp.status} {resp.reason}.")
            ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
            if ctype.startswith("text/") or ctype in ("application/json", "application/xml", "application/pdf"):
                raise InputError(f"The URL returned {ctype}, not an image. Use a direct link to the image file.")
            chunks, total = [], 0
            while True:
                sock.settimeout(deadline.left())
                chunk = resp.read1(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise InputError(f"The image is larger than {max_bytes / 2**20:.0f} MB; stopped downloading.")
                chunks.append(chunk)
            deadline.left()  # a shutdown at the deadline reads as the end of the body: not a whole image
            return b"".join(chunks)
        except InputError:
            raise
        except (TimeoutError, socket.timeout) as e:
            raise deadline.error() from e
        except ssl.SSLError as e:
            if deadline.expired:
                raise deadline.error() from e
            raise InputError(f"Secure connection to {parts.hostname} failed ({e.reason}).") from e
        except (OSError, http.client.HTTPException) as e:
            if deadline.expired:
                raise deadline.error() from e
            raise InputError(f"Could not download the image from {parts.hostname} ({type(e).__name__}).") from e
        finally:
            conn.close()
    raise InputError(f"Too many redirects (more than {MAX_REDIRECTS}).")


def load_input(upload: str | os.PathLike | bytes | None, url: str | None) -> tuple[Image.Image, str]:
    """The image to classify and where it came from ("upload" or "url"). The upload wins if both are given."""
    if upload:
        return decode_image(upload), "upload"
    if url and url.strip():
        return decode_image(fetch_url(url)), "url"
    raise InputError("Upload an image or paste an image URL first.")
