"""The Space bundle (#40): ``python -m scripts.space_bundle DIR`` writes what a Hugging Face Space gets, every
binary file under an LFS rule, and the app starts from that folder alone as a Space starts it."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import ROOT, free_port, photo

from scripts import space_bundle


def test_every_binary_file_in_assets_has_an_lfs_rule():
    """A new binary kind in assets/ (say .onnx or .webp) fails here until LFS_EXTENSIONS covers it: without a rule
    the Hub refuses the upload."""
    binaries = [p for p in (ROOT / "assets").rglob("*") if p.is_file() and "resume" not in p.parts
                and space_bundle.is_binary(p)]
    assert binaries, "assets/ holds checkpoints and images: the binary check found none"
    unruled = sorted({p.suffix for p in binaries if p.suffix.lstrip(".").lower() not in space_bundle.LFS_EXTENSIONS})
    assert not unruled, f"binary kinds with no LFS rule in scripts/space_bundle.py: {unruled}"


def test_binary_detection(tmp_path):
    text, binary, latin = tmp_path / "a.json", tmp_path / "b.pt", tmp_path / "c.txt"
    text.write_text('{"a": "ResNet — ±0.34"}')
    binary.write_bytes(b"PK\x03\x04\x00\x00")
    latin.write_bytes("caf\xe9 ".encode("latin-1") * 10)
    assert not space_bundle.is_binary(text) and space_bundle.is_binary(binary) and space_bundle.is_binary(latin)


def test_the_bundle_holds_what_a_space_needs_and_nothing_else(tmp_path):
    dest = tmp_path / "space"
    got = space_bundle.write(dest)
    files = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    tops = {f.split("/")[0] for f in files}
    assert tops == {"app.py", "requirements.txt", "README.md", "LICENSE", ".gitattributes", "resnet_demo", "assets"}
    assert not [f for f in files if "/resume/" in f or "__pycache__" in f or f.endswith((".pyc", ".tmp"))]
    assert (dest / "README.md").read_text().startswith("---\ntitle:")  # the front matter is the Space's config
    assert got["bytes"] <= space_bundle.MAX_MB * 1e6 and not got["unruled"]
    rules = (dest / ".gitattributes").read_text()
    for rel in got["binary"]:
        assert f"*{rel.suffix} filter=lfs diff=lfs merge=lfs -text" in rules, rel
    assert {str(p) for p in got["binary"]} >= {"assets/checkpoints/resnet56.pt", "assets/cifar10_subset.npz"}
    with pytest.raises(ValueError):
        space_bundle.write(ROOT / "space")  # never into the checkout


@pytest.mark.slow
def test_the_bundle_starts_as_a_space_and_answers(tmp_path):
    """The rehearsal: the bundle alone (cwd = the folder, no PYTHONPATH), the variables a Space sets, an empty
    $TORCH_HOME and no network (every HTTP(S) request goes to a closed loopback port). The page serves within
    60 s; /classify answers with a shipped CIFAR net, /paper answers, and resnet50, whose weights are not there,
    is refused with the message about them within 40 s."""
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    dest = tmp_path / "space"
    space_bundle.write(dest)
    port, dead = free_port(), free_port()  # nothing listens on `dead`: a download fails at once, on loopback
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "RESNET_DEMO_"))}
    env.update(SYSTEM="spaces", SPACE_ID="rehearsal/resnet-lab", GRADIO_SERVER_NAME="0.0.0.0",
               GRADIO_SERVER_PORT=str(port), TORCH_HOME=str(tmp_path / "torch"), HF_HUB_OFFLINE="1",
               http_proxy=f"http://127.0.0.1:{dead}", https_proxy=f"http://127.0.0.1:{dead}",
               HTTP_PROXY=f"http://127.0.0.1:{dead}", HTTPS_PROXY=f"http://127.0.0.1:{dead}",
               no_proxy="127.0.0.1,localhost", NO_PROXY="127.0.0.1,localhost", GRADIO_ANALYTICS_ENABLED="False")
    log = open(tmp_path / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=dest, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(url, timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
            assert proc.poll() is None, (tmp_path / "app.log").read_text()[-3000:]
            assert time.time() < deadline, "the bundle did not serve its page within 60 s"
        client = Client(url, verbose=False)
        _, _, details = client.predict(handle_file(str(photo())), "", "cifar-resnet56", api_name="/classify")
        assert "resnet56.pt" in details
        claims = client.predict(api_name="/paper")
        assert len(claims) >= 18 and {"degradation", "table6"} <= {c["id"] for c in claims}
        t0 = time.time()
        with pytest.raises(AppError) as refused:
            client.predict(handle_file(str(photo())), "", "resnet50", api_name="/classify")
        assert time.time() - t0 < 40
        assert "weights" in str(refused.value) and "resnet50" in str(refused.value).lower()
        assert "/tmp" not in str(refused.value)  # no server path reaches a visitor
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
