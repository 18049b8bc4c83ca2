"""The Paper tab's claims (#25): every "ours" is what the stored files give, recomputed here from the files
themselves (not through the code the tab uses)."""
from __future__ import annotations

import json
import statistics

from conftest import ROOT

from resnet_demo import claims

ASSETS = ROOT / "assets"


def _final(values):
    return next(v for v in reversed(values) if v is not None)


def test_at_least_ten_claims_each_with_a_status_and_a_tab():
    found = claims.claims()
    assert len(found) >= 10 and len({c["id"] for c in found}) == len(found)
    for c in found:
        assert c["status"] in claims.STATUSES and c["tab"] in ("depth", "gradflow", "anatomy", "inside", "classify")
        assert c["claim"] and c["why"] and c["paper"] is not None and c["ours"] is not None
        assert set(c) <= {"id", "section", "claim", "paper", "ours", "status", "why", "tab", "unit", "paper_unit"}
    assert json.loads(json.dumps(found)) == found  # what /paper sends


def test_ours_are_the_stored_files_numbers():
    by = {c["id"]: c for c in claims.claims()}
    run = {p.stem: json.loads(p.read_text()) for p in (ASSETS / "runs").glob("*.json")}
    for claim, arch in (("degradation", "plain"), ("no-degradation", "residual")):  # shallowest vs deepest stored
        kind = sorted((r for r in run.values() if r["arch"] == arch), key=lambda r: r["depth"])
        assert by[claim]["ours"] == round(100 * (_final(kind[-1]["train_error"]) - _final(kind[0]["train_error"])), 2)
    table6 = sorted((r["depth"], round(100 * _final(r["test_error"]), 2)) for r in run.values()
                    if r["arch"] == "residual" and r["depth"] in (20, 32, 44, 56, 110))  # the paper's Table 6 rows
    assert by["table6"]["ours"] == {f"ResNet-{d}": te for d, te in table6}
    nets = json.loads((ASSETS / "anatomy.json").read_text())["networks"]
    assert by["identity-free"]["ours"] == nets["resnet34-A"]["params"] - nets["plain34"]["params"] == 0
    assert by["cheaper-than-vgg"]["ours"]["VGG-19"] == round(nets["vgg19"]["macs"] / 1e9, 2)
    pair = json.loads((ASSETS / "inside" / "lesion.json").read_text())["pairs"]["56"]
    same = [s["error"] for s in pair["plain"]["single"] if s["error"] is not None and not s["downsampling"]]
    assert by["lesion"]["ours"]["plain-56"] == round(100 * (statistics.median(same) - pair["plain"]["baseline"]), 1)
    ratios = json.loads((ASSETS / "inside" / "responses.json").read_text())["ratios"]["ResNet-56 trained"]
    assert by["small-f"]["ours"] == round(statistics.median(ratios), 2)
    catalog = json.loads((ASSETS / "imagenet_models.json").read_text())["fp32"]
    assert by["imagenet-deeper"]["ours"]["ResNet-152"] == catalog["resnet152.IMAGENET1K_V1"]["acc@1"]
    assert by["imagenet-18-34"]["status"] == "quoted"  # ImageNet training is not done here


def _sweep(plain_train: dict[int, float], res_test: dict[int, float]) -> list[dict]:
    """Runs whose final errors are given (percent); the other final errors fixed."""
    def run(arch, depth, train, test):
        return {"name": f"{arch}{depth}", "arch": arch, "depth": depth, "iterations": [800, 16000],
                "train_error": [0.9, train / 100], "test_error": [0.9, test / 100]}
    return ([run("plain", d, e, e + 5) for d, e in plain_train.items()]
            + [run("residual", d, 8.0 - d / 100, e) for d, e in res_test.items()])


def test_the_sweep_claims_follow_every_depth():
    """With the whole sweep stored (#24), claim 1 checks every step in depth and Table 6 every row."""
    res = {20: 13.5, 32: 13.4, 44: 13.2, 56: 13.1, 110: 12.7}
    by = {c["id"]: c for c in claims.degradation_claims(_sweep({20: 10.6, 32: 17.1, 44: 23.7, 56: 30.2}, res))}
    assert by["degradation"]["status"] == "reproduced" and by["degradation"]["ours"] == 19.6
    assert "(plain-20, plain-32, plain-44 and plain-56)" in by["degradation"]["claim"]
    assert by["degradation"]["why"].endswith("plain-20 10.6% → plain-32 17.1% → plain-44 23.7% → plain-56 30.2%, "
                                             "higher at every step.")
    assert by["table6"]["paper"] == {"ResNet-20": 8.75, "ResNet-32": 7.51, "ResNet-44": 7.17, "ResNet-56": 6.97,
                                     "ResNet-110": 6.43}
    assert by["table6"]["ours"] == {f"ResNet-{d}": e for d, e in res.items()}
    assert by["table6"]["status"] == "partly" and "lower at every step in depth" in by["table6"]["why"]
    assert "ResNet-110 trains to lower error than ResNet-20" in by["no-degradation"]["claim"]

    by = {c["id"]: c for c in claims.degradation_claims(
        _sweep({20: 10.6, 32: 17.1, 44: 16.9, 56: 30.2}, {**res, 44: 13.6, 110: 14.1}))}
    assert by["degradation"]["status"] == "partly"  # 20 -> 56 rises, 32 -> 44 does not
    assert by["degradation"]["why"].endswith(", not higher at every step.")
    assert by["table6"]["status"] == "not reproduced"
    assert "ResNet-110 more than 0.5 points above ResNet-20" in by["table6"]["why"]  # 44 is within 0.5: not named

    by = {c["id"]: c for c in claims.degradation_claims(_sweep({20: 10.6, 56: 30.2}, {**res, 44: 13.0}))}
    assert "not lower at every step" in by["table6"]["why"] and by["table6"]["status"] == "partly"
    by = {c["id"]: c for c in claims.degradation_claims(_sweep({20: 10.6, 56: 30.2}, {**res, 44: 13.7}))}
    assert "every deeper net below ResNet-20 except ResNet-44 (+0.20 points)" in by["table6"]["why"]
    assert by["table6"]["status"] == "partly"
