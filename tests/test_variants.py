"""He et al. 2016's units and shortcuts (#43, the core): each variant against its formula written out with
torch.nn.functional on a tiny input, the original one against the app's own BasicBlock, and the defaults
unchanged."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from resnet_demo.nets.cifar import BasicBlock, cifar_net, load_checkpoint
from resnet_demo.nets.variants import SHORTCUT_KINDS, UNIT_KINDS, VariantBlock


def _block(unit="original", shortcut="identity", in_planes=4, planes=4, stride=1, gate_bias=0.0):
    torch.manual_seed(0)
    b = VariantBlock(in_planes, planes, stride=stride, shortcut=shortcut, unit=unit, gate_bias=gate_bias)
    with torch.no_grad():  # BN with statistics of its own, so that a wrong place for it shows
        for bn in (b.bn1, b.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    return b.eval()


def _bn(x, bn):
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def _conv(x, conv):
    return F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding)


def _branch(unit, b, x):
    """F(x) as the paper's Fig. 4 draws each unit."""
    c1 = lambda t: _conv(t, b.conv1)  # noqa: E731
    c2 = lambda t: _conv(t, b.conv2)  # noqa: E731
    if unit == "full-preact":
        return c2(F.relu(_bn(c1(F.relu(_bn(x, b.bn1))), b.bn2)))
    if unit == "relu-preact":
        return _bn(c2(F.relu(_bn(c1(F.relu(x)), b.bn1))), b.bn2)
    inner = c2(F.relu(_bn(c1(x), b.bn1)))
    if unit == "bn-after-add":
        return inner
    return F.relu(_bn(inner, b.bn2)) if unit == "relu-before-add" else _bn(inner, b.bn2)


@pytest.mark.parametrize("unit", UNIT_KINDS)
def test_each_unit_is_its_formula(unit):
    b = _block(unit=unit)
    x = torch.randn(2, 4, 5, 5, generator=torch.Generator().manual_seed(1))
    y = x + _branch(unit, b, x)
    want = {"original": F.relu(y), "bn-after-add": F.relu(_bn(y, b.bn2))}.get(unit, y)  # pre-act: nothing after
    torch.testing.assert_close(b(x), want)


