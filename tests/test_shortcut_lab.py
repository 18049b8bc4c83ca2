"""The shortcut lab (#43): He et al. 2016's variants trained by the one engine, their gradient profiles against
an independent autograd reference and the closed form, the stored file, and the tab's refusals."""
from __future__ import annotations

import dataclasses
import math

import gradio as gr
import pytest
import torch
import torch.nn.functional as F

from resnet_demo.experiments import shortcut_lab
from resnet_demo.nets import data
from resnet_demo.nets.trainer import TrainConfig, Trainer
from resnet_demo.views import shortcut_text


@pytest.fixture(scope="module")
def bundled():
    return data.load_bundled()


def test_every_variant_is_a_real_net_that_trains(bundled):
    for key, v in shortcut_lab.VARIANTS.items():
        cfg = TrainConfig(depth=8, width=4, image_size=16, batch_size=32, iterations=2, milestones=(), eval_every=0,
                          log_every=1, unit=v.unit, shortcut_kind=v.shortcut)
        t = Trainer(cfg, bundled.subset(256, 64))
        before = [p.detach().clone() for p in t.model.parameters()]
        t.step()
        t.step()
        assert any(not torch.equal(a, b) for a, b in zip(before, t.model.parameters())), key
        assert (t.run["recipe"].get("unit"), t.run["recipe"].get("shortcut_kind")) == (
            None if v.unit == "original" else v.unit, None if v.shortcut == "identity" else v.shortcut), key


def test_a_resume_state_written_before_the_variants_still_loads(bundled, tmp_path):
    cfg = TrainConfig(depth=8, width=4, image_size=16, batch_size=32, iterations=4, milestones=(), eval_every=0,
                      log_every=1)
    t = Trainer(cfg, bundled.subset(256, 64))
    t.step()
    state = t.state_dict()
    for key in ("unit", "shortcut_kind", "gate_bias"):  # as the ResNet-56 seed runs' states were written
        del state["config"][key]
    again = Trainer(cfg, bundled.subset(256, 64))
    again.load_state_dict(state)
    assert again.iteration == 1
    other = Trainer(dataclasses.replace(cfg, unit="full-preact"), bundled.subset(256, 64))
    with pytest.raises(ValueError, match="different configuration"):
        other.load_state_dict(state)


def test_the_profile_is_the_autograd_gradient_at_each_unit_input(bundled):
    p = shortcut_lab.compute("scale", 20, 0, seed=1, data=bundled)
    assert p["units"] == 9 and len(p["grads"][0]) == 10 and p["steps"] == [0]
    assert p["closed_form"] == pytest.approx(0.5 ** 9)
    assert p["ratio"][0] == pytest.approx(p["grads"][0][0] / p["grads"][0][-1])
    # independent reference: the same net and batch, dL/dx of each unit's input by torch.autograd.grad
    from resnet_demo.experiments.gradflow import probe_batch
    from resnet_demo.nets.cifar import cifar_net

    net = cifar_net(20, generator=torch.Generator().manual_seed(1), shortcut_kind="scale").train()
    x, y = probe_batch(bundled, 1)
    h, inputs = net.stem(x), []
    for block in net.blocks:
        inputs.append(h)
        h = block(h)
    inputs.append(h)
    grads = torch.autograd.grad(F.cross_entropy(net.head(h), y), inputs)
    want = [g.pow(2).mean().sqrt().item() for g in grads]
    assert p["grads"][0] == pytest.approx(want, rel=1e-4)


def test_the_sentence_names_the_direct_share_beside_its_closed_form(bundled):
    p = shortcut_lab.compute("scale", 56, 0, data=bundled)
    text = shortcut_text.sentence(p)
    assert "27 units" in text and "λ^27 = 7.5e-09" in text
    assert f"at initialisation **{shortcut_text._sci(p['direct_ratio'][0])}**" in text
    ident = shortcut_lab.compute("identity", 56, 0, data=bundled)
    assert "(closed form 1)" in shortcut_text.sentence(ident)
    # the paper's point, measured: along the shortcuts, λ = 0.5 passes back orders of magnitude less
    assert p["direct_ratio"][0] < 1e-6 * ident["direct_ratio"][0]
    assert "no closed form" in shortcut_text.sentence(shortcut_lab.compute("conv1x1", 20, 0, data=bundled))


