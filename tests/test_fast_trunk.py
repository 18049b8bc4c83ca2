"""The ONNX Runtime trunk: used when installed, equal to torch's, and torch whenever it cannot be trusted."""
import functools
import sys

import pytest
import torch
from conftest import photo
from PIL import Image

from resnet_demo.serving import classifiers, fast_trunk, weights

pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (requirements.txt has it)")


@pytest.fixture
def fresh_cache():
    classifiers.MODELS._models.clear()
    yield
    classifiers.MODELS._models.clear()


def _torch_trunk(model):
    return functools.partial(fast_trunk.resnet_trunk, model)


def test_the_app_runs_the_trunk_on_onnx_runtime_and_it_equals_torch(torch_home, fresh_cache):
    clf = classifiers.MODELS.get("resnet50")
    assert clf.info["backend"].startswith("ONNX Runtime")
    assert len(list(fast_trunk.onnx_dir().glob("resnet50-*.onnx"))) == 1  # cached for the next load
    x = clf.preprocess(Image.open(photo()).convert("RGB")).unsqueeze(0)
    with torch.inference_mode():
        want = _torch_trunk(clf.model)(x)
    got = clf.trunk(x)
    assert got.shape == want.shape == (1, 2048, 7, 7)
    # Two float32 implementations (ONNX Runtime's MLAS, torch's oneDNN) sum in different orders and with
    # different vector widths (AVX2 or AVX-512); measured on the stand-in weights: 2e-6 (ResNet-18) and 4e-6
    # (ResNet-50) of the largest feature, AVX-512 and forced AVX2 alike. 1e-4 holds on any x86 CPU; a wrong
    # export (a missing layer, a wrong stride) is off by more than 1e-1.
    assert float((got - want).abs().max() / want.abs().max()) < 1e-4
    # other shapes (not what classify sends) go to torch rather than fail
    odd = torch.randn(2, 3, 160, 160)
    with torch.inference_mode():
        assert torch.allclose(clf.trunk(odd), _torch_trunk(clf.model)(odd))


def test_same_top5_and_grad_cam_as_torch(torch_home, fresh_cache, monkeypatch):
    img = Image.open(photo("coffee.png")).convert("RGB")
    fast = classifiers.classify(img, "resnet18")
    monkeypatch.setenv("RESNET_DEMO_BACKEND", "torch")
    classifiers.MODELS._models.clear()
    slow = classifiers.classify(img, "resnet18")
    assert slow.info["backend"] == "torch eager (RESNET_DEMO_BACKEND=torch)"
    # the same tolerance as the trunk's (see above); this photo's top-5 probabilities differ from each other by
    # 4% or more, far beyond that noise, so their order cannot flip
    assert [lbl for lbl, _ in fast.top] == [lbl for lbl, _ in slow.top]
    assert [p for _, p in fast.top] == pytest.approx([p for _, p in slow.top], rel=1e-4)
    assert torch.allclose(fast.cam_map, slow.cam_map, atol=1e-4)


def test_a_damaged_cache_file_is_exported_again(torch_home, fresh_cache):
    classifiers.MODELS.get("resnet18")
    (cached,) = fast_trunk.onnx_dir().glob("resnet18-*.onnx")
    cached.write_bytes(cached.read_bytes()[:1000])  # truncated, newer than the weights
    classifiers.MODELS._models.clear()
    clf = classifiers.MODELS.get("resnet18")
    assert clf.info["backend"].startswith("ONNX Runtime")
    assert cached.stat().st_size > 10_000_000


def test_disagreement_or_a_missing_runtime_keeps_torch(torch_home):
    model = classifiers.MODELS.get("resnet18").model
    weights_file = weights.weights_path(weights.weights_of("resnet18"))
    trunk = _torch_trunk(model)
    fn, why = fast_trunk.onnx_trunk(model, weights_file, lambda x: trunk(x) * 1.01)
    assert fn is None and "disagreed" in why
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "onnxruntime", None)
        assert fast_trunk.onnx_trunk(model, weights_file, trunk) == (None, "onnxruntime is not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESNET_DEMO_BACKEND", "tensorrt")
        with pytest.raises(ValueError, match="RESNET_DEMO_BACKEND"):
            fast_trunk.onnx_trunk(model, weights, trunk)
