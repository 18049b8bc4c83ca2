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
    for key in ("unit", "shortcut_kind"):  # as the ResNet-56 seed runs' states were written
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


def test_the_closed_form_sentence_names_the_factor(bundled):
    p = shortcut_lab.compute("scale", 56, 0, data=bundled)
    text = shortcut_text.sentence(p)
    assert "7.5e-09" in text and "27 units" in text and "λ^27" in text
    ident = shortcut_lab.compute("identity", 56, 0, data=bundled)
    assert "unchanged (×1)" in shortcut_text.sentence(ident)
    assert "no closed form" in shortcut_text.sentence(shortcut_lab.compute("conv1x1", 20, 0, data=bundled))


def test_the_stored_profiles_cover_every_variant_and_match_a_recompute(bundled):
    s = shortcut_lab.stored()
    assert s is not None, "assets/shortcut_lab.json is missing: python -m scripts.shortcut_lab"
    assert set(s.provenance.to_json()) == {"command", "machine", "threads", "date", "wall_s", "notes"}
    for depth in shortcut_lab.DEPTHS:
        for key in shortcut_lab.VARIANTS:
            p = shortcut_lab.stored_profile(key, depth)
            assert p["steps"] == list(shortcut_lab.STEPS) or p["diverged"], (key, depth)
            assert all(math.isfinite(r) for r in p["ratio"]), (key, depth)
    now = shortcut_lab.compute("identity", 56, 0, data=bundled)  # step 0: the same numbers on any CPU (rel 1e-4)
    assert now["grads"][0] == pytest.approx(shortcut_lab.stored_profile("identity", 56)["grads"][0], rel=1e-4)


def test_the_tab_refuses_a_bad_choice_with_a_message():
    from resnet_demo.ui import gradflow

    for keys, depth, steps, message in [([], 56, 0, "one to four"), (list(shortcut_lab.VARIANTS)[:5], 56, 0,
                                        "one to four"), (["identity"], 57, 0, "Depth must be"),
                                        (["identity"], 56, 7, "steps one of"), (["identity"], "x", 0, "whole")]:
        with pytest.raises(gr.Error, match=message):
            gradflow.shortcut_lab(keys, depth, steps)


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
