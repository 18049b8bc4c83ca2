"""The stored runs and offline checkpoints shipped in assets/ (produced by scripts/stored_runs.sh)."""
import pytest
from PIL import Image

from resnet_demo import imagenet, runs
from resnet_demo.cifar import load_checkpoint
from resnet_demo.data import CLASSES, load_bundled, normalize

from conftest import photo

STORED = {r["name"]: r for r in runs.stored_runs()}
REQUIRED = ("plain-20", "plain-56", "ResNet-20", "ResNet-56")


def test_required_runs_exist_and_follow_the_schema():
    for name in REQUIRED:
        run = STORED[name]
        assert run["dataset"].startswith("CIFAR-10") and "50000 train / 10000 test" in run["dataset"]
        assert run["test_images"] == 10000 and run["train_images"] == 50000


def test_runs_are_iteration_matched_with_the_same_recipe():
    its = {tuple(STORED[n]["iterations"]) for n in REQUIRED}
    assert len(its) == 1
    assert len({repr(STORED[n]["recipe"]) for n in REQUIRED}) == 1
    evaluated = [i for i, e in zip(STORED["plain-20"]["iterations"], STORED["plain-20"]["test_error"]) if e is not None]
    assert len(evaluated) >= 5  # test error at regular points


def _final_train():
    return {n: runs.final(STORED[n]["train_error"]) for n in REQUIRED}


def test_degradation_shows_in_our_plain_runs():
    final = _final_train()
    assert final["plain-56"] > final["plain-20"] + 0.05, "plain-56 should train clearly worse than plain-20"
    assert final["ResNet-56"] < final["plain-56"], "at depth 56 the residual net should train better than the plain one"


@pytest.mark.xfail(strict=True, reason="the stored runs are a 2,240-iteration CPU schedule (0.035 of the paper's); "
                   "ResNet-56 still lags ResNet-20 there. Runs with the first lr drop past ~4k iterations "
                   "(scripts/stored_runs.sh: SCALE=1 DEVICE=cuda, or SCALE=0.125 on the CPU, ~3.7 h) "
                   "should make this pass: then remove this mark.")
def test_resnet56_trains_at_least_as_well_as_resnet20():
    final = _final_train()
    assert final["ResNet-56"] <= final["ResNet-20"]


@pytest.mark.parametrize("name,run_name", [("resnet20", "ResNet-20"), ("resnet56", "ResNet-56")])
def test_checkpoints_are_small_and_match_their_runs(name, run_name):
    path = imagenet.CHECKPOINTS / f"{name}.pt"
    assert path.stat().st_size < 4 * 2**20
    model, meta = load_checkpoint(path)
    assert meta["test_error"] == runs.final(STORED[run_name]["test_error"])
    # the checkpoint really is the trained net: re-measure it on the bundled test images
    d = load_bundled()
    import torch
    with torch.inference_mode():
        err = (model(normalize(d.x_test)).argmax(1) != d.y_test).float().mean().item()
    assert err < 0.5  # far better than chance (0.9); the bundled images overlap the test set it was measured on
    assert abs(err - meta["test_error"]) < 0.06


def test_offline_cifar_models_classify_with_no_network():
    keys = [k for k in imagenet.model_names() if k.startswith("cifar-")]
    assert {"cifar-resnet20", "cifar-resnet56"} <= set(keys)
    top = imagenet.predict(Image.open(photo()), "cifar-resnet20")
    assert len(top) == 5 and all(label in CLASSES for label, _ in top)
    assert top[0][1] >= top[-1][1] and sum(p for _, p in top) <= 1 + 1e-6


def test_depth_tab_table_puts_the_papers_numbers_beside_ours():
    from resnet_demo.ui.depth import results_table

    table = results_table([STORED[n] for n in REQUIRED])
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines() if line.startswith("| ")}
    assert "| 0.27 M |" in rows["ResNet-20"] and "| 0.85 M |" in rows["ResNet-56"]  # the paper's Table 6 params
    assert "| 6.97% |" in rows["ResNet-56"] and "| 8.75% |" in rows["ResNet-20"]   # its test errors, cited
    assert "Fig. 6 only" in rows["plain-56"]
    for name in REQUIRED:
        run = STORED[name]
        assert f"| {100 * runs.final(run['test_error']):.2f}% |" in rows[name]
        assert f"| {100 * runs.final(run['train_error']):.2f}% |" in rows[name]
        assert f"| {run['iterations'][-1]:,} |" in rows[name]
