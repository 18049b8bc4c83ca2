"""Where the app's files are, and its settings from environment variables (README lists them).

Read when used, not at import: a test or a launcher that sets a variable sees it take effect, and importing a
module never depends on the environment.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
RUNS_DIR = ASSETS / "runs"              # stored training runs (RUN JSON), scripts/stored_runs.sh
CHECKPOINTS_DIR = ASSETS / "checkpoints"  # their final weights, the offline CIFAR-10 models
EXAMPLES_DIR = ASSETS / "examples"      # example photos for Classify
BUNDLED_DATA = ASSETS / "cifar10_subset.npz"
GRADFLOW_FILE = ASSETS / "gradflow" / "trajectories.json"
INSIDE_DIR = ASSETS / "inside"          # lesion study and loss landscape, scripts/inside_trained.py
IMAGENET_CATALOG = ASSETS / "imagenet_models.json"
ANATOMY_FILE = ASSETS / "anatomy.json"          # every network's counts, scripts/anatomy_counts.py
LIVE_PRESETS_FILE = ASSETS / "live_presets.json"  # what benchmarks/live_preset.py measured for each preset
SHORTCUT_TRAINING_FILE = ASSETS / "shortcut_training.json"  # the variants over seeds, scripts/shortcut_training.py
SHORTCUT_LAB_FILE = ASSETS / "shortcut_lab.json"  # the shortcut lab's gradient profiles, scripts/shortcut_lab.py
FIRST_VIEW_DIR = ASSETS / "first_view"  # Classify's opening result, scripts/classify_first_view.py


def parse_ports(text: str) -> frozenset[int]:
    """``RESNET_DEMO_URL_PORTS``: comma-separated port numbers."""
    try:
        ports = frozenset(int(p) for p in text.split(",") if p.strip())
    except ValueError as e:
        raise ValueError(f"RESNET_DEMO_URL_PORTS must be comma-separated port numbers, got {text!r}") from e
    if not ports or not all(0 < p < 65536 for p in ports):
        raise ValueError(f"RESNET_DEMO_URL_PORTS must list ports between 1 and 65535, got {text!r}")
    return ports


@dataclass(frozen=True)
class Settings:
    offline: bool            # RESNET_DEMO_OFFLINE=1: never download weights
    max_models: int          # models kept in memory at once (least recently used dropped)
    max_bytes: int           # largest upload and largest URL download
    max_pixels: int          # largest image (decompression bombs are refused)
    fetch_timeout_s: float   # one deadline for a whole URL download
    url_ports: frozenset[int]  # the only ports an image URL may name
    train_limit_s: float     # hard cap on one live training run
    gradflow_limit_s: float  # hard cap on one live gradient-flow run
    inside_limit_s: float    # hard cap on a live lesion study or loss slice
    backend: str             # "auto" (ONNX Runtime for the ImageNet trunk when installed) or "torch";
                             #   checked where used (fast_trunk.wanted)
    data_dir: Path           # where the training CLI caches CIFAR-10
    queue_size: int          # waiting requests beyond this are turned away


def settings(env: dict[str, str] | None = None) -> Settings:
    """The settings now, from ``env`` (default ``os.environ``)."""
    env = os.environ if env is None else env
    return Settings(
        offline=env.get("RESNET_DEMO_OFFLINE") == "1",
        max_models=max(1, int(env.get("RESNET_DEMO_MAX_MODELS", "3"))),
        max_bytes=int(float(env.get("RESNET_DEMO_MAX_MB", "20")) * 2**20),
        max_pixels=int(env.get("RESNET_DEMO_MAX_PIXELS", "40000000")),
        fetch_timeout_s=float(env.get("RESNET_DEMO_FETCH_TIMEOUT", "10")),
        url_ports=parse_ports(env.get("RESNET_DEMO_URL_PORTS", "80,443")),
        train_limit_s=float(env.get("RESNET_DEMO_TRAIN_LIMIT_S", "300")),
        gradflow_limit_s=float(env.get("RESNET_DEMO_GRADFLOW_LIMIT_S", "240")),
        inside_limit_s=float(env.get("RESNET_DEMO_INSIDE_LIMIT_S", "180")),
        backend=env.get("RESNET_DEMO_BACKEND", "auto").strip().lower(),
        data_dir=Path(env.get("RESNET_DEMO_DATA", "data")),
        queue_size=int(env.get("RESNET_DEMO_QUEUE_SIZE", "32")),
    )
