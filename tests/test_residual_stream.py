"""The residual stream on one image (#26), against independent references: a deleted block is the model with that
block's last BN zeroed (residual) or the block replaced by an identity (plain), run by its own ``forward``; the
ratios are read with hooks on the model's own forward pass; the shared model is left as it was."""
from __future__ import annotations

import copy
import re
import threading

import pytest
import torch
from conftest import photo
from PIL import Image
from torch import nn

from resnet_demo.experiments import residual_stream as rs
from resnet_demo.serving import classifiers
from resnet_demo.testing.lesioned import lesioned_copy


def _input(key: str, name: str = "chelsea.png") -> tuple[classifiers.Classifier, torch.Tensor]:
    clf = classifiers.MODELS.get(key)
    return clf, clf.preprocess(Image.open(photo(name)).convert("RGB")).unsqueeze(0)


def _hooked_ratios(model: nn.Module, x: torch.Tensor, blocks: list[rs.Block]) -> list[float | None]:
    """RMS(F(x)) / RMS(x) from hooks on a copy's own forward (F: the last BN's output), RMS(y - x) / RMS(x) for a
    plain block that keeps the shape. (Cloned: torchvision's blocks add the shortcut to the BN output in place.)"""
    m = copy.deepcopy(model).eval()
    seen: dict[str, dict[str, torch.Tensor]] = {b.name: {} for b in blocks}
    for b in blocks:
        block = m.get_submodule(b.name)
        block.register_forward_pre_hook(lambda _m, inp, n=b.name: seen[n].__setitem__("x", inp[0].clone()))
        block.register_forward_hook(lambda _m, _i, out, n=b.name: seen[n].__setitem__("y", out.clone()))
        bn = block.bn3 if hasattr(block, "bn3") else block.bn2
        bn.register_forward_hook(lambda _m, _i, out, n=b.name: seen[n].__setitem__("F", out.clone()))
    with torch.inference_mode():
        m(x)

    def rms(t: torch.Tensor) -> float:
        return t.double().pow(2).mean().sqrt().item()

    out = []
    for b in blocks:
        s = seen[b.name]
        if b.residual:
            out.append(rms(s["F"]) / rms(s["x"]))
        else:
            out.append(None if s["x"].shape != s["y"].shape else rms(s["y"] - s["x"]) / rms(s["x"]))
    return out


def _check_against_references(key: str, names: list[str] | None = None) -> rs.Stream:
    clf, x = _input(key)
    stream = rs.on_image(Image.open(photo()), key)
    with torch.inference_mode():
        intact = clf.model(x).double().softmax(1)[0]
    top = int(intact.argmax())
    assert stream.label == clf.labels[top]
    assert stream.probability == pytest.approx(float(intact[top]), abs=1e-5)
    blocks = rs.blocks_of(clf.model)
    for got, want in zip([b["ratio"] for b in stream.blocks], _hooked_ratios(clf.model, x, blocks), strict=True):
        assert (got is None) == (want is None)
        if want is not None:
            assert got == pytest.approx(want, rel=1e-4)
    for b in stream.blocks:
        if names is not None and b["name"] not in names:
            continue
        if not b["deletable"]:
            assert b["label_if_deleted"] is None and b["probability_if_deleted"] is None
            continue
        with torch.inference_mode():
            p = lesioned_copy(clf.model, b["name"])(x).double().softmax(1)[0]
        assert b["probability_of_label_if_deleted"] == pytest.approx(float(p[top]), abs=1e-4), b["name"]
        assert b["probability_if_deleted"] == pytest.approx(float(p.max()), abs=1e-4), b["name"]
        if float(p.topk(2).values.diff().abs()) > 1e-3:  # not a near tie
            assert b["label_if_deleted"] == clf.labels[int(p.argmax())], b["name"]
    return stream


def test_cifar_resnet_deletions_and_ratios_equal_the_references():
    stream = _check_against_references("cifar-resnet20")
    assert len(stream.blocks) == 9 and all(b["deletable"] for b in stream.blocks)
    assert [b["name"] for b in stream.blocks if b["downsampling"]] == ["blocks.3", "blocks.6"]
    assert {b["shortcut"] for b in stream.blocks if b["downsampling"]} == {"zero-padding"}


def test_cifar_plain_net_deletes_only_the_blocks_that_keep_the_shape():
    stream = _check_against_references("cifar-plain56")
    fixed = [b["name"] for b in stream.blocks if not b["deletable"]]
    assert fixed == ["blocks.9", "blocks.18"]  # the two downsampling blocks
    text = rs.summary(stream)
    assert "2 change the feature map's shape and cannot be deleted" in text


def test_imagenet_bottleneck_and_basic_blocks_against_the_references(torch_home):
    """Stand-in weights (labels meaningless; the arithmetic is what is checked): ResNet-50's bottlenecks,
    including the projection shortcuts, and ResNet-18's basic blocks."""
    s50 = _check_against_references("resnet50", ["layer1.0", "layer1.1", "layer2.0", "layer3.4", "layer4.0",
                                                 "layer4.2"])
    assert len(s50.blocks) == 16 and s50.block_calls == sum(range(1, 17))
    assert [b["name"] for b in s50.blocks if b["downsampling"]] == ["layer2.0", "layer3.0", "layer4.0"]
    assert [b["name"] for b in s50.blocks if b["shortcut"] == "projection"] == [
        "layer1.0", "layer2.0", "layer3.0", "layer4.0"]
    s18 = _check_against_references("resnet18", ["layer1.0", "layer2.0", "layer4.1"])
    assert len(s18.blocks) == 8


