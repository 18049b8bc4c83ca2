"""Inside trained nets: each experiment checked against an independent way of computing the same thing."""
from __future__ import annotations

import copy
import json
import math
import re

import pytest
import torch
from torch import nn

from resnet_demo.base import settings
from resnet_demo.base.threads import torch_threads
from resnet_demo.experiments import landscape, lesion, responses
from resnet_demo.nets import cifar
from resnet_demo.nets.cifar import load_checkpoint
from resnet_demo.nets.data import load_bundled, normalize
from resnet_demo.ui import inside as tab


@pytest.fixture(scope="module")
def data():
    return load_bundled()


@pytest.fixture(scope="module")
def test_batch(data):
    return normalize(data.x_test[:200]), data.y_test[:200]


def trained(stem: str) -> nn.Module:
    path = cifar.checkpoints().get(f"cifar-{stem}")
    assert path is not None, f"assets/checkpoints/{stem}.pt is missing"
    return lesion.private_copy(load_checkpoint(path)[0])


def test_deleting_nothing_gives_the_intact_error_exactly(test_batch):
    model = trained("resnet20")
    result = lesion.study(model, *test_batch, ks=[], draws=1)
    assert result["baseline"] == lesion.error(model, *test_batch)
    with lesion.deleted(model, []):
        assert lesion.error(model, *test_batch) == result["baseline"]


def test_a_deleted_residual_block_equals_its_branch_zeroed(test_batch):
    model = trained("resnet20")
    result = lesion.study(model, *test_batch, ks=[3], draws=1, seed=4)
    for i in (0, 3, 6, 8):  # 3 and 6 are the downsampling blocks (option A shortcut)
        ref = copy.deepcopy(model)
        with torch.no_grad():
            ref.blocks[i].bn2.weight.zero_()
            ref.blocks[i].bn2.bias.zero_()  # the branch now outputs exactly 0: the block is relu(shortcut(x))
        assert result["single"][i]["error"] == lesion.error(ref, *test_batch), i
        assert result["single"][i]["downsampling"] == (i in (3, 6))
    (k, idx), = lesion.random_deletions(model, [3], 1, 4)
    ref = copy.deepcopy(model)
    with torch.no_grad():
        for i in idx:
            ref.blocks[i].bn2.weight.zero_()
            ref.blocks[i].bn2.bias.zero_()
    assert result["k_removed"] == [{"k": 3, "error": lesion.error(ref, *test_batch),
                                    "errors": [lesion.error(ref, *test_batch)]}]
    assert all(isinstance(b, type(model.blocks[0])) for b in model.blocks)  # the blocks are put back


def test_a_deleted_plain_block_equals_the_identity_and_downsampling_ones_cannot_go(test_batch):
    model = trained("plain20")
    result = lesion.study(model, *test_batch, ks=[], draws=1)
    for i, s in enumerate(result["single"]):
        if i in (3, 6):
            assert s["error"] is None and s["downsampling"]
            continue
        ref = copy.deepcopy(model)
        ref.blocks[i] = nn.Identity()
        assert s["error"] == lesion.error(ref, *test_batch), i
    assert all(3 not in idx and 6 not in idx for _, idx in lesion.random_deletions(model, range(1, 8), 3, 0))


def test_filter_normalised_direction_matches_each_filters_norm():
    model = trained("resnet20")
    d = landscape.filter_normalized_direction(model, torch.Generator().manual_seed(0))
    for name, p in model.named_parameters():
        if p.dim() <= 1:
            assert torch.count_nonzero(d[name]) == 0, name  # BN and biases stay where they are
            continue
        for f in range(p.shape[0]):
            assert d[name][f].norm().item() == pytest.approx(p[f].norm().item(), rel=1e-6), (name, f)
    again = landscape.filter_normalized_direction(model, torch.Generator().manual_seed(0))
    assert all(torch.equal(d[k], again[k]) for k in d)  # seeded


def test_the_slice_passes_through_the_trained_weights_and_leaves_them_there(data):
    model = trained("resnet20")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = normalize(data.x_train[:64]), data.y_train[:64]
    result = landscape.loss_slice(model, x, y, points=5, seed=1)
    assert result["alphas"][2] == 0.0
    assert (result["loss"][2], result["error"][2]) == lesion.loss_and_error(model, x, y)
    assert result["loss"][0] > result["loss"][2] and result["loss"][4] > result["loss"][2]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.slow
