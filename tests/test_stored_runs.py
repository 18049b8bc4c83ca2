"""The stored runs and offline checkpoints shipped in assets/ (produced by scripts/stored_runs.sh)."""
import math

import pytest
from conftest import photo
from PIL import Image

from resnet_demo.base import settings
from resnet_demo.experiments.noise import Noise
from resnet_demo.nets import cifar, runs
from resnet_demo.nets.cifar import load_checkpoint
from resnet_demo.nets.data import CLASSES, load_bundled, normalize
from resnet_demo.serving import classifiers
from resnet_demo.views import plots

STORED = {r["name"]: r for r in runs.stored_runs()}
REQUIRED = ("plain-20", "plain-56", "ResNet-20", "ResNet-56")


def test_required_runs_exist_and_follow_the_schema():
    for name in REQUIRED:
        run = STORED[name]
        assert run["dataset"].startswith("CIFAR-10") and "50000 train / 10000 test" in run["dataset"]
        assert run["test_images"] == 10000 and run["train_images"] == 50000


def test_runs_are_iteration_matched_with_the_same_recipe():
    """Every stored run (the depth sweep's too): same iterations and recipe, ResNet-110's warm-up aside."""
    its = {tuple(r["iterations"]) for r in STORED.values()}
    assert len(its) == 1
    recipes = {repr({k: v for k, v in r["recipe"].items() if k != "warmup_until_error"}) for r in STORED.values()}
    assert len(recipes) == 1
    assert {(r["seed"], r["batch_size"], r["dataset"]) for r in STORED.values()} == {
        (0, 128, STORED["ResNet-20"]["dataset"])}
    assert all("warmup_until_error" not in r["recipe"] or r["depth"] >= 110 for r in STORED.values())
    evaluated = [i for i, e in zip(STORED["plain-20"]["iterations"], STORED["plain-20"]["test_error"]) if e is not None]
    assert len(evaluated) >= 5  # test error at regular points


def _final_train():
    return {n: runs.final(STORED[n]["train_error"]) for n in REQUIRED}


def test_degradation_shows_in_our_plain_runs():
    final = _final_train()
    assert final["plain-56"] > final["plain-20"] + 0.05, "plain-56 should train clearly worse than plain-20"
    assert final["ResNet-56"] < final["plain-56"], "at depth 56 the residual net should train better than the plain one"


def test_resnet56_trains_at_least_as_well_as_resnet20():
    """The paper's headline for residual nets (Fig. 6): depth helps them."""
    final = _final_train()
    assert final["ResNet-56"] <= final["ResNet-20"]


def test_plain56_degrades_in_test_error_too():
    test = {n: runs.final(STORED[n]["test_error"]) for n in REQUIRED}
    assert test["plain-56"] > test["plain-20"]


def test_resnet56_generalises_at_least_as_well_as_resnet20():
    """The paper's Table 6 (ResNet-56 6.97% vs ResNet-20 8.75% test error); at 8,000 iterations ours did not yet."""
    test = {n: runs.final(STORED[n]["test_error"]) for n in REQUIRED}
    assert test["ResNet-56"] <= test["ResNet-20"]


def test_the_shipped_checkpoints_include_the_four_nets_the_tabs_compare():
    assert {"plain20", "plain56", "resnet20", "resnet56"} <= {p.stem for p in settings.CHECKPOINTS_DIR.glob("*.pt")}


def test_assets_stay_under_35_mb():
    """#24: a Space clones all of assets/; a training job's resume state (assets/runs/resume/) is not counted."""
    assets = settings.ROOT / "assets"
    files = [p for p in assets.rglob("*") if p.is_file() and "resume" not in p.relative_to(assets).parts]
    assert sum(p.stat().st_size for p in files) < 35 * 2**20


