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
    assert by["degradation"]["ours"] == round(
        100 * (_final(run["plain56"]["train_error"]) - _final(run["plain20"]["train_error"])), 2)
    assert by["no-degradation"]["ours"] == round(
        100 * (_final(run["resnet56"]["train_error"]) - _final(run["resnet20"]["train_error"])), 2)
    assert by["table6"]["ours"] == {"ResNet-20": round(100 * _final(run["resnet20"]["test_error"]), 2),
                                    "ResNet-56": round(100 * _final(run["resnet56"]["test_error"]), 2)}
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
