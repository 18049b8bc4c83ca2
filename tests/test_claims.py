"""The Paper tab's claims (#25): every "ours" is what the stored files give, recomputed here from the files
themselves (not through the code the tab uses)."""
from __future__ import annotations

import json
import statistics

import pytest
from conftest import ROOT

from resnet_demo.experiments.noise import Noise
from resnet_demo.views import claim, claims, claims_depth

ASSETS = ROOT / "assets"


def _final(values):
    return next(v for v in reversed(values) if v is not None)


def test_every_claim_has_a_group_a_status_and_a_tab():
    found = claims.claims()
    assert len(found) >= 18 and len({c.id for c in found}) == len(found)
    for c in found:
        assert c.status in claim.STATUSES and c.tab in ("depth", "gradflow", "anatomy", "inside", "classify")
        assert c.group in claim.GROUPS
        assert c.claim and c.why and c.paper is not None and c.ours is not None
        assert set(c.json()) <= {"id", "group", "section", "claim", "paper", "ours", "status", "why", "tab", "unit",
                                 "paper_unit"}
    sent = [c.json() for c in found]  # what /paper sends
    assert json.loads(json.dumps(sent)) == sent
    # counted facts are counted, later papers are not the paper's experiments
    assert {c.id for c in found if c.group == "counted"} == {"identity-free", "cheaper-than-vgg", "bottleneck"}
    assert {c.id for c in found if c.group == "later"} == {"lesion", "landscape"}
    assert {c.id for c in found if c.group == "followup"} == {"identity-shortcut", "direct-path", "activation-order",
                                                             "full-preact"}


def test_the_left_out_claims_are_there_with_the_papers_numbers():
    by = {c.id: c for c in claims.claims()}
    assert by["detection"].paper == {"VOC 2007": "73.2 → 76.4", "VOC 2012": "70.4 → 73.8",
                                        "COCO mAP@[.5, .95]": "21.2 → 27.2"}
    assert "28% relative" in by["detection"].claim
    assert by["ilsvrc"].paper == {"ensemble, top-5 error": 3.57}
    assert by["resnet1202"].paper == {"ResNet-1202": 7.93, "ResNet-110": 6.43}
    assert by["fig4"].paper["plain-34"] == 28.54 and by["fig4"].paper["plain-18"] == 27.94
    assert all(by[i].status == "quoted" for i in ("detection", "ilsvrc", "resnet1202", "fig4"))
    # bottleneck economy, counted from the stored module counts
    basic, bottleneck = json.loads((ASSETS / "anatomy.json").read_text())["block_comparison"]
    ratio = round(bottleneck["macs"] / basic["macs"], 2)
    assert by["bottleneck"].ours == {"bottleneck ÷ basic, multiply-adds": ratio}
    assert by["bottleneck"].status == "counted" and 0.8 < bottleneck["macs"] / basic["macs"] < 1.2