@pytest.mark.parametrize("kind, per_unit", [("identity", 1.0), ("scale", 0.5)])
def test_the_direct_path_is_the_closed_form_where_its_assumptions_hold(kind, per_unit):
    """Within one feature-map size and with nothing after the addition (a pre-activation unit), the gradient that
    comes back along the shortcuts alone is exactly λ^k times the one k units later (He et al. 2016, Eqn. 8)."""
    from resnet_demo.nets.cifar import cifar_net
    from resnet_demo.nets.variants import unit_input_gradients

    torch.manual_seed(0)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    net = cifar_net(20, width=4, unit="full-preact", shortcut_kind=kind,
                    generator=torch.Generator().manual_seed(0)).train()
    before = unit_input_gradients(net, x, y)
    direct = unit_input_gradients(net, x, y, direct=True)
    n = 3  # units a stage at depth 20; direct[n] is the first stage's output
    assert direct[0] / direct[n] == pytest.approx(per_unit ** n, rel=1e-5)
    assert direct[-1] == pytest.approx(before[-1])  # the forward pass and the last unit's gradient are unchanged
    assert unit_input_gradients(net, x, y) == pytest.approx(before)  # and nothing is left switched on


def test_the_direct_path_of_the_default_net_skips_its_branches(bundled):
    """The identity variant is the app's own BasicBlock net: its branches are skipped by a hook (removed after).
    Reference: autograd through the same net written out by hand, each branch's output detached."""
    from resnet_demo.nets.cifar import cifar_net
    from resnet_demo.nets.variants import unit_input_gradients

    torch.manual_seed(0)
    x, y = torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))
    net = cifar_net(20, width=4, generator=torch.Generator().manual_seed(0)).train()
    assert type(net.blocks[0]).__name__ == "BasicBlock"
    direct = unit_input_gradients(net, x, y, direct=True)
    h, inputs = net.stem(x), []
    for b in net.blocks:
        inputs.append(h)
        f = b.bn2(b.conv2(F.relu(b.bn1(b.conv1(h)))))
        h = F.relu(f.detach() + b.shortcut(h))
    inputs.append(h)
    grads = torch.autograd.grad(F.cross_entropy(net.head(h), y), inputs)
    assert direct == pytest.approx([g.pow(2).mean().sqrt().item() for g in grads], rel=1e-4)
    assert direct[0] <= direct[3] * (1 + 1e-6)  # the ReLUs after the additions only ever remove gradient
    assert not any(b.bn2._forward_hooks for b in net.blocks)


def test_the_gated_variants_start_where_the_paper_puts_b_g(bundled):
    for key, bias in (("exclusive-gate", 0.0), ("exclusive-gate-6", -6.0), ("shortcut-gate", 0.0),
                      ("shortcut-gate-6", -6.0)):
        v = shortcut_lab.VARIANTS[key]
        t = Trainer(shortcut_lab._config(v, 20, 0, 1), bundled)
        gates = [b.gate.bias for b in t.model.blocks]
        assert all(torch.all(g == bias) for g in gates), key


def test_the_stored_profiles_cover_every_variant_and_match_a_recompute(bundled):
    s = shortcut_lab.stored()
    assert s is not None, "assets/shortcut_lab.json is missing: python -m scripts.shortcut_lab"
    assert set(s.provenance.to_json()) == {"command", "machine", "threads", "date", "wall_s", "notes"}
    for depth in shortcut_lab.DEPTHS:
        for key in shortcut_lab.VARIANTS:
            p = shortcut_lab.stored_profile(key, depth)
            assert p["steps"] == list(shortcut_lab.STEPS) or p["diverged"], (key, depth)
            assert all(math.isfinite(r) for r in p["ratio"] + p["direct_ratio"]), (key, depth)
            assert len(p["direct"]) == len(p["grads"]), (key, depth)
    now = shortcut_lab.compute("identity", 56, 0, data=bundled)  # step 0: the same numbers on any CPU (rel 1e-4)
    assert now["grads"][0] == pytest.approx(shortcut_lab.stored_profile("identity", 56)["grads"][0], rel=1e-4)


def test_the_tab_refuses_a_bad_choice_with_a_message():
    from resnet_demo.ui import shortcuts

    for keys, depth, steps, message in [([], 56, 0, "one to four"), (list(shortcut_lab.VARIANTS)[:5], 56, 0,
                                        "one to four"), (["identity"], 57, 0, "Depth must be"),
                                        (["identity"], 56, 7, "steps one of"), (["identity"], "x", 0, "whole")]:
        with pytest.raises(gr.Error, match=message):
            shortcuts.shortcut_lab(keys, depth, steps)