@pytest.mark.parametrize("path", sorted(settings.CHECKPOINTS_DIR.glob("*.pt")), ids=lambda p: p.stem)
def test_checkpoints_are_small_and_match_their_runs(path):
    model, meta = load_checkpoint(path)
    depth = meta["config"]["depth"]
    assert path.stat().st_size < (4 if depth <= 56 else 8) * 2**20  # ResNet-110 (1.7 M params) in float32: 7 MB
    run_name = meta["run_name"]
    assert meta["test_error"] == runs.final(STORED[run_name]["test_error"])
    # the checkpoint really is the trained net: re-measure it on the bundled test images
    d = load_bundled()
    import torch
    with torch.inference_mode():
        err = (model(normalize(d.x_test)).argmax(1) != d.y_test).float().mean().item()
    # the bundled images are 1,000 of the 10,000 test images it was measured on: the same error within sampling
    assert abs(err - meta["test_error"]) < 0.05 and err < 0.8  # and far from chance (0.9)
    assert meta["iterations"] == STORED[run_name]["iterations"][-1]


def test_offline_cifar_models_classify_with_no_network():
    keys = [k for k in classifiers.model_names() if k.startswith("cifar-")]
    assert {"cifar-resnet20", "cifar-resnet56"} <= set(keys)
    top = classifiers.predict(Image.open(photo()), "cifar-resnet20")
    assert len(top) == 5 and all(label in CLASSES for label, _ in top)
    assert top[0][1] >= top[-1][1] and sum(p for _, p in top) <= 1 + 1e-6


def test_depth_tab_table_puts_the_papers_numbers_beside_ours():
    from resnet_demo.experiments.degradation import results_provenance, results_table

    noise = Noise([STORED[n] for n in REQUIRED])
    table = results_table([STORED[n] for n in REQUIRED], noise)
    assert "final test error, 10,000 JPEG test images" in table  # what the error was measured on
    assert "original CIFAR-10" in table and "not the paper's" in table  # the data differ, and the table says so
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert "| 0.27 M |" in rows["ResNet-20"] and "| 0.85 M |" in rows["ResNet-56"]  # the paper's Table 6 params
    assert "| 6.97% |" in rows["ResNet-56"] and "| 8.75% |" in rows["ResNet-20"]   # its test errors, cited
    assert "Fig. 6 only" in rows["plain-56"]
    for name in REQUIRED:
        run = STORED[name]
        for key in ("test_error", "train_error"):  # each error with twice its noise
            assert f"| {100 * runs.final(run[key]):.2f}% ± {noise.single(name, key).margin:.2f} |" in rows[name]
        assert f"| {run['iterations'][-1]:,} |" in rows[name]
    drops = " and ".join(f"{m:,}" for m in STORED["ResNet-56"]["recipe"]["milestones"])
    how = results_provenance([STORED[n] for n in REQUIRED])
    assert f"lr /10 at {drops}." in how  # the schedule the runs used, as a reader writes it
    assert "JPEG re-encoded copy" in how and "Noise:" in how
    assert all(f"| {n} | {STORED[n]['device']} |" in how for n in REQUIRED)  # machine and wall time, collapsed
    assert "so it does not compare the nets' speed" in how  # plain-44 took 402 min, plain-56 188: not a speed


def test_depth_tab_sentence_states_the_test_errors_it_shows():
    from resnet_demo.experiments.degradation import stored_summary

    text = stored_summary([STORED[n] for n in REQUIRED])
    te = {n: 100 * runs.final(STORED[n]["test_error"]) for n in REQUIRED}
    for n in REQUIRED:
        assert f"{n} {te[n]:.2f}%" in text
    assert "test images of the JPEG copy" in text
    assert "ResNet-56 6.97% against ResNet-20 8.75% (Table 6)" in text


def _margin(a, b, n=10000):
    """Twice the unpaired test-set noise of a difference of two error rates, written out."""
    return 2 * 100 * math.sqrt(a * (1 - a) / n + b * (1 - b) / n)


@pytest.mark.parametrize("resnet56,words", [(0.1299, f"-0.01 points, within noise (±{_margin(0.13, 0.1299):.2f})"),
                                            (0.1200, f"-1.00 points, lower (noise ±{_margin(0.13, 0.12):.2f})"),
                                            (0.1400, f"+1.00 points, higher (noise ±{_margin(0.13, 0.14):.2f})")])
def test_depth_tab_sentence_for_each_outcome(resnet56, words):
    """The sentence follows the numbers by the noise rule (ResNet-20 at 13.00% here; unpaired test-set noise)."""
    import copy

    from resnet_demo.experiments.degradation import stored_summary

    pick = copy.deepcopy([STORED[n] for n in REQUIRED])
    pick[2]["test_error"][-1], pick[3]["test_error"][-1] = 0.13, resnet56
    text = stored_summary(pick, Noise(pick, extra=(), answers={}))
    assert f"ResNet-56 {100 * resnet56:.2f}% against ResNet-20 13.00%, {words}" in text


