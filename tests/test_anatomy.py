"""The Anatomy tab's counts against independent references: the modules themselves, torchvision's published
metadata and the paper's tables."""
from __future__ import annotations

import pytest
import torch
import torchvision

from resnet_demo.base import paper
from resnet_demo.experiments import anatomy, macs
from resnet_demo.nets.cifar import cifar_net, count_params

IMAGENET = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg19"]


@pytest.mark.parametrize("name", IMAGENET)
def test_params_and_macs_match_torchvision(name):
    a = anatomy.anatomy(name)
    assert a.params == count_params(torchvision.models.get_model(name, weights=None))  # what Classify builds
    published = torchvision.models.get_model_weights(name).DEFAULT.meta["_ops"]  # GFLOPS = billions of MACs
    assert a.macs / 1e9 == pytest.approx(published, rel=0.01)
    assert sum(s.params for s in a.stages) == a.params and sum(s.macs for s in a.stages) == a.macs


@pytest.mark.parametrize("name", ["resnet50", "cifar-resnet20-B", "vgg19"])
def test_the_counter_agrees_with_flopcountermode_module_by_module(name):
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = anatomy.build(name).eval()
    ours, _ = macs.count_macs(model, anatomy.input_size(name))
    size = anatomy.input_size(name)
    with FlopCounterMode(display=False) as reference, torch.no_grad():
        model(torch.empty(1, 3, size, size, device="meta"))
    theirs = {(k.split(".", 1)[1] if "." in k else "<global>"): sum(v.values()) // 2
              for k, v in reference.get_flop_counts().items() if k != "Global"}
    assert ours["<global>"] == theirs["<global>"]
    assert {k: v for k, v in ours.items() if v} == {k: v for k, v in theirs.items() if v}


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_table1_output_sizes_layout_and_depth(depth):
    a = anatomy.anatomy(f"resnet{depth}")
    assert {s.name: s.output_size for s in a.stages} == paper.TABLE1["output_size"]
    assert a.weight_layers == depth
    blocks = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3], 152: [3, 8, 36, 3]}[depth]
    assert [s.blocks_layout.rsplit("× ", 1)[1] for s in a.stages[1:5]] == [str(n) for n in blocks]
    if depth >= 50:
        assert a.stages[1].blocks_layout == "3×3 max pool, /2; [1×1, 64; 3×3, 64; 1×1, 256] × 3"
    else:
        assert a.stages[1].blocks_layout == f"3×3 max pool, /2; [3×3, 64; 3×3, 64] × {blocks[0]}"


def test_plain34_is_resnet34_without_its_three_projections():
    resnet34 = torchvision.models.resnet34()
    projections = [m for name, m in resnet34.named_modules() if name.endswith("downsample")]
    assert len(projections) == 3
    assert anatomy.anatomy("plain34").params == count_params(resnet34) - sum(count_params(p) for p in projections)
    assert anatomy.anatomy("plain34").weight_layers == 34
    assert anatomy.anatomy("resnet34-A").params == anatomy.anatomy("plain34").params  # zero-padding: no params
    assert (
        anatomy.anatomy("resnet34-C").params > anatomy.anatomy("resnet34").params > anatomy.anatomy("resnet34-A").params
    )


@pytest.mark.parametrize("depth,paper", [(20, 0.27), (32, 0.46), (44, 0.66), (56, 0.85), (110, 1.7)])
def test_cifar_params_match_the_paper_and_the_trained_modules(depth, paper):
    a = anatomy.anatomy(f"cifar-resnet{depth}")
    assert a.params == count_params(cifar_net(depth))  # the module Depth and Gradient flow train
    assert round(a.params / 1e6, 1 if depth == 110 else 2) == paper
    assert a.paper["params"] == round(paper * 1e6)
    assert a.weight_layers == depth
    assert [s.output_size for s in a.stages] == ["32×32", "32×32", "16×16", "8×8", "1×1"]
    b, c = anatomy.anatomy(f"cifar-resnet{depth}-B"), anatomy.anatomy(f"cifar-resnet{depth}-C")
    assert b.params == count_params(cifar_net(depth, shortcut="B")) > a.params
    assert c.params == count_params(cifar_net(depth, shortcut="C")) > b.params


def test_blocks_say_which_shortcut_they_have():
    stages = anatomy.anatomy("resnet50").stages
    assert stages[1].blocks[1].shortcut.startswith("projection (1×1 conv, 256")  # the first bottleneck's
    assert stages[1].blocks[2].shortcut == "identity"
    assert stages[2].blocks[0].shortcut == "projection (1×1 conv, 512, /2)"
    assert anatomy.anatomy("plain34").stages[2].blocks[0].shortcut == "none (plain)"
    assert anatomy.anatomy("cifar-resnet20").stages[2].blocks[0].shortcut == "zero-padding (option A), /2"
    layer = anatomy.anatomy("resnet50").stages[2].blocks[0].layers[0]
    assert layer.what == "1×1 conv, 128" and layer.output == [128, 56, 56] and layer.params == 256 * 128