def test_stored_surface_row_is_reproduced_by_its_script(data):
    path = settings.INSIDE_DIR / "landscape.json"
    assert path.exists(), "assets/inside/landscape.json is missing: run scripts/inside_trained.py"
    stored = json.loads(path.read_text())
    m = stored["setup"]
    x, y = normalize(data.x_train[:m["images"]]), data.y_train[:m["images"]]
    model = trained(f"resnet{m['depth']}")
    j = m["points"] // 2 + 3
    with torch_threads(stored["provenance"]["threads"]):
        (_, row), = landscape.surface_rows(model, x, y, points=m["points"], span=m["span"], seed=m["seed"], rows=[j])
    want = stored["nets"]["residual"]["loss"][j]
    if f"{torch.backends.cpu.get_cpu_capability()})" in stored["provenance"]["machine"]:
        assert row == want  # same CPU kernels, same threads: the same numbers
    else:
        assert row == pytest.approx(want, rel=1e-4)  # another ISA sums in another order
    for arch in ("plain", "residual"):
        assert stored["nets"][arch]["roughness"] == landscape.roughness(stored["nets"][arch]["loss"], m["cap"])


@pytest.mark.slow
def test_stored_lesion_baselines_are_the_checkpoints_errors(data):
    stored = json.loads((settings.INSIDE_DIR / "lesion.json").read_text())
    x, y = normalize(data.x_test), data.y_test
    assert {d: tuple(p) for d, p in stored["pairs"].items()} == {str(d): a for d, a in lesion.available().items()}
    for depth, pair in stored["pairs"].items():
        for arch in pair:
            assert pair[arch]["baseline"] == lesion.error(trained(cifar.checkpoint_stem(arch, int(depth))), x, y)
            assert len(pair[arch]["single"]) == (int(depth) - 2) // 2
            deletable = sum(e["error"] is not None for e in pair[arch]["single"])
            assert [e["k"] for e in pair[arch]["k_removed"]] == list(range(1, min(10, deletable) + 1))


def test_block_ratios_match_a_hand_computed_block(test_batch):
    model = trained("resnet20")
    x = test_batch[0]
    got = responses.block_ratios(model, x, batch=64)
    with torch.no_grad():
        h = torch.relu(model.bn(model.conv(x)))
        ref = []
        for b in model.blocks:
            f = b.bn2(b.conv2(torch.relu(b.bn1(b.conv1(h)))))
            ref.append(f.square().mean().sqrt().item() / h.square().mean().sqrt().item())
            h = b(h)
    assert got == pytest.approx(ref, rel=1e-5)
    init = lesion.private_copy(trained("resnet20"))
    before = {k: v.clone() for k, v in init.state_dict().items()}
    responses.block_ratios(init, x, train_mode=True)
    assert all(torch.equal(before[k], v) for k, v in init.state_dict().items())  # BN statistics put back
    assert all(math.isfinite(v) and v > 0 for v in got)


def test_live_requests_are_capped():
    with pytest.raises(Exception, match="between 50 and 500"):
        tab.run_lesion(56, 5000)
    with pytest.raises(Exception, match="between 3 and 41"):
        tab.loss_slice(20, 64, 500)
    with pytest.raises(Exception, match="Depth must be one of 20, 56"):
        tab.run_lesion(32, 100)  # no checkpoint of depth 32 is shipped
    with pytest.raises(Exception, match="Depth must be one of"):
        tab.loss_slice("deep", 64, 5)


def test_the_depths_offered_are_the_shipped_checkpoints(monkeypatch):
    keys = ["cifar-plain20", "cifar-plain56", "cifar-resnet110", "cifar-resnet20", "cifar-resnet56", "cifar-plain44"]
    monkeypatch.setattr(cifar, "checkpoints", lambda: dict.fromkeys(keys))
    both = ("residual", "plain")
    assert lesion.available() == {20: both, 56: both, 110: ("residual",)}  # no ResNet-44: plain-44 alone is not
    assert list(lesion.available()) == [20, 56, 110]                        # a study; sorted by depth
    assert tab._lesion_choices() == [("20", 20), ("56", 56), ("110 (ResNet only)", 110)]
    assert tab._pairs() == [20, 56]  # the loss slice compares plain with ResNet
    with pytest.raises(Exception, match="Depth must be one of 20, 56\\."):
        tab.loss_slice(110, 64, 5)


def test_readme_names_the_depths_the_api_takes():
    """README's /lesion and /loss_slice lines list the depths those endpoints accept with the shipped checkpoints."""
    readme = (settings.ROOT / "README.md").read_text()
    lesion_line = re.search(r"# /lesion: depth of a shipped checkpoint \(([^)]*)\)", readme)
    slice_line = re.search(r"# /loss_slice: nets \(([^)]*)\)", readme)
    assert lesion_line and slice_line, "README lost its /lesion or /loss_slice line"
    assert [int(d) for d in re.findall(r"\d+", lesion_line.group(1))] == list(lesion.available())
    assert [int(d) for d in re.findall(r"\d+", slice_line.group(1))] == tab._pairs()