def test_methods_doc_states_the_stored_runs_numbers():
    """docs/methods.md's 'Depth, stored runs' paragraph and its Classify paragraph give the stored runs' length
    and final errors: after scripts/stored_runs.sh replaces the runs, the doc must be updated with them."""
    from pathlib import Path

    doc = Path(__file__).resolve().parent.parent / "docs" / "methods.md"
    text = " ".join(doc.read_text(encoding="utf-8").split())
    iterations = STORED["plain-20"]["iterations"][-1]
    assert f"{iterations:,} iterations" in text
    for name in STORED:  # every stored run, the depth sweep's too once promoted
        train, test = (100 * runs.final(STORED[name][k]) for k in ("train_error", "test_error"))
        assert f"{name} {train:.2f}% / {test:.2f}%" in text, f"docs/methods.md does not give {name}'s final errors"
    tests = " / ".join(f"{100 * load_checkpoint(p)[1]['test_error']:.1f}" for p in cifar.checkpoints().values())
    assert f"trained {iterations:,} iterations: test error {tests}%" in text  # the checkpoints, in Classify's order


def test_the_sweep_sentence_follows_every_depth():
    """#24: with three or more depths of a kind stored, the Depth tab says whether plain training error rises at
    every step and where each deeper residual net ends against the shallowest (synthetic runs: both outcomes)."""
    import copy

    from resnet_demo.experiments.degradation import sweep_summary

    base = STORED["plain-20"]

    def run(arch, depth, train, test):
        r = copy.deepcopy(base)
        r.update(arch=arch, depth=depth, name=f"{'ResNet' if arch == 'residual' else 'plain'}-{depth}")
        r["train_error"][-1], r["test_error"][-1] = train, test
        return r

    assert sweep_summary([STORED[n] for n in REQUIRED]) == ""  # two depths: the four-run sentence says it all
    rising = [run("plain", 20, 0.10, 0.15), run("plain", 32, 0.15, 0.19), run("plain", 44, 0.22, 0.24),
              run("residual", 20, 0.08, 0.135), run("residual", 56, 0.06, 0.131), run("residual", 110, 0.05, 0.139)]

    def summary(rs):
        return sweep_summary(rs, Noise(rs, extra=(), answers={}))

    text = summary(rising)
    assert "plain-20 → plain-32 +5.00 points, higher" in text and "plain-32 → plain-44 +7.00 points, higher" in text
    assert "higher at every step beyond noise, as in the paper's Fig. 6." in text
    train = 2 * 100 * math.sqrt((0.08 * 0.92 + 0.06 * 0.94) / 6400)  # the last 50 batches of 128
    assert (f"| ResNet-56 | -0.40 points, within noise (±{_margin(0.135, 0.131):.2f}) | -2.00 points, lower (noise "
            f"±{train:.2f}) |") in text
    assert f"| ResNet-110 | +0.40 points, within noise (±{_margin(0.135, 0.139):.2f}) |" in text
    assert "no deeper net is below ResNet-20 beyond noise" in text
    rising[5]["test_error"][-1] = 0.12  # ResNet-110 generalises better, beyond noise
    assert "ResNet-110 is below ResNet-20 beyond noise" in summary(rising)
    rising[1]["train_error"][-1] = 0.215  # plain-32 within noise of plain-44
    assert "higher beyond noise except at plain-32 → plain-44." in summary(rising)


def test_the_four_run_sentence_compares_nets_of_the_same_depth():
    """With ResNet-110 stored (no plain-110), the sentence above the sweep's still pairs plain-56 with ResNet-56:
    it says "at the same depth", so ResNet-110 must not stand in for the deep residual net there."""
    import copy

    from resnet_demo.experiments.degradation import stored_summary

    deep = copy.deepcopy(STORED["ResNet-56"])
    deep.update(depth=110, name="ResNet-110")
    deep["train_error"][-1] = 0.01
    with_110 = stored_summary([STORED[n] for n in REQUIRED] + [deep])
    assert with_110 == stored_summary([STORED[n] for n in REQUIRED])
    assert "ResNet-110" not in with_110 and "ResNet-56" in with_110
    assert stored_summary([STORED["plain-20"], STORED["ResNet-20"], STORED["ResNet-56"], deep]) == ""