def test_the_papers_layout_explains_torchvisions_extra_multiply_adds():
    """torchvision's v1.5 bottleneck strides the 3x3; the paper's strides the first 1x1 (Table 1: 3.8 G)."""
    for depth, theirs in ((50, 3.8), (101, 7.6), (152, 11.3)):
        assert anatomy.stride_on_first_1x1_macs(f"resnet{depth}") / 1e9 == pytest.approx(theirs, abs=0.06)
        assert anatomy.anatomy(f"resnet{depth}").macs / 1e9 > theirs + 0.15


def test_basic_block_and_bottleneck_cost_about_the_same():
    basic, bottleneck = anatomy.block_comparison()
    assert basic["params"] == 2 * 3 * 3 * 64 * 64 + 2 * 2 * 64  # two 3x3 convs and their BNs
    assert bottleneck["params"] == 256 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256)
    assert basic["macs"] == (2 * 3 * 3 * 64 * 64) * 56 * 56
    assert 0.9 < bottleneck["macs"] / basic["macs"] < 1.0  # "similar time complexity" (Fig. 5)


def test_the_stored_counts_are_what_counting_gives_now():
    """A page load reads assets/anatomy.json (scripts/anatomy_counts.py) instead of counting: every network,
    recounted from its module now, must give exactly what is stored."""
    import json

    from resnet_demo.base.settings import ANATOMY_FILE

    stored = json.loads(ANATOMY_FILE.read_text())
    now = json.loads(json.dumps(anatomy.counts()))  # tuples -> lists, as stored
    assert set(stored["networks"]) == set(anatomy.network_names())
    for key in ("networks", "stride_on_first_1x1_macs", "block_comparison"):
        assert stored[key] == now[key], f"assets/anatomy.json is stale ({key}): python -m scripts.anatomy_counts"
    assert set(stored["provenance"]) == {"command", "machine", "threads", "date", "wall_s", "notes"}
    assert anatomy.anatomy("resnet50") == anatomy.compute("resnet50")  # the stored entry reads back whole


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown network"):
        anatomy.anatomy("resnet9000")


def test_counts_made_at_the_same_time_do_not_mix():
    """The tab counts in a background thread while requests count too (FlopCounterMode's module tracking is
    process-wide): per-stage numbers must be those of a count made alone."""
    import threading

    names = ["resnet50", "cifar-resnet110-C", "vgg19", "resnet152"]
    alone = {}
    for name in names:
        anatomy.compute.cache_clear()
        alone[name] = [(s.params, s.macs) for s in anatomy.compute(name).stages]
    anatomy.compute.cache_clear()
    together = {}

    def count(name):
        with torch.device("meta"):
            model = anatomy.build(name).eval()
        counted, _ = macs.count_macs(model, anatomy.input_size(name))
        together[name] = counted

    threads = [threading.Thread(target=count, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for name in names:
        stages = anatomy.compute(name).stages
        assert [(s.params, s.macs) for s in stages] == alone[name]
        assert together[name]["<global>"] == anatomy.compute(name).macs
        assert together[name] == macs.count_macs(anatomy.build(name).to("meta").eval(), anatomy.input_size(name))[0]


def test_counting_does_not_disturb_gradients_in_other_threads():
    """Grad-CAM (torch.autograd.grad through a module) runs in request threads while the tab counts in the
    background; FlopCounterMode's process-wide module hooks broke it ("A leaf node was passed to
    _will_engine_execute_node"). Counting must leave other threads alone."""
    import threading

    stop = threading.Event()

    def count_forever():
        while not stop.is_set():
            anatomy.compute.cache_clear()
            anatomy.compute("cifar-resnet56")

    worker = threading.Thread(target=count_forever)
    worker.start()
    try:
        head = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(64, 10))
        import time

        end = time.monotonic() + 5  # long enough to overlap many counts (each ~0.1-0.3 s)
        while time.monotonic() < end:
            feats = torch.randn(1, 64, 7, 7, requires_grad=True)
            (grad,) = torch.autograd.grad(head(feats)[0, 0], feats)
            assert grad.shape == (1, 64, 7, 7)
    finally:
        stop.set()
        worker.join(timeout=60)


def test_the_diagram_counts_blocks_as_table1_does():
    """#41: conv2_x of ResNet-34 is "× 3" in Table 1; the max pool that opens it is not a block, and every row of
    the stem says what it is."""
    from resnet_demo.views import anatomy_html as tab

    html = tab.diagram(anatomy.anatomy("resnet34"))
    assert "conv2_x, block 1 of 3" in html and "conv2_x, block 3 of 3" in html and "conv2_x, block 4" not in html
    assert "conv5_x, block 3 of 3" in html and "conv4_x, block 6 of 6" in html
    assert "<b><code>bn1</code></b>: BN" in html  # not an empty description
