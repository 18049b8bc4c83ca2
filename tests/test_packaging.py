"""What a fresh install or a Space build relies on: the Python version the README and the Space's front matter
name satisfies every pinned package, and the served app never loads test helpers."""
from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys

import pytest
from conftest import ROOT
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version


def _front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    block = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert block, "README.md has no YAML front matter (the Space's configuration)"
    return dict(re.match(r"(\w+):\s*\"?([^\"\n]*)\"?", line).groups() for line in block.group(1).splitlines())


def _pins() -> list[Requirement]:
    reqs = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            reqs.append(Requirement(line))
    return reqs


def test_the_spaces_python_satisfies_every_pinned_package():
    meta = _front_matter()
    assert "python_version" in meta, "without python_version a Space builds on the Hub's default Python"
    python = Version(meta["python_version"])
    minimum = re.search(r"Python (\d+\.\d+)\+", (ROOT / "README.md").read_text())
    assert minimum and Version(minimum.group(1)) == python, "README's stated minimum differs from the Space's"
    assert meta["sdk_version"] == importlib.metadata.version("gradio")
    for req in _pins():
        (spec,) = req.specifier
        assert spec.operator == "==", f"{req} is not pinned"
        installed = importlib.metadata.distribution(req.name)
        assert installed.version == spec.version, f"{req.name} {installed.version} installed, {spec.version} pinned"
        requires = SpecifierSet(installed.metadata.get("Requires-Python") or "")
        assert requires.contains(python), (
            f"{req.name}=={spec.version} requires Python {requires}, the Space has {python}"
        )


@pytest.mark.slow
def test_the_app_builds_without_the_test_helpers_or_torchvision():
    """The test helpers never reach the served app; torchvision (whose import pulls in ``torch._dynamo``,
    ~1 s on 2 vCPU) is imported after the server is up, not while the app is built (the cold start)."""
    code = (
        "import sys; from resnet_demo.ui import build_demo; build_demo(); "
        "print(sorted(m for m in sys.modules if m.startswith(('resnet_demo.testing', 'torchvision', "
        "'torch._dynamo'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_help_answers_without_loading_torch_or_gradio():
    """``python app.py --help`` answers at once: app.py and the settings it reads import neither torch nor gradio."""
    code = "import sys, app; print(sorted(m for m in ('torch', 'gradio', 'torchvision') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", (out.stdout, out.stderr[-2000:])
    helped = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "--share" in helped.stdout
