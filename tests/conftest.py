"""Shared fixtures: a seeded torchvision cache, the test data folder, a loopback HTTP server."""
from __future__ import annotations

import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RESNET_DEMO_SHARED_DATA", ROOT.parent / "shared" / "data"))
NO_SHARED = f"needs the test data folder {SHARED_DATA} (../shared/data beside the repo), absent here"

# Tests never download: a missing weights file must fail fast, not hang on the network.
os.environ.setdefault("RESNET_DEMO_OFFLINE", "1")


def pytest_collection_modifyitems(config, items) -> None:
    """Everything under tests/e2e/ drives a browser: marked e2e (``pytest -m "not e2e and not slow"`` is the
    fast loop)."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(NO_SHARED)
    return path


def photo(name: str = "chelsea.png") -> Path:
    """A real photograph: from ../shared/data/images when present, else the copy bundled in assets/."""
    for folder in (SHARED_DATA / "images", ROOT / "assets" / "examples"):
        if (folder / name).exists():
            return folder / name
    pytest.skip(NO_SHARED)


SEEDED = ("resnet18", "resnet50")  # the fp32 models whose weights file the seeded cache holds
SEEDED_INT8 = ("resnet50.int8",)    # and the quantized ones


@pytest.fixture(scope="session")
def torch_home(tmp_path_factory) -> Path:
    """$TORCH_HOME with stand-in weights (random init, BatchNorm statistics calibrated) saved under
    torchvision's file names for SEEDED, so the real loading path (cache lookup, torch.load,
    load_state_dict, the ONNX export) runs with no network."""
    from resnet_demo.testing.standin import seed_cache

    home = tmp_path_factory.mktemp("torch_home")
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(home)
    seed_cache(SEEDED + SEEDED_INT8)
    yield home
    if old is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = old


class Recorder(ThreadingHTTPServer):
    """A loopback server whose routes are set per test; it records every request it receives."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Handler)
        self.routes: dict[str, tuple] = {}
        self.requests: list[str] = []

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def base(self) -> str:
        return f"http://{self.server_address[0]}:{self.port}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        route[0](self)


def _serve(host: str):
    srv = Recorder(host)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    return srv


def allow_port(monkeypatch, port: int) -> None:
    """Let image URLs name ``port`` too (RESNET_DEMO_URL_PORTS, read at each fetch), for this test."""
    ports = os.environ.get("RESNET_DEMO_URL_PORTS", "80,443")
    monkeypatch.setenv("RESNET_DEMO_URL_PORTS", f"{ports},{port}")


@pytest.fixture
def server():
    """The victim: a loopback server that must never receive a request from a refused URL."""
    srv = _serve("127.0.0.1")
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def allowed_server(monkeypatch):
    """A loopback server on 127.0.0.2 (port: any) that the URL guard lets through. The app has no switch
    for this: the test replaces the guard's address check, wrapping the real one for every other address."""
    from resnet_demo.serving import fetch

    srv = _serve("127.0.0.2")
    real = fetch.address_refusal
    monkeypatch.setattr(fetch, "address_refusal", lambda ip: None if ip == "127.0.0.2" else real(ip))
    allow_port(monkeypatch, srv.port)
    yield srv
    srv.shutdown()
    srv.server_close()