def test_ours_are_the_stored_files_numbers():
    by = {c.id: c for c in claims.claims()}
    run = {p.stem: json.loads(p.read_text()) for p in (ASSETS / "runs").glob("*.json")}
    seeds = [json.loads(p.read_text()) for p in (ASSETS / "runs" / "seeds").glob("*.json")]

    def mean_train(r):  # a net's final training error, the mean over its stored seeds (seed 0 and assets/runs/seeds)
        same = [r] + [x for x in seeds if (x["arch"], x["depth"]) == (r["arch"], r["depth"])]
        return statistics.mean(_final(x["train_error"]) for x in same)

    for claim_id, arch in (("degradation", "plain"), ("no-degradation", "residual")):  # shallowest vs deepest stored
        kind = sorted((r for r in run.values() if r["arch"] == arch), key=lambda r: r["depth"])
        assert by[claim_id].ours == pytest.approx(round(100 * (mean_train(kind[-1]) - mean_train(kind[0])), 2),
                                                  abs=0.006)
    table6 = sorted((r["depth"], round(100 * _final(r["test_error"]), 2)) for r in run.values()
                    if r["arch"] == "residual" and r["depth"] in (20, 32, 44, 56, 110))  # the paper's Table 6 rows
    if not (ASSETS / "runs" / "seeds").exists():  # with seed runs, ours is the mean over seeds
        assert by["table6"].ours == {f"ResNet-{d}": te for d, te in table6}
    counts = json.loads((ASSETS / "anatomy.json").read_text())
    nets = counts["networks"]
    assert by["identity-free"].ours == nets["resnet34-A"]["params"] - nets["plain34"]["params"] == 0
    paper_layout = counts["stride_on_first_1x1_macs"]["resnet152"]
    assert by["cheaper-than-vgg"].ours == {"ResNet-152": round(paper_layout / 1e9, 2),
                                              "VGG-19": round(nets["vgg19"]["macs"] / 1e9, 2)}
    assert "11.51" in by["cheaper-than-vgg"].why  # torchvision's v1.5 count beside the paper-layout one
    pair = json.loads((ASSETS / "inside" / "lesion.json").read_text())["pairs"]["56"]
    same = [s["error"] for s in pair["plain"]["single"] if s["error"] is not None and not s["downsampling"]]
    assert by["lesion"].ours["plain-56"] == round(100 * (statistics.median(same) - pair["plain"]["baseline"]), 1)
    ratios = json.loads((ASSETS / "inside" / "responses.json").read_text())["ratios"]["ResNet-56 trained"]
    assert by["small-f"].ours == round(statistics.median(ratios), 2)
    catalog = json.loads((ASSETS / "imagenet_models.json").read_text())["fp32"]
    # the same measure as the paper's: top-1 error, not accuracy
    assert by["imagenet-deeper"].ours["ResNet-152"] == round(100 - catalog["resnet152.IMAGENET1K_V1"]["acc@1"], 2)
    assert by["imagenet-18-34"].status == "quoted"  # ImageNet training is not done here


def test_statuses_claim_no_more_than_the_evidence():
    """The referee's read (#39): each of these rests on a difference inside its noise, a measurement that does not
    test the claim, or one that goes the other way for some nets."""
    by = {c.id: c for c in claims.claims()}
    assert by["small-f"].status == "inconclusive here" and "already" in by["small-f"].why
    assert "ResNet-20" in by["small-f"].why  # left out before: median 0.64, 3 of 9 blocks above 1
    assert by["no-vanishing"].status == "inconclusive here" and "chance" in by["no-vanishing"].why
    assert by["landscape"].status == "inconclusive here" and "not nearly convex" in by["landscape"].why
    assert by["lesion"].status == "partly" and "not for ResNet-20" in by["lesion"].why
    assert "downsampling" in by["lesion"].why and "VGG" in by["lesion"].why
    assert "within noise" in by["table6"].why and by["table6"].status != "reproduced"
    for words in ("JPEG", "16,000 of the paper's 64,000 iterations", "seeds"):  # every cause of the gap named
        assert words in by["table6"].why
    assert "option B" in by["imagenet-18-34"].why and "plain half has no evidence" in by["imagenet-18-34"].why
    deeper = by["imagenet-deeper"].why
    assert "v1.5" in deeper and "trained with the paper's recipe" not in deeper
    assert by["fig7"].ours["depth 56"]["ranks where ResNet is smaller"] == "55 of 55"


def _sweep(plain_train: dict[int, float], res_test: dict[int, float], res_train: dict[int, float] | None = None
           ) -> list[dict]:
    """Runs whose final errors are given (percent); the other final errors fixed."""
    def run(arch, depth, train, test):
        return {"name": f"{arch}{depth}", "arch": arch, "depth": depth, "iterations": [800, 16000], "seed": 0,
                "batch_size": 128, "test_images": 10000, "train_error": [0.9, train / 100],
                "test_error": [0.9, test / 100]}
    res_train = res_train or {d: 8.0 - d / 20 for d in res_test}
    return ([run("plain", d, e, e + 5) for d, e in plain_train.items()]
            + [run("residual", d, res_train[d], e) for d, e in res_test.items()])