def test_trained_results_are_means_over_seeds_judged_by_the_noise_rule(tmp_path, monkeypatch):
    from resnet_demo.base.stored import Provenance, write

    def runs(train, test, diverged=0):
        out = [{"seed": i, "train_error": a, "test_error": b, "diverged": None}
               for i, (a, b) in enumerate(zip(train, test))]
        out += [{"seed": 9, "train_error": None, "test_error": None, "diverged": {"step": 3}}] * diverged
        return out

    path = tmp_path / "training.json"
    write(path, {"runs": {"identity": runs([0.50, 0.52, 0.54], [0.6, 0.6, 0.6]),
                          "scale": runs([0.60, 0.62, 0.64], [0.7, 0.7, 0.7], diverged=1),
                          "conv1x1": runs([0.51, 0.53, 0.55], [0.6, 0.6, 0.6])}},
          Provenance("test", "here"))
    monkeypatch.setattr(shortcut_lab, "SHORTCUT_TRAINING_FILE", path)
    got = {r.key: r for r in shortcut_lab.trained()}
    assert got["identity"].train_mean == pytest.approx(52) and got["identity"].train_sd == pytest.approx(2)
    assert got["scale"].seeds == 4 and got["scale"].diverged == 1
    sigma = math.sqrt(4 / 3 + 4 / 3)  # the standard error of a difference of two means of 3 seeds, s.d. 2 each
    vs = got["scale"].vs_identity
    assert vs.value == pytest.approx(10) and vs.sigma == pytest.approx(sigma)
    assert got["scale"].vs_identity.called and not got["conv1x1"].vs_identity.called
    text = shortcut_text.training_table(list(got.values()))
    assert "+10.00 points, higher" in text and "within noise" in text and "62.0% ± 2.0" in text
    # the paper's ResNet-110 test error beside each (Tables 1-2), its scale said in the note under the table
    assert "| 6.61% |" in text and "| fail |" in text and "| 12.22% |" in text and "not the size" in text


def test_each_unit_is_drawn_in_its_order_with_its_formula_as_text():
    import re

    from resnet_demo.views import unit_svg

    for v in shortcut_lab.VARIANTS.values():
        svg = unit_svg.unit(v)
        assert 'role="img"' in svg and v.label in svg
        boxes = re.findall(r'text-anchor="middle" fill="#222222">([^<+]+)</text>', svg)
        branch, after = unit_svg.BRANCH[v.unit]
        assert boxes == branch + after, v.key
    assert unit_svg.BRANCH["full-preact"][0][:2] == ["BN", "ReLU"]  # pre-activation: BN and ReLU come first
    assert unit_svg.BRANCH["original"][1] == ["ReLU"]  # the original unit: ReLU after the addition


@pytest.mark.slow
def test_the_stored_training_covers_every_variant_and_one_run_is_reproduced(bundled):
    from resnet_demo.base.threads import torch_threads

    s = shortcut_lab.stored_training()
    assert s is not None, "assets/shortcut_training.json is missing: python -m scripts.shortcut_training"
    runs = s.data["runs"]
    assert set(runs) == set(shortcut_lab.VARIANTS) and all(len(v) == 5 for v in runs.values())
    with torch_threads(1):  # as the script ran (one thread a run)
        now = shortcut_lab.train("identity", 0, bundled)
    stored = next(r for r in runs["identity"] if r["seed"] == 0)
    same_cpu = f"{torch.backends.cpu.get_cpu_capability()})" in s.provenance.machine
    assert now["train_error"] == pytest.approx(stored["train_error"], abs=0.0005 if same_cpu else 0.05)


def test_the_live_verdict_calls_a_difference_only_beyond_the_stored_seed_spread(monkeypatch):
    from resnet_demo.views import shortcut_text

    spread = [shortcut_lab.Trained("identity", 5, 0, 56.0, 2.0, 60.0, 1.0, None),
              shortcut_lab.Trained("scale", 5, 0, 80.0, 1.5, 80.0, 1.0, None),
              shortcut_lab.Trained("full-preact", 5, 0, 58.0, 1.5, 62.0, 1.0, None)]
    monkeypatch.setattr(shortcut_text, "trained", lambda: spread)

    def run(final):
        return {"train_error_measured": [0.9, final], "diverged": None}

    text = shortcut_text.live_verdict([run(0.55), run(0.79), run(0.58)], ["identity", "scale", "full-preact"], True)
    noise = 2 * math.sqrt(2.0 ** 2 + 1.5 ** 2)  # twice the s.d. of a difference of two single runs
    assert f"+24.00 points, higher (noise ±{noise:.2f})" in text
    assert f"+3.00 points, within noise (±{noise:.2f})" in text
    assert "against 1 of 2 variants" in text
    assert "none: the run ended before" in shortcut_text.live_verdict([run(0.5)], ["identity"], False)
    # without the identity, the first chosen variant is the reference; a diverged net has no final error
    text = shortcut_text.live_verdict([run(0.79), {"train_error_measured": [0.9], "diverged": "nan"}],
                                      ["scale", "full-preact"], True)
    assert "against constant scaling" in text and "no final training error" in text


def test_the_live_run_refuses_a_bad_choice_with_a_message():
    from resnet_demo.ui import shortcuts

    for keys, seed, message in [([], 0, "one to four"), (["identity"], "x", "whole number"),
                                (["identity"], -1, "between")]:
        with pytest.raises(gr.Error, match=message):
            next(shortcuts.train_variants(keys, seed, None))
