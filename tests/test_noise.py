"""The noise rule (#39): every verdict calls a difference only beyond twice its measured noise. The noise is
checked here against textbook formulas written out independently, and the stored answers against the runs."""
from __future__ import annotations

import json
import math
import statistics

import numpy as np
from conftest import ROOT

from resnet_demo.experiments import noise
from resnet_demo.experiments.noise import Diff, Noise, binomial_sigma, paired_sigma

ASSETS = ROOT / "assets"


def test_binomial_sigma_is_the_textbook_standard_error():
    assert math.isclose(binomial_sigma(0.13, 10000), 100 * math.sqrt(0.13 * 0.87 / 10000))
    assert math.isclose(binomial_sigma(0.13, 10000), 0.3363, abs_tol=1e-4)  # the "about ±0.34"
    assert binomial_sigma(0.0, 100) == 0.0


def test_paired_sigma_is_mcnemars_and_smaller_than_two_binomials():
    rng = np.random.default_rng(0)
    n = 10000
    a = rng.random(n) > 0.13
    b = a.copy()
    flip = rng.choice(n, 900, replace=False)  # the images the two nets disagree on
    b[flip] = ~b[flip]
    only_a = int(np.sum(a & ~b))   # a right, b wrong
    only_b = int(np.sum(~a & b))
    # the standard error of a difference of paired proportions, from the discordant counts alone
    textbook = 100 * math.sqrt((only_a + only_b) - (only_a - only_b) ** 2 / n) / n
    assert math.isclose(paired_sigma(a, b), textbook, rel_tol=1e-3)
    unpaired = math.hypot(binomial_sigma(1 - a.mean(), n), binomial_sigma(1 - b.mean(), n))
    assert paired_sigma(a, b) < unpaired


def test_a_difference_is_called_only_beyond_twice_its_noise():
    assert Diff(0.7, 0.34).called and Diff(-0.7, 0.34).sign == -1
    assert not Diff(0.6, 0.34).called and Diff(0.6, 0.34).sign == 0
    assert Diff(0.22, 0.48).text() == "+0.22 points, within noise (±0.96)"
    assert Diff(-1.34, 0.3).text() == "-1.34 points, lower (noise ±0.60)"
    d = noise.diff(1.0, ("a", 0.3), ("b", None), ("c", 0.4))
    assert d.sources == ("a", "c") and math.isclose(d.sigma, 0.5)


def _run(depth, seed, test, train=0.05):
    return {"name": f"r{depth}", "arch": "residual", "depth": depth, "seed": seed, "batch_size": 128,
            "test_images": 10000, "iterations": [1], "train_error": [train], "test_error": [test]}


def test_seed_spread_is_pooled_over_the_nets_with_several_seeds():
    runs = [_run(20, 0, 0.135), _run(56, 0, 0.130)]
    extra = (_run(20, 1, 0.139), _run(20, 2, 0.131), _run(56, 1, 0.128))
    n = Noise(runs, extra=extra, answers={})
    v20, v56 = [13.5, 13.9, 13.1], [13.0, 12.8]
    pooled = math.sqrt((statistics.variance(v20) * 2 + statistics.variance(v56) * 1) / 3)
    assert math.isclose(n.seed_sd["test_error"], pooled)
    assert math.isclose(n.value("ResNet-20", "test_error"), statistics.mean(v20))
    d = n.compare("ResNet-20", "ResNet-56", "test_error")
    assert d.sources == ("test images", "seeds")
    sampling = math.hypot(binomial_sigma(0.135, 10000), binomial_sigma(0.130, 10000))
    assert math.isclose(d.sigma, math.sqrt(sampling ** 2 + pooled ** 2 / 3 + pooled ** 2 / 2))
    # a seed run of a net not in the stored set, or a second seed 0, is ignored
    assert Noise(runs, extra=(_run(32, 1, 0.2), _run(20, 0, 0.3)), answers={}).seed_sd["test_error"] is None


def test_stored_answers_give_each_kept_nets_own_test_error():
    """assets/noise/test_predictions.json: one bit per test image for each kept checkpoint; the share wrong must
    be the test error its run stored at its last evaluation (the same net, the same 10,000 images)."""
    stored = json.loads(noise.PREDICTIONS_FILE.read_text())
    runs = {json.loads(p.read_text())["name"]: json.loads(p.read_text()) for p in (ASSETS / "runs").glob("*.json")}
    answers = noise.predictions()
    assert set(answers) == {"plain-20", "plain-56", "ResNet-20", "ResNet-56", "ResNet-110"}
    for name, right in answers.items():
        assert len(right) == 10000 == stored["nets"][name]["images"]
        final = next(v for v in reversed(runs[name]["test_error"]) if v is not None)
        assert round(1 - right.mean(), 4) == round(final, 4), name
    p = noise.stored().provenance
    assert "JPEG" in p.notes["data"] and p.command and p.machine and p.threads and p.date and p.wall_s


def test_the_stored_summary_is_what_the_answers_give():
    """The summary stored beside the bits: each pair's McNemar counts and paired σ (textbook, from the counts)."""
    stored = json.loads(noise.PREDICTIONS_FILE.read_text())
    answers = noise.predictions()
    for name, rec in stored["summary"]["single"].items():
        assert rec["test_error_pct"] == round(100 * (1 - answers[name].mean()), 2)
    assert len(stored["summary"]["pairs"]) == 10  # every pair of the five kept nets
    for pair, rec in stored["summary"]["pairs"].items():
        a, b = pair.split(" vs ")
        only_a, only_b = int((answers[a] & ~answers[b]).sum()), int((~answers[a] & answers[b]).sum())
        assert (rec["only_first_right"], rec["only_second_right"]) == (only_a, only_b)
        n = len(answers[a])
        textbook = 100 * math.sqrt((only_a + only_b) - (only_a - only_b) ** 2 / n) / n
        assert math.isclose(rec["paired_sigma_pts"], textbook, abs_tol=2e-3)
