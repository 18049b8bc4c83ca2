"""Every endpoint's answer on fixed inputs, against the answers recorded before the core was reorganised (#42).

The recorded answers are in tests/data/answers.json. Provenance (how and where a result was computed: command,
machine, threads, date, wall time) is left out: it describes the computation, not the answer. Numbers are
compared to 0.5% (and a rounded last digit in prose), so a CPU with other vector kernels gives the same answers.
Record them again, after a change that means to alter an answer, with
``RECORD_ANSWERS=1 pytest tests/test_answers.py`` and say why in the commit.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest
from conftest import photo
from gradio_client import handle_file
from test_app import app_url, client  # noqa: F401  (the launched app, with its tiny live preset)

pytestmark = pytest.mark.slow

RECORDED = Path(__file__).parent / "data" / "answers.json"
PROVENANCE_KEYS = {"command", "machine", "device", "threads", "date", "wall_s", "wall_seconds", "elapsed_s",
                   "provenance", "torch_version", "computed_at", "cpu", "seconds"}
TIME = re.compile(r"\b\d+(?:\.\d+)? ?(?:ms|s)\b")  # a time measured while answering: how, not what
NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]?\d+)?")


def _calls() -> list[tuple[str, str, tuple]]:
    """(label, endpoint, arguments): each endpoint at least once, stored and computed answers both."""
    img = handle_file(str(photo()))
    return [
        ("classify resnet18", "/classify", (img, "", "resnet18")),
        ("classify cifar-resnet20", "/classify", (img, "", "cifar-resnet20")),
        ("residual_stream cifar-resnet20", "/residual_stream", (img, "", "cifar-resnet20")),
        ("residual_stream resnet18", "/residual_stream", (img, "", "resnet18")),
        ("grad_flow stored", "/grad_flow", (110, False, 400, 0)),
        ("grad_flow live", "/grad_flow", (20, True, 0, 3)),
        ("grad_flow_imagenet", "/grad_flow_imagenet", (img, "", "resnet18")),
        ("architecture resnet50", "/architecture", ("resnet50",)),
        ("architecture cifar-plain56", "/architecture", ("cifar-plain56",)),
        ("lesion", "/lesion", (20, 100)),
        ("loss_slice", "/loss_slice", (20, 32, 5)),
        ("block_ratios", "/block_ratios", ()),
        ("paper", "/paper", ()),
        ("train_live tiny", "/train_live", ("tiny", 8, 32, True, 1, False)),
    ]


def _normal(value, key: str = ""):
    """The answer without provenance, file paths or a plot's serialisation details."""
    if isinstance(value, dict):
        if value.get("type") == "plotly" and isinstance(value.get("plot"), str):
            return {"plotly": _normal(json.loads(value["plot"]))}
        if "path" in value and "url" in value:  # a returned file: its name, not where the server put it
            return {"file": Path(value.get("orig_name") or value["path"]).name}
        return {k: _normal(v, k) for k, v in sorted(value.items())
                if k not in PROVENANCE_KEYS and k not in ("uid", "template")}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    if isinstance(value, str):
        text = TIME.sub("<time>", value.split("How this was computed")[0])  # the collapsed provenance block
        if text.startswith("/") and Path(text).suffix:  # a temp file path
            return {"file": Path(text).name}
        return text
    return value


def _numbers(text: str) -> list[float]:
    return [float(n.replace(",", "")) for n in NUMBER.findall(text)]


def _same(got, want, where: str) -> list[str]:
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return [f"{where}: keys {sorted(got) if isinstance(got, dict) else got!r} != {sorted(want)}"]
        return [d for k in want for d in _same(got[k], want[k], f"{where}.{k}")]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{where}: length {len(got) if isinstance(got, list) else got!r} != {len(want)}"]
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in _same(g, w, f"{where}[{i}]")]
    if isinstance(want, str):
        if not isinstance(got, str) or NUMBER.sub("#", got) != NUMBER.sub("#", want):
            return [f"{where}: text {got!r} != {want!r}"]
        g, w = _numbers(got), _numbers(want)
        return [f"{where}: number {a} != {b} in {want!r}" for a, b in zip(g, w) if not _close(a, b, text=True)]
    if isinstance(want, bool) or want is None:
        return [] if got == want else [f"{where}: {got!r} != {want!r}"]
    if isinstance(want, (int, float)):
        return [] if isinstance(got, (int, float)) and _close(got, want) else [f"{where}: {got!r} != {want!r}"]
    return [] if got == want else [f"{where}: {got!r} != {want!r}"]


def _close(a: float, b: float, text: bool = False) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    tol = 0.005 * max(abs(a), abs(b)) + 1e-9
    if text:  # printed numbers: one unit in the last printed place as well
        tol += 10 ** -min(4, _decimals(a), _decimals(b)) if isinstance(a, float) else 0
    return abs(a - b) <= tol + (0.02 if text else 1e-6)


def _decimals(x: float) -> int:
    s = repr(x)
    return len(s.split(".")[1]) if "." in s and "e" not in s else 0


NOISY = ("train_error", "test_error", "train_error_measured")


def _ask(client, endpoint: str, args: tuple):  # noqa: F811
    if endpoint == "/train_live":
        outputs = client.submit(*args, api_name=endpoint).result(timeout=120)
        last = outputs[-1]  # the runs: their structure and their iterations (errors after 12 steps are noisy)
        return {"runs": [{k: (v if k not in NOISY else len(v)) for k, v in r.items()}
                         for r in last["runs"]]}
    return client.predict(*args, api_name=endpoint)


def test_every_endpoint_answers_as_recorded(client):  # noqa: F811
    answers = {label: _normal(_ask(client, endpoint, args)) for label, endpoint, args in _calls()}
    answers = json.loads(json.dumps(answers))
    if os.environ.get("RECORD_ANSWERS") == "1":
        RECORDED.parent.mkdir(exist_ok=True)
        RECORDED.write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"recorded {RECORDED}")
    recorded = json.loads(RECORDED.read_text())
    assert set(answers) == set(recorded)
    differences = [d for label in recorded for d in _same(answers[label], recorded[label], label)]
    assert not differences, "\n".join(differences[:20])