def test_table_params_agree_with_the_modules():
    """The results table reads params from assets/anatomy.json for the paper's nets and counts the others."""
    from resnet_demo.experiments import degradation
    from resnet_demo.nets.cifar import cifar_net, count_params

    nets = list(STORED.values()) + [{"arch": "residual", "depth": 20, "width": 8, "batch_norm": True, "shortcut": "A"},
                                  {"arch": "residual", "depth": 32, "width": 16, "batch_norm": True, "shortcut": "B"}]
    for r in nets:
        net = cifar_net(r["depth"], residual=r["arch"] == "residual", shortcut=r["shortcut"] or "A",
                        batch_norm=r["batch_norm"], width=r["width"])
        assert degradation.params(r) == count_params(net), r


def test_resnet110s_warm_up_is_said_where_its_recipe_is(monkeypatch):
    """The paper's ResNet-110 warm-up (lr 0.01 until the training error is below 80%): the Depth tab's provenance
    and Classify's model line say it, from the run; runs without it say nothing of a warm-up."""
    from resnet_demo.experiments import degradation

    base = STORED["ResNet-56"]
    warm = {**base, "name": "ResNet-110", "depth": 110, "warmup_ended_at": 62,
            "recipe": {**base["recipe"], "warmup_until_error": 0.8}}
    said = "lr 0.01 until the training error fell below 80% (iteration 62), then 0.1"
    assert runs.warmup_text(warm) == said and runs.warmup_text(base) == ""
    assert runs.warmup_text({**warm, "warmup_ended_at": None}).endswith("below 80% (not yet reached), then 0.1")
    how = degradation.results_provenance([base, warm])
    assert f"ResNet-110 warmed up as the paper's ResNet-110 did: {said}." in how and how.count("warmed up") == 1
    monkeypatch.setattr(classifiers, "stored_runs", lambda: [base, warm])
    line = classifiers._schedule({"run_name": "ResNet-110", "iterations": warm["iterations"][-1]})
    assert f"8,000 and 12,000, warm-up: {said} (the paper" in line
    assert "warm" not in classifiers._schedule({"run_name": "ResNet-56", "iterations": base["iterations"][-1]})


def test_fig6_axis_shows_the_final_differences():
    """The paper draws Fig. 6 on 0-20% axes; ours start higher. The shared axis keeps the whole last third of every
    stored curve on it, and is no more than 10% plus a 5-point rounding above its highest value, so the final
    gaps (ResNet-20 vs -56: under a point of test error) are not squashed under the early, near-chance part."""
    top = plots.error_top(list(STORED.values()))
    last = [100 * v for r in STORED.values() for it, v in zip(r["iterations"] * 2, r["train_error"] + r["test_error"])
            if v is not None and it >= 2 * r["iterations"][-1] / 3]
    assert max(last) <= top <= max(last) * 1.1 + 5
    assert top % 5 == 0
    first = [100 * next(v for v in r["test_error"] if v is not None) for r in STORED.values()]
    assert max(first) > top  # the near-chance start runs off the axis, as in the paper's figure


def test_the_stored_table_downloads_as_csv_with_its_noise():
    """#41: the table beside the paper's, as CSV: the same numbers as the runs, each error with twice its noise."""
    import csv
    import io

    from resnet_demo.experiments.degradation import results_csv

    runs_ = list(STORED.values())
    noise = Noise(runs_)
    rows = {r["run"]: r for r in csv.DictReader(io.StringIO(results_csv(runs_, noise)))}
    assert set(rows) == set(STORED)
    for name, run in STORED.items():
        assert float(rows[name]["test_error_pct"]) == round(100 * runs.final(run["test_error"]), 2)
        assert float(rows[name]["test_error_pm"]) == round(noise.single(name, "test_error").margin, 2)
    assert rows["ResNet-56"]["paper_test_error_pct"] == "6.97" and rows["plain-56"]["paper_test_error_pct"] == ""
