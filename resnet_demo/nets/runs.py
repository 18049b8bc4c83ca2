"""The RUN schema (one JSON object per training run, stored or live): validate, save, load, the stored runs."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..base.settings import RUNS_DIR

# Every RUN has these keys (docs/architecture.md); extra keys (recipe, note, ...) are allowed.
RUN_KEYS = ("name", "arch", "depth", "width", "batch_norm", "shortcut", "dataset", "image_size", "batch_size",
            "seed", "device", "wall_seconds", "command", "iterations", "train_error", "test_error")

def validate(run: dict[str, Any]) -> dict[str, Any]:
    """Raise ValueError unless ``run`` follows the RUN schema; return it unchanged."""
    missing = [k for k in RUN_KEYS if k not in run]
    if missing:
        raise ValueError(f"RUN is missing {missing}")
    if run["arch"] not in ("plain", "residual"):
        raise ValueError(f"arch must be 'plain' or 'residual', got {run['arch']!r}")
    n = len(run["iterations"])
    for key in ("train_error", "test_error") + (("train_error_measured",) if "train_error_measured" in run else ()):
        if len(run[key]) != n:
            raise ValueError(f"{key} has {len(run[key])} values for {n} iterations")
        for v in run[key]:
            if v is not None and not (isinstance(v, (int, float)) and math.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"{key} holds {v!r}, not a fraction in [0, 1] or null")
    if any(b <= a for a, b in zip(run["iterations"], run["iterations"][1:])):
        raise ValueError("iterations must increase")
    return run


def save_run(run: dict[str, Any], path: str | os.PathLike) -> None:
    validate(run)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(run, indent=1))
    os.replace(tmp, path)  # never leave a half-written run behind (Ctrl-C, crash)


def load_run(path: str | os.PathLike) -> dict[str, Any]:
    return validate(json.loads(Path(path).read_text()))


def stored_runs(directory: str | os.PathLike = RUNS_DIR) -> list[dict[str, Any]]:
    """The runs shipped in ``assets/runs`` (sorted: plain before residual, then by depth)."""
    runs = [load_run(p) for p in sorted(Path(directory).glob("*.json"))]
    return sorted(runs, key=lambda r: (r["arch"] != "plain", r["depth"], r["name"]))


def of_kind(runs: list[dict[str, Any]], arch: str) -> list[dict[str, Any]]:
    """The runs of one kind ("plain" or "residual"), shallowest first."""
    return sorted((r for r in runs if r["arch"] == arch), key=lambda r: r["depth"])


def final(values: list[float | None]) -> float | None:
    """The last measured value of a curve (test error is null between evaluations)."""
    return next((v for v in reversed(values) if v is not None), None)


def and_list(names: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def milestones_text(recipe: dict[str, Any]) -> str:
    """A run's lr milestones as a reader writes them: "8,000 and 12,000" ("" when it has none)."""
    return " and ".join(f"{m:,}" for m in recipe.get("milestones", []))


def warmup_text(run: dict[str, Any]) -> str:
    """A run's error-based warm-up as a reader writes it (the paper's ResNet-110), "" when it had none: "lr 0.01
    until the training error fell below 80% (iteration 62), then 0.1"."""
    rec = run.get("recipe", {})
    until = rec.get("warmup_until_error")
    if not until:
        return ""
    ended = run.get("warmup_ended_at")
    when = f" (iteration {ended:,})" if ended is not None else " (not yet reached)"
    return f"lr {rec['lr'] / 10:g} until the training error fell below {100 * until:g}%{when}, then {rec['lr']:g}"


def to_csv(run: dict[str, Any]) -> str:
    lines = ["iteration,train_error,test_error"]
    for it, tr, te in zip(run["iterations"], run["train_error"], run["test_error"]):
        lines.append(f"{it},{'' if tr is None else tr},{'' if te is None else te}")
    return "\n".join(lines) + "\n"
