"""Helpers shared by the benchmarks: a seeded weights cache, a served app, process memory."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def seeded_torch_home(models=("resnet18", "resnet50")) -> str:
    """$TORCH_HOME to use: the real one if it holds the weights of ``models`` (keys such as resnet50 or
    resnet50.IMAGENET1K_V1), else a temp one seeded with stand-in weights (random init, BatchNorm
    statistics calibrated) under torchvision's file names: timings are the same, labels meaningless."""
    import torch

    from resnet_demo.serving import weights
    from resnet_demo.testing.standin import seed_cache

    if all(weights.weights_path(weights.weights_of(m)).exists() for m in models):
        return torch.hub.get_dir().rsplit("/hub", 1)[0]
    home = tempfile.mkdtemp(prefix="bench-torch-home-")
    os.environ["TORCH_HOME"] = home
    seed_cache(models)
    print(f"(no cached weights: seeded {home} with stand-in weights)")
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(torch_home: str, extra_env: dict | None = None) -> tuple[subprocess.Popen, str, float]:
    """python app.py on a free loopback port; returns (process, url, seconds to first HTTP 200)."""
    port = free_port()
    env = dict(os.environ, TORCH_HOME=torch_home, RESNET_DEMO_OFFLINE="1", **(extra_env or {}))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return proc, url, time.perf_counter() - t0
        except OSError:
            if proc.poll() is not None or time.perf_counter() - t0 > 180:
                proc.kill()
                raise RuntimeError("the app did not start") from None
            time.sleep(0.05)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