def test_a_residual_net_alone_is_studied_plotted_and_described(monkeypatch, test_batch):
    """ResNet-110 has no plain twin: the live study, the figures and the text work with the residual net alone.
    Played here by ResNet-20, offered without its plain twin."""
    monkeypatch.setattr(lesion, "available", lambda: {20: ("residual",), 56: ("residual", "plain")})
    single, k_plot, text, result = tab.run_lesion(20, 50)
    assert set(result) == {"depth", "residual"}
    assert result["residual"]["baseline"] == lesion.error(trained("resnet20"), *map(lambda t: t[:50], test_batch))
    assert [t.name for t in single.data] == ["ResNet-20, one block deleted"]
    assert [t.name for t in k_plot.data] == ["ResNet-20"]
    assert "No plain-20 was trained" in text and "plain net" not in text
    rise = 100 * lesion.median_rise(result["residual"])
    assert f"ResNet-20 **{rise:+.2f} points" in text
    called = lesion.rise(result["residual"]).called
    assert ("within noise of its intact error" in text) == (not called)


def test_depth_trend_reads_the_residual_nets_only():
    def study(baseline: float, errors: list[float]) -> dict:
        return {"baseline": baseline, "images": 1000, "single": [{"block": i, "error": e, "downsampling": False}
                                                                 for i, e in enumerate(errors)]}

    pairs = {"20": {"residual": study(0.1, [0.3, 0.4, 0.5]), "plain": study(0.1, [0.9, 0.9, 0.9])},
             "56": {"residual": study(0.1, [0.12, 0.2, 0.3])}, "110": {"residual": study(0.1, [0.1, 0.11, 0.2])}}
    text = lesion.depth_trend(pairs)  # 1,000 images: each rise ±~2.7 points, each step ±~3.8
    assert text.startswith("One block deleted, median rise by depth: ResNet-20 +30.0, ResNet-56 +10.0, "
                           "ResNet-110 +1.0 points.")
    assert "ResNet-20 → 56: -20.00 points, lower" in text and "ResNet-56 → 110: -9.00 points, lower" in text
    assert text.endswith("the deeper the net, the less any one block matters.")
    pairs["110"] = {"residual": study(0.1, [0.12, 0.19, 0.3])}
    assert "ResNet-56 → 110: -1.00 points, within noise" in lesion.depth_trend(pairs)
    assert lesion.depth_trend(pairs).endswith("not falling beyond noise at every step in depth.")
    assert lesion.depth_trend({"20": pairs["20"]}) == ""


def test_roughness_of_known_surfaces():
    bowl = [[(i - 2) ** 2 + (j - 2) ** 2 for i in range(5)] for j in range(5)]
    saddle = [[(j - 2) ** 2 - (i - 2) ** 2 for i in range(5)] for j in range(5)]
    assert landscape.roughness(bowl) == {"points": 9, "nonconvex_share": 0.0, "local_minima": 1, "bumpiness": 4 / 8,
                                      "below_cap_share": 1.0}
    saddle_r = landscape.roughness(saddle)
    assert saddle_r["nonconvex_share"] == 1.0 and saddle_r["local_minima"] == 0
    capped = landscape.roughness(bowl, cap=4)  # only the centre's 3x3 neighbourhood stays at or below 4
    assert capped["points"] == 1 and capped["below_cap_share"] == 13 / 25


@pytest.mark.slow
def test_stored_responses_and_ratios_are_reproduced():
    """A page load shows Fig. 7 and the F(x) ratios from assets/inside/responses.json
    (``python -m scripts.inside_trained --what responses``): recomputed now, the same numbers."""
    from resnet_demo.base.settings import INSIDE_DIR

    stored = json.loads((INSIDE_DIR / "responses.json").read_text())
    for key, now in (responses.compute().items()):
        assert set(stored[key]) == set(now), key
        for name, values in now.items():
            assert stored[key][name] == pytest.approx(values, rel=1e-4), (key, name)
    assert responses.trained_responses()[0] == stored["fig7"]  # what the tabs show is the file
    assert set(stored["provenance"]) == {"command", "machine", "threads", "date", "wall_s", "notes"}


def test_one_direction_calls_no_net_flatter():
    """#39: the 1-D slice gives the absolute and the relative rise, says when they disagree, and calls neither net
    flatter (one direction: no measured noise); the stored 2-D surfaces likewise call no difference."""
    results = {"plain": {"loss": [16.7, 0.9, 12.0]}, "residual": {"loss": [7.01, 0.11, 5.0]}}
    text = landscape.slice_summary(results, 56)
    assert "it rises **15.8** at the steeper end, 18.6× its centre" in text  # plain: 16.7 - 0.9, 16.7 / 0.9
    assert "it rises **6.9** at the steeper end, 63.7× its centre" in text
    assert "The two measures disagree: ResNet-56's loss rises less in absolute terms, plain-56's less relative" in text
    assert "neither net is called flatter" in text and "wider valley" not in text
    agree = landscape.slice_summary({"plain": {"loss": [9.0, 1.0, 2.0]}, "residual": {"loss": [3.0, 1.0, 2.0]}}, 20)
    assert "ResNet-20's loss rises less, both in absolute terms and relative to its centre" in agree
    verdict, _ = landscape.summary(landscape.stored())
    assert "none is called" in verdict and "as Li et al. found" not in verdict
