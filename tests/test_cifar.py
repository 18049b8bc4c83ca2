import pytest
import torch
from torch import nn

from resnet_demo.nets.cifar import checkpoints, cifar_net, count_params, load_checkpoint, save_checkpoint, weight_layers

# The paper's Table 6 parameter counts (option A shortcuts).
PAPER_PARAMS = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6}


@pytest.mark.parametrize("depth", sorted(PAPER_PARAMS))
def test_parameter_counts_match_the_paper(depth):
    n = count_params(cifar_net(depth))
    # the paper rounds to two significant figures
    assert round(n / 1e6, 2 if depth < 110 else 1) == pytest.approx(PAPER_PARAMS[depth] / 1e6)


@pytest.mark.parametrize("depth", [8, 20, 56])
def test_option_a_has_no_shortcut_parameters(depth):
    assert count_params(cifar_net(depth, residual=False)) == count_params(cifar_net(depth, shortcut="A"))
    b = count_params(cifar_net(depth, shortcut="B"))
    # option B adds two 1x1 projections (16->32, 32->64) and their BNs
    assert b - count_params(cifar_net(depth)) == 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64


@pytest.mark.parametrize("depth,width,size", [(8, 16, 32), (20, 8, 16), (32, 16, 32), (14, 4, 24)])
def test_output_shapes(depth, width, size):
    for residual in (False, True):
        for bn in (False, True):
            m = cifar_net(depth, residual=residual, batch_norm=bn, width=width)
            assert m(torch.randn(3, 3, size, size)).shape == (3, 10)


def test_depth_counts_weight_layers_and_order():
    for depth in (20, 56):
        layers = weight_layers(cifar_net(depth))
        assert len(layers) == depth  # 6n+2: stem conv, 6n block convs, the linear layer
        assert layers[0][0] == "conv" and layers[-1][0] == "fc"
    names = [n for n, _ in cifar_net(8).named_children()]
    assert names == ["conv", "bn", "blocks", "fc"]


def test_feature_map_sizes_and_filters():
    m = cifar_net(20)
    shapes = []
    hooks = [b.register_forward_hook(lambda _m, _i, o: shapes.append(tuple(o.shape[1:]))) for b in m.blocks]
    m(torch.randn(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert shapes == [(16, 32, 32)] * 3 + [(32, 16, 16)] * 3 + [(64, 8, 8)] * 3


def test_residual_adds_identity_plain_does_not():
    torch.manual_seed(0)
    res = cifar_net(8).eval()
    plain = cifar_net(8, residual=False).eval()
    plain.load_state_dict(res.state_dict())
    block_r, block_p = res.blocks[0], plain.blocks[0]
    x = torch.randn(2, 16, 8, 8)
    branch = block_p.bn2(block_p.conv2(torch.relu(block_p.bn1(block_p.conv1(x)))))
    assert torch.allclose(block_r(x), torch.relu(branch + x), atol=1e-6)
    assert torch.allclose(block_p(x), torch.relu(branch), atol=1e-6)


def test_he_init_and_bn_switch():
    m = cifar_net(56, batch_norm=False)
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m.modules())
    conv = m.blocks[10].conv1  # 32 -> 32 channels, 3x3: std sqrt(2 / (9 * 32))
    assert conv.weight.std().item() == pytest.approx((2 / (9 * 32)) ** 0.5, rel=0.05)


def test_bad_arguments_are_refused():
    for kwargs in ({"depth": 21}, {"depth": 2}, {"depth": 20, "shortcut": "D"}, {"depth": 20, "width": 0}):
        with pytest.raises(ValueError):
            cifar_net(**kwargs)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(1)
    model = cifar_net(14, shortcut="B", width=8).eval()
    run = {"name": "ResNet-14", "arch": "residual", "depth": 14, "width": 8, "batch_norm": True, "shortcut": "B",
           "image_size": 32, "dataset": "test", "iterations": [10], "test_error": [0.5]}
    save_checkpoint(model.to(memory_format=torch.channels_last), tmp_path / "c.pt", run=run)
    loaded, meta = load_checkpoint(tmp_path / "c.pt")
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(loaded(x), model(x), atol=1e-5)  # memory formats differ, so not bit-equal
    assert meta["test_error"] == 0.5 and meta["config"]["shortcut"] == "B" and len(meta["classes"]) == 10


def test_checkpoints_are_listed_plain_first_then_by_depth(tmp_path):
    """Classify's model list and the Inside tab follow this order: resnet110 after resnet56, not (by name) first."""
    for stem in ("resnet56", "plain56", "resnet110", "resnet20", "plain20", "resnet32"):
        (tmp_path / f"{stem}.pt").touch()
    assert list(checkpoints(tmp_path)) == ["cifar-plain20", "cifar-plain56", "cifar-resnet20", "cifar-resnet32",
                                                 "cifar-resnet56", "cifar-resnet110"]