@pytest.mark.parametrize("kind", SHORTCUT_KINDS)
@pytest.mark.parametrize("stride,in_planes,planes", [(1, 4, 4), (2, 4, 8)])
def test_each_shortcut_is_its_formula(kind, stride, in_planes, planes):
    b = _block(shortcut=kind, in_planes=in_planes, planes=planes, stride=stride, gate_bias=-1.5)
    x = torch.randn(2, in_planes, 6, 6, generator=torch.Generator().manual_seed(2))
    f = _branch("original", b, x)
    s = x[:, :, ::stride, ::stride]
    extra = planes - in_planes  # option A: zero channels, half before and half after
    s = torch.cat([torch.zeros_like(s[:, : extra // 2]), s, torch.zeros_like(s[:, : extra - extra // 2])], 1)
    if kind in ("exclusive-gate", "shortcut-gate"):
        g = torch.sigmoid(F.conv2d(x, b.gate.weight, b.gate.bias, stride))
    y = {"identity": lambda: s + f, "scale": lambda: 0.5 * s + f, "scale-both": lambda: 0.5 * s + 0.5 * f,
         "exclusive-gate": lambda: g * f + (1 - g) * s, "shortcut-gate": lambda: f + (1 - g) * s,
         "conv1x1": lambda: F.conv2d(x, b.project.weight, None, stride) + f,
         "dropout": lambda: 0.5 * s + f}[kind]()  # dropout in evaluation: its expected scale, 0.5
    torch.testing.assert_close(b(x), F.relu(y))


def test_the_dropout_shortcut_drops_with_the_requests_own_generator():
    b = _block(shortcut="dropout").train()
    x = torch.randn(1, 4, 8, 8)
    b.generator = torch.Generator().manual_seed(3)
    one = b.combine(x, torch.zeros_like(x))
    b.generator = torch.Generator().manual_seed(3)
    assert torch.equal(one, b.combine(x, torch.zeros_like(x)))  # the same mask from the same seed
    kept = (one != 0).float().mean().item()
    assert 0.35 < kept < 0.65 and torch.equal(one[one != 0], x[one != 0])  # kept as they are: no 1/(1 - p)


def test_the_original_variant_is_the_apps_basic_block():
    """The same weights give BasicBlock's output: the variants share the app's definition of the original unit."""
    for stride, planes in ((1, 4), (2, 8)):
        ref = BasicBlock(4, planes, stride=stride).eval()
        v = VariantBlock(4, planes, stride=stride).eval()
        v.load_state_dict({k: t for k, t in ref.state_dict().items()}, strict=True)
        x = torch.randn(2, 4, 6, 6)
        torch.testing.assert_close(v(x), ref(x))


def test_the_default_nets_are_built_exactly_as_before(tmp_path):
    """unit and shortcut_kind at their defaults: the same modules, the same draws, so the shipped checkpoints load
    and a stored run's weights are what they were."""
    a = cifar_net(20, generator=torch.Generator().manual_seed(0))
    b = cifar_net(20, generator=torch.Generator().manual_seed(0), unit="original", shortcut_kind="identity")
    assert all(isinstance(m, BasicBlock) for m in b.blocks)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    from resnet_demo.nets import cifar

    for path in cifar.checkpoints().values():
        load_checkpoint(path)  # strict: a changed module tree would not load


@pytest.mark.parametrize("unit,kind", [(u, "identity") for u in UNIT_KINDS[1:]]
                         + [("original", k) for k in SHORTCUT_KINDS[1:]])
def test_every_variant_net_trains(unit, kind):
    """A whole net of each variant: its gradients reach every parameter, finite, and its gates start at their
    bias whatever generator drew the weights."""
    net = cifar_net(8, unit=unit, shortcut_kind=kind, generator=torch.Generator().manual_seed(0))
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    F.cross_entropy(net(x), y).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    for m in net.modules():
        if isinstance(m, VariantBlock) and hasattr(m, "gate"):
            assert torch.equal(m.gate.bias, torch.zeros_like(m.gate.bias))  # the default gate bias, 0
    with pytest.raises(ValueError):
        cifar_net(8, residual=False, unit=unit, shortcut_kind=kind)  # a plain net has no unit to vary


def test_the_gradient_argument_measured_against_its_closed_form():
    """The paper's derivation (§3) takes f, the activation after the addition, as the identity: the full
    pre-activation unit. With every residual branch switched off (its last conv at 0, so F(x) = 0) only the
    shortcut path is left, and the gradient at a unit is the last one's times λ^units for constant scaling, 1 for
    the identity, measured with autograd through the whole net."""
    from resnet_demo.nets.variants import shortcut_path_factor, unit_input_gradients

    x, y = torch.randn(16, 3, 16, 16), torch.randint(0, 10, (16,))
    units = 3 * 3  # depth 20: three stages of three units
    for kind, scale in (("identity", 1.0), ("scale", 0.5), ("scale-both", 0.5)):
        net = cifar_net(20, unit="full-preact", shortcut_kind=kind, generator=torch.Generator().manual_seed(0)).eval()
        with torch.no_grad():
            for b in net.blocks:
                b.conv2.weight.zero_()
        g = unit_input_gradients(net, x, y)
        assert len(g) == units + 1
        # a downsampling unit drops 3/4 of the positions and pads channels: compare across the last stage's two
        # units that keep the shape (unit 6 downsamples): the input of unit 7 against the output of unit 8
        ratio = g[7] / g[9]
        assert ratio == pytest.approx(scale ** 2, rel=1e-4), kind
        assert shortcut_path_factor(kind, 2) == pytest.approx(scale ** 2)
    assert shortcut_path_factor("exclusive-gate", 3) is None and shortcut_path_factor("dropout", 3) is None