def test_the_shared_model_is_untouched_and_concurrent_requests_do_not_mix():
    clf = classifiers.MODELS.get("cifar-resnet56")
    before = {k: v.clone() for k, v in clf.model.state_dict().items()}
    images = {name: Image.open(photo(name)) for name in ("chelsea.png", "coffee.png")}
    alone = {name: rs.on_image(img, "cifar-resnet56").json() for name, img in images.items()}
    got: dict[str, list[dict]] = {name: [] for name in images}

    def worker(name: str) -> None:
        for _ in range(4):
            got[name].append(rs.on_image(images[name], "cifar-resnet56").json())

    threads = [threading.Thread(target=worker, args=(name,)) for name in images]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for name in images:
        assert got[name] == [alone[name]] * 4
    assert alone["chelsea.png"] != alone["coffee.png"]
    after = clf.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not clf.model.training
    assert all(not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks) for m in clf.model.modules())


def test_inside_one_block_maps_add_up_and_show_the_strongest_channels():
    clf, x = _input("cifar-resnet56")
    stream = rs.residual_stream(clf.model, x, clf.labels, key="cifar-resnet56", net="ResNet-56")
    outputs = {}
    m = copy.deepcopy(clf.model)
    for name in ("blocks.4", "blocks.9"):
        m.get_submodule(name).register_forward_hook(lambda _m, _i, out, n=name: outputs.__setitem__(n, out[0].clone()))
    with torch.inference_mode():
        m(x)
    for name in ("blocks.4", "blocks.9"):
        maps = stream.maps[name]
        p = maps["panels"]
        assert p["x"].shape == p["F"].shape == p["y"].shape == (rs.MAPS, *outputs[name].shape[1:])
        assert torch.allclose(torch.from_numpy(p["y"]), torch.from_numpy(p["x"] + p["F"]), atol=1e-5)
        energy = outputs[name].square().mean((1, 2))
        assert maps["channels"] == sorted(energy.topk(rs.MAPS).indices.tolist())
        assert torch.allclose(torch.from_numpy(p["y"]).relu(), outputs[name][maps["channels"]], atol=1e-5)
    assert stream.maps["blocks.9"]["x_is_shortcut"] and not stream.maps["blocks.4"]["x_is_shortcut"]
    assert "F(x) + shortcut(x)" in rs.block_sentence(stream, "blocks.9")


def test_summary_and_comparison_are_computed_from_the_blocks():
    img = Image.open(photo())
    res, plain = rs.on_image(img, "cifar-resnet56"), rs.on_image(img, "cifar-plain56")
    for s in (res, plain):
        gone = [b for b in s.blocks if b["deletable"]]
        kept = sum(b["label_if_deleted"] == s.label for b in gone)
        assert f"keeps **{s.label}** on top in **{kept} of {len(gone)}**" in rs.summary(s)
    text = rs.compare(res, plain)
    numbers = [int(n) for n in re.findall(r"in (\d+) of (\d+)", text)[0] + re.findall(r"in (\d+) of (\d+)", text)[1]]
    assert numbers[1] == 27 and numbers[3] == 25
    assert rs.twin("cifar-resnet56") == "cifar-plain56" and rs.twin("cifar-plain20") == "cifar-resnet20"
    assert rs.twin("resnet50") is None


def test_int8_models_are_refused_with_their_float_twin_named(torch_home):
    """torchvision's quantized ResNet-50 (IMAGENET1K_FBGEMM_V2) was quantized from IMAGENET1K_V2, the default
    float weights: Classify's "resnet50"; ResNet-18's from IMAGENET1K_V1, its only (default) weights."""
    from torchvision.models import get_model_weights

    for arch in ("resnet50", "resnet18"):
        source = get_model_weights(f"quantized_{arch}").DEFAULT.meta["unquantized"]
        want = arch if source is get_model_weights(arch).DEFAULT else f"{arch}.{source.name}"
        with pytest.raises(rs.NotDecomposable, match=rf"Choose {re.escape(want)}, the float weights"):
            rs.on_image(Image.open(photo()), f"{arch}.int8")


def test_one_image_at_a_time():
    clf = classifiers.MODELS.get("cifar-resnet20")
    with pytest.raises(ValueError, match="one image at a time"):
        rs.residual_stream(clf.model, torch.zeros(2, 3, 32, 32), clf.labels)


def test_a_block_is_named_as_every_tab_names_it():
    """#41: one numbering across tabs ("stage 2, block 1 of 9"), the code name only beside it."""
    from resnet_demo.nets.cifar import block_label

    assert block_label(56, 9) == "stage 2, block 1 of 9" and block_label(56, 26) == "stage 3, block 9 of 9"
    assert block_label(20, 0) == "stage 1, block 1 of 3" and block_label(110, 18) == "stage 2, block 1 of 18"