def _by(runs, extra=()):
    return {c.id: c for c in claims_depth.degradation_claims(runs, Noise(runs, extra=extra, answers={}))}


def test_one_rule_for_every_step_in_depth():
    """Both depth claims judge every step by the same rule: a difference is called beyond twice its noise."""
    by = _by(_sweep({20: 10.6, 32: 17.1, 44: 23.7, 56: 30.2}, {20: 13.5, 32: 12.0, 44: 10.5, 56: 9.0, 110: 7.5}))
    assert by["degradation"].status == "reproduced" and by["degradation"].ours == 19.6
    assert "(plain-20, plain-32, plain-44 and plain-56)" in by["degradation"].claim
    assert by["table6"].status == "reproduced"  # every step 1.5 points down, beyond test-set noise (±0.9)
    assert by["no-degradation"].status == "reproduced"
    assert by["table6"].paper == {"ResNet-20": 8.75, "ResNet-32": 7.51, "ResNet-44": 7.17, "ResNet-56": 6.97,
                                     "ResNet-110": 6.43}

    # 32 -> 44 +0.2 points of training error: within noise, so degradation is only partly shown
    by = _by(_sweep({20: 10.6, 32: 17.1, 44: 17.3, 56: 30.2}, {20: 13.5, 32: 13.4, 44: 13.6, 56: 13.1, 110: 11.5}))
    assert by["degradation"].status == "partly" and "plain-32 → plain-44 +0.20 points, within noise" in \
        by["degradation"].why
    # Table 6: only ResNet-110 is below ResNet-20 beyond noise; 44's +0.1 is within noise, not "above"
    assert by["table6"].status == "partly"
    assert "| ResNet-44 | 13.60% | 7.17% | +0.10 points, within noise" in by["table6"].why
    assert "Only ResNet-110 is below ResNet-20 beyond noise" in by["table6"].why
    # residual steps of -0.60 points of training error, within noise: reproduced (110 lower, no rise), named
    assert by["no-degradation"].status == "reproduced"
    assert "No step rises beyond noise; ResNet-20 → ResNet-32, ResNet-32 → ResNet-44 and ResNet-44 → ResNet-56 are " \
        "within noise either way" in by["no-degradation"].why

    # a residual step that rises beyond noise is named, as a plain one would be
    by = _by(_sweep({20: 10.6, 56: 30.2}, {20: 13.5, 56: 13.0, 110: 12.0}, res_train={20: 8.0, 56: 10.0, 110: 4.0}))
    assert by["no-degradation"].status == "partly"
    assert "Training error rises beyond noise at ResNet-20 → ResNet-56 (+2.00)" in by["no-degradation"].why
    assert "No step rises" not in by["no-degradation"].why
    # all within noise: inconclusive, never reproduced
    by = _by(_sweep({20: 10.6, 56: 10.9}, {20: 13.5, 56: 13.3}, res_train={20: 8.0, 56: 7.8}))
    assert by["degradation"].status == "inconclusive here"
    assert by["no-degradation"].status == "inconclusive here" and by["table6"].status == "inconclusive here"


def test_seed_spread_widens_the_noise():
    """With extra seeds stored, the seed-to-seed spread joins the noise and can turn a call into "within noise"."""
    runs = _sweep({20: 10.6, 56: 30.2}, {20: 13.5, 56: 12.3})
    assert _by(runs)["table6"].why.count("lower (noise") == 1  # -1.2 beyond the test-set noise alone
    extra = tuple({**r, "seed": s, "test_error": [0.9, r["test_error"][-1] + dv], "train_error": r["train_error"]}
                  for r in runs if r["arch"] == "residual" for s, dv in ((1, 0.012), (2, -0.012)))
    by = _by(runs, extra)
    assert "| 6.97% | -1.20 points, within noise" in by["table6"].why
    assert "| ResNet-56 | 12.30% (3 seeds) | 6.97% |" in by["table6"].why  # the mean over the seeds
    assert by["table6"].status == "inconclusive here"


def test_the_follow_up_papers_claims_are_judged_from_the_stored_lab_files():
    """Recomputed from assets/shortcut_training.json and assets/shortcut_lab.json themselves."""
    import math

    from resnet_demo.base.paper import IDENTITY_TABLE1, IDENTITY_TABLE2

    by = {c.id: c for c in claims.claims()}
    runs = json.loads((ASSETS / "shortcut_training.json").read_text())["runs"]

    def errors(key):
        return [100 * r["train_error"] for r in runs[key] if r["train_error"] is not None]

    def called_higher(key):
        a, b = errors(key), errors("identity")
        sigma = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
        return statistics.mean(a) - statistics.mean(b) > 2 * sigma

    shortcuts = ["scale", "scale-both", "exclusive-gate", "exclusive-gate-6", "shortcut-gate", "shortcut-gate-6",
                 "conv1x1", "dropout"]
    c = by["identity-shortcut"]
    assert c.group == "followup" and "Table 1" in c.section
    assert c.paper["identity shortcut, original unit"] == 6.61 and c.paper["1×1 convolution shortcut"] == 12.22
    assert c.paper["shortcut-only gating, b_g = −6"] == 6.91 and c.paper["dropout shortcut (0.5)"] == "fail"
    higher = [k for k in shortcuts if called_higher(k)]
    assert f"Higher beyond noise for {len(higher)} of {len(shortcuts)} shortcuts" in c.why
    assert c.status == ("partly" if higher else "inconclusive here")  # never "reproduced": test error not measured
    assert c.ours["identity shortcut, original unit"] == round(statistics.mean(errors("identity")), 1)
    assert c.paper_unit != c.unit  # shown as "Ours, a different measure"
    assert by["activation-order"].paper == {"identity shortcut, original unit": 6.61, "BN after addition": 8.17,
                                            "ReLU before addition": 7.84}
    assert by["full-preact"].paper["full pre-activation"] == 6.37 == IDENTITY_TABLE2["error"]["full-preact"]
    assert by["full-preact"].status == "inconclusive here"
    assert IDENTITY_TABLE1["error"]["scale-both"] == 12.35 and IDENTITY_TABLE1["error"]["exclusive-gate-6"] == 8.70
    # the direct term: decades between the identity's and λ = 0.5's first-unit share, over the stored seeds
    spread = json.loads((ASSETS / "shortcut_lab.json").read_text())["spread"]
    d = by["direct-path"]
    for depth in (56, 110):
        ident = [math.log10(v) for v in spread[f"identity-{depth}"]["direct_ratio"]]
        assert d.ours[f"identity, depth {depth}"] == float(f"{10 ** statistics.mean(ident):.2g}")
        if not any(spread[f"scale-{depth}"]["direct_ratio"]):  # every path closed, in every seed
            assert f"depth {depth} ({(depth - 2) // 2} units): exactly 0 with λ = 0.5" in d.why
            assert d.ours[f"λ = 0.5, depth {depth}"] == 0
            continue
        scale = [math.log10(v) for v in spread[f"scale-{depth}"]["direct_ratio"]]
        gap = statistics.mean(ident) - statistics.mean(scale)
        sigma = math.sqrt(statistics.variance(ident) / len(ident) + statistics.variance(scale) / len(scale))
        assert f"{gap:.1f} decades lower" in d.why
        assert gap > 3 and gap > 2 * sigma  # orders of magnitude, beyond the seeds' noise
        assert d.ours[f"λ = 0.5, depth {depth}"] == float(f"{10 ** statistics.mean(scale):.2g}")
    assert d.status == "reproduced"
