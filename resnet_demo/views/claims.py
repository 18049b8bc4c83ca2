"""The paper, claim by claim: each claim with the paper's number, ours computed from the stored files the other
tabs show (never typed), and a status that claims no more than the paper's own words and our noise allow
(``noise``: a difference is called only beyond twice its measured noise).

Claims come in four groups: the paper's experiments (He et al. 2015), its follow-up by the same authors (Identity
Mappings, He et al. 2016: ``claims_identity``), later papers that test it (Veit et al., Li et al.), and counted
facts (parameters and multiply-adds, arithmetic on the architecture).

``claims()`` is what the Paper tab and ``/paper`` show; when the stored files change (the depth sweep, the seed
runs, new checkpoints), the claims change with them.
"""
from __future__ import annotations

import math
import statistics
from typing import Any

from ..base.paper import (
    CIFAR10_TEST_ERROR,
    DETECTION,
    FIG3,
    ILSVRC2015,
    IMAGENET_TOP1_10CROP,
    TABLE1,
    TABLE3,
    net_label,
)
from ..experiments import anatomy, gradflow, landscape, lesion, responses
from ..experiments.noise import Diff, binomial_sigma, diff
from ..nets.runs import and_list, of_kind, stored_runs
from ..serving.weights import catalog_entry
from .claim import GROUPS, STATUSES, Claim
from .claims_depth import degradation_claims
from .claims_identity import identity_claims
from .gradflow_text import CHANCE_LOSS, factor


def residual_claims() -> list[Claim]:
    out = []
    ratios = responses.stored_part("ratios") or {}
    trained = ratios.get("ResNet-56 trained")
    if trained:
        median = round(statistics.median(trained), 2)
        init = ratios.get("ResNet-56 at init")
        r20 = ratios.get("ResNet-20 trained")
        parts = [f"In the trained ResNet-56, RMS(F(x)) ÷ RMS(x) has median {median} over its {len(trained)} blocks"]
        if init:
            parts.append(f"at initialisation it is already {statistics.median(init):.2f}, so this does not show that "
                         "training makes F small")
        if r20:
            parts.append(f"in the trained ResNet-20 the median is {statistics.median(r20):.2f}, "
                         f"{sum(v > 1 for v in r20)} of its {len(r20)} blocks above 1")
        out.append(Claim(
            "small-f", "paper", "§3.1, §4.2",
            "The learned residual functions are small: “the residual functions might be generally closer to zero "
            "than the non-residual functions”.",
            "“generally closer to zero than the non-residual functions” (Fig. 7, plotted only)", median,
            "inconclusive here",
            "; ".join(parts) + ". The paper's comparison is with the non-residual functions, which this ratio has "
            "no counterpart for: that comparison is the claim on layer responses (Fig. 7).", "inside",
            unit="RMS(F(x)) / RMS(x), median"))
    out += _fig7(responses.stored_part("fig7") or {})
    return out


def _fig7(series: dict[str, list[float]]) -> list[Claim]:
    ranks = responses.rank_comparison(series)
    if not ranks:
        return []
    calls = [c["called"] and c["smaller"] > c["ranks"] / 2 for c in ranks.values()]
    status = "reproduced" if all(calls) else "partly" if any(calls) else "inconclusive here"
    ours = {f"depth {d}": {"ranks where ResNet is smaller": f"{c['smaller']} of {c['ranks']}",
                           "median ResNet": round(c["median_residual"], 3), "median plain": round(c["median_plain"], 3)}
            for d, c in ranks.items()}
    return [Claim(
        "fig7", "paper", "§4.2, Fig. 7",
        "ResNets have generally smaller layer responses than their plain counterparts.",
        "smaller (Fig. 7, plotted only)", ours, status,
        "The std of each 3×3 layer's response (trained nets, evaluation mode, 500 bundled test images), sorted and "
        "compared rank by rank as in the paper's Fig. 7 (bottom): "
        + "; ".join(responses.rank_text(d, c) for d, c in ranks.items()) + ".", "gradflow",
        unit="std of 3×3 responses")]


def architecture_claims() -> list[Claim]:
    a, p34 = anatomy.anatomy("resnet34-A"), anatomy.anatomy("plain34")
    b, c = anatomy.anatomy("resnet34"), anatomy.anatomy("resnet34-C")
    deep, vgg = anatomy.anatomy("resnet152"), anatomy.anatomy("vgg19")
    paper_layout = anatomy.stride_on_first_1x1_macs("resnet152")
    basic, bottleneck = anatomy.block_comparison()
    return [
        Claim("identity-free", "counted", "§3.2–3.3", "Identity shortcuts add neither parameters nor computation.",
               "0 extra parameters (option A)", a.params - p34.params,
               "counted" if a.params == p34.params else "not reproduced",
               f"Counted from the modules: ResNet-34 with option A has {a.params:,} parameters, plain-34 "
               f"{p34.params:,}.", "anatomy", unit="extra parameters"),
        Claim("table3", "paper", "§4.1, Table 3",
               "Projection shortcuts are not essential: B is only slightly better than A, C marginally better "
               "than B, at C's extra parameters.",
               {"A": TABLE3["top1"]["resnet34-A"], "B": TABLE3["top1"]["resnet34"], "C": TABLE3["top1"]["resnet34-C"]},
               {"A": a.params, "B": b.params, "C": c.params}, "quoted",
               f"ImageNet training is out of reach here, so the errors are quoted. What can be counted is the price "
               f"of the projections: A {a.params / 1e6:.2f} M parameters, B {b.params / 1e6:.2f} M, "
               f"C {c.params / 1e6:.2f} M.", "anatomy", unit="parameters, counted — not errors",
               paper_unit="% top-1 error, ImageNet, 10-crop"),
        Claim("cheaper-than-vgg", "counted", "§4.1, Table 1, Fig. 3",
               "With bottleneck blocks ResNet-152 has lower complexity than VGG-19.",
               {"ResNet-152": TABLE1["gmacs"][152], "VGG-19": FIG3["gmacs"]["vgg19"]},
               {"ResNet-152": round(paper_layout / 1e9, 2), "VGG-19": round(vgg.macs / 1e9, 2)},
               "counted" if paper_layout < vgg.macs else "not reproduced",
               f"Counted in the paper's layout (stride on the first 1×1 of a bottleneck): {paper_layout / 1e9:.2f} "
               f"billion multiply-adds against VGG-19's {vgg.macs / 1e9:.2f}. torchvision's ResNet-152 strides the "
               f"3×3 instead (v1.5): {deep.macs / 1e9:.2f} billion.", "anatomy", unit="billion multiply-adds",
               paper_unit="billion FLOPs (multiply-adds)"),
        Claim("bottleneck", "counted", "§4.1, Fig. 5",
               "A bottleneck block (1×1, 3×3, 1×1 on 256-d) has about the time complexity of a basic block (two 3×3 "
               "on 64-d), so deeper nets cost little more.",
               "“similar time complexity” (Fig. 5, no number given)",
               {"bottleneck ÷ basic, multiply-adds": round(bottleneck["macs"] / basic["macs"], 2)}, "counted",
               f"Counted at 56×56: the basic block {basic['macs'] / 1e6:.0f} M multiply-adds and {basic['params']:,} "
               f"parameters; the bottleneck {bottleneck['macs'] / 1e6:.0f} M and {bottleneck['params']:,}.",
               "anatomy", unit="ratio"),
    ]


def _v1(depth: int) -> float:
    """torchvision's published single-crop top-1 accuracy of its V1 weights (ResNet-18/34 have no other)."""
    return (catalog_entry(f"resnet{depth}.IMAGENET1K_V1") or catalog_entry(f"resnet{depth}"))[1]["acc@1"]


IMAGENET_VAL = 50000  # the ImageNet validation images torchvision's accuracies are measured on


def imagenet_claims() -> list[Claim]:
    err = {d: round(100 - _v1(d), 2) for d in (18, 34, 50, 101, 152)}

    def step(a: int, b: int) -> Diff:
        return diff(err[b] - err[a], ("validation images", math.hypot(binomial_sigma(err[a] / 100, IMAGENET_VAL),
                                                                      binomial_sigma(err[b] / 100, IMAGENET_VAL))))
    t2 = IMAGENET_TOP1_10CROP
    r18_34 = step(18, 34)
    deeper = [(a, b, step(a, b)) for a, b in ((50, 101), (101, 152))]
    falls = all(d.sign < 0 for *_, d in deeper)
    return [
        Claim("imagenet-18-34", "paper", "§4.1, Table 2",
               "On ImageNet the 34-layer plain net is worse than the 18-layer one, while ResNet-34 beats ResNet-18.",
               {"plain-18": t2["plain"][18], "plain-34": t2["plain"][34], "ResNet-18": t2["resnet"][18],
                "ResNet-34": t2["resnet"][34]},
               {"ResNet-18": err[18], "ResNet-34": err[34]}, "quoted",
               f"Training ImageNet is out of reach here. torchvision publishes only the residual half: ResNet-34 "
               f"{err[34]}% against ResNet-18 {err[18]}% top-1 error, {r18_34.text()} on the 50,000 validation "
               "images — the order of the paper's residual pair. Its nets use projection shortcuts where the shape "
               "changes (option B; the paper's Table 2 uses A), a single 224 crop (the paper: 10 crops) and "
               "torchvision's own training. No plain ImageNet net is published: the plain half has no evidence here.",
               "classify", unit="% top-1 error, single crop (torchvision)", paper_unit="% top-1 error, 10-crop"),
        Claim("imagenet-deeper", "paper", "§4.1, Tables 3–4",
               "Deeper ResNets are more accurate on ImageNet (50, 101, 152 layers).",
               {f"ResNet-{d}": TABLE3["top1"][f"resnet{d}"] for d in (50, 101, 152)},
               {f"ResNet-{d}": err[d] for d in (50, 101, 152)}, "quoted",
               "Training ImageNet is out of reach here. torchvision's V1 weights, published top-1 error on the 50,000 "
               "validation images: " + "; ".join(f"ResNet-{a} → {b} {d.text()}" for a, b, d in deeper)
               + (" — falling with depth, as in the paper." if falls else " — not falling at every step beyond noise.")
               + " They are not the paper's nets: ResNet v1.5 (the stride on the 3×3 conv), trained with "
                 "torchvision's recipe (other augmentation), tested on one 224 crop where the paper used 10.",
               "classify", unit="% top-1 error, single crop (torchvision)", paper_unit="% top-1 error, 10-crop"),
        Claim("fig4", "paper", "§4.1, Fig. 4",
               "On ImageNet plain-34 has higher training error than plain-18 throughout training; ResNet-18 "
               "converges faster than plain-18 to about the same accuracy.",
               {"plain-18": t2["plain"][18], "plain-34": t2["plain"][34], "ResNet-18": t2["resnet"][18]}, "—",
               "quoted",
               "ImageNet training is out of reach here and torchvision publishes no training curves. The CIFAR-10 "
               "counterpart is measured: the degradation claim and the Depth tab.", "depth",
               paper_unit="% top-1 error, 10-crop (Table 2; the curves are plotted only)"),
        Claim("ilsvrc", "paper", "§4.1, Table 5",
               "An ensemble of ResNets of different depths won ILSVRC 2015 classification with 3.57% top-5 error on "
               "the test set.", {"ensemble, top-5 error": ILSVRC2015["top5"]}, "—", "quoted",
               "An ensemble trained on ImageNet, tested on the ILSVRC test server: not reproducible here, and "
               "nothing comparable is published for torchvision's single nets.", "classify",
               paper_unit="% top-5 error, ImageNet test set"),
        Claim("detection", "paper", "§4.3, Tables 7–8",
               "Replacing VGG-16 by ResNet-101 in Faster R-CNN improves object detection: "
               f"{DETECTION['relative']}% relative on COCO's mAP@[.5, .95].",
               {k: f"{v[0]} → {v[1]}" for k, v in DETECTION["map"].items()}, "—", "quoted",
               "Detection training is out of reach here; the app classifies only.", "classify",
               paper_unit="mAP, VGG-16 → ResNet-101"),
    ]


def after_claims() -> list[Claim]:
    out = []
    found = lesion.stored()
    pairs = found.data["pairs"] if found else {}
    if pairs:
        ours, parts, holds, fails, down_worst = {}, [], [], [], []
        for d in sorted(pairs, key=int):
            for arch in ("residual", "plain"):
                r = pairs[d].get(arch)
                if r is None:
                    continue
                rise = lesion.rise(r)
                label = net_label(arch, int(d))
                ours[label] = round(rise.value, 1)
                parts.append(f"{label} {rise.text(up='higher than intact', down='lower than intact')}")
                if arch == "residual":
                    (fails if rise.sign > 0 else holds).append(label)
                    down = [s["error"] - r["baseline"] for s in r["single"] if s["error"] is not None
                            and s["downsampling"]]
                    if down:
                        down_worst.append((label, 100 * max(down)))
        images = next(iter(pairs.values()))["residual"]["images"]
        status = "reproduced" if holds and not fails else "partly" if holds else "not reproduced"
        why = (f"One block deleted (the blocks that keep the shape), median rise in test error on {images:,} bundled "
               f"test images: {'; '.join(parts)}. It holds for {and_list(holds) if holds else 'none'}"
               + (f", not for {and_list(fails)}" if fails else "") + ".")
        if down_worst:
            why += (" Deleting a downsampling block costs more: up to "
                    + ", ".join(f"{v:.1f} points in {n}" for n, v in down_worst) + ", as Veit et al. also saw.")
        why += " Veit et al.'s baseline was a VGG-style net; ours is the plain twin of each ResNet."
        out.append(Claim(
            "lesion", "later", "Veit et al. 2016, Fig. 3",
            "Deleting one block of a residual net barely changes its error; deleting a layer of a plain net breaks it.",
            "ResNet-110: error close to intact, except at downsampling blocks; VGG: chance", ours, status, why,
            "inside", unit="points of test error, median over shape-keeping blocks"))
    stored = landscape.stored()
    if stored:
        nets, m = stored.data["nets"], stored.data["setup"]
        rr, rp = nets["residual"]["roughness"], nets["plain"]["roughness"]
        d = m["depth"]
        out.append(Claim(
            "landscape", "later", "Li et al. 2018, Fig. 5",
            "The loss surface around a trained ResNet is smooth and nearly convex; around its plain twin, chaotic.",
            "smooth and nearly convex vs chaotic (Fig. 5, plotted only)",
            {f"{name}-{d}": {"bumpiness": round(r["bumpiness"], 3), "% non-convex": round(100 * r["nonconvex_share"])}
             for name, r in (("ResNet", rr), ("plain", rp))},
            "inconclusive here",
            f"Around ResNet-{d} the surface is less bumpy ({rr['bumpiness']:.3f} against {rp['bumpiness']:.3f}) but "
            f"not nearly convex: {100 * rr['nonconvex_share']:.0f}% of its points are non-convex (plain-{d}: "
            f"{100 * rp['nonconvex_share']:.0f}%, over a different set of points: {rr['points']} against "
            f"{rp['points']} lie below the loss cap of {m['cap']:g}), and it has {rr['local_minima']} strict local "
            f"minima against plain's {rp['local_minima']}. One pair of random directions and {m['images']} training "
            "images: how much these numbers move with other directions is not measured, so no difference is called.",
            "inside", unit="bumpiness; % of points non-convex"))
    return out


def gradient_claims() -> list[Claim]:
    runs = gradflow.stored_records()
    rec = runs.get(gradflow.record_key(56, True, 0))
    if rec is None:
        return []
    plain = rec["nets"]["plain"]
    start, end = (gradflow.first_last_ratio(plain["grad_rms"][i]) for i in (0, -1))
    last_loss = plain["loss"][len(plain["grad_rms"]) - 1]
    steps = rec["steps"][len(plain["grad_rms"]) - 1]
    why = (f"plain-56 with BN: at initialisation the first layer's gradient is {factor(start)} the last "
           f"convolution's (it grows toward the input, it does not vanish); after {steps} SGD steps it is "
           f"{factor(end)}, while the loss is still {last_loss:.2f} (chance: {CHANCE_LOSS:.2f}): the net "
           "has not started to learn.")
    deep = runs.get(gradflow.record_key(110, True, 0))
    if deep:
        p = deep["nets"]["plain"]
        r = gradflow.first_last_ratio(p["grad_rms"][-1])
        why += f" plain-110 with BN: {factor(r)} after {deep['steps'][len(p['grad_rms']) - 1]} steps."
    why += (" The paper's claim is about plain nets trained to convergence (its gradients “exhibit healthy norms”); "
            "our trajectories stop at a few hundred steps of nets still at chance, so they can neither confirm nor "
            "refute it: inconclusive at this scale.")
    return [Claim(
        "no-vanishing", "paper", "§4.1",
        "Plain nets trained with BN do not suffer from vanishing gradients: their degradation has another cause.",
        "“healthy norms with BN” (no number given)", {"at initialisation": round(start, 4),
                                                       f"after {steps} steps": round(end, 4)},
        "inconclusive here", why, "gradflow", unit="first ÷ last conv gradient RMS")]


def stated_claims(runs: list[dict[str, Any]]) -> list[Claim]:
    r = CIFAR10_TEST_ERROR["resnet"]
    deepest = max(of_kind(runs, "residual"), key=lambda run: run["depth"], default=None)
    cost = ""
    if deepest is not None and deepest.get("wall_seconds"):
        days = deepest["wall_seconds"] * 1202 / deepest["depth"] / 86400
        cost = (f": scaled by depth from {net_label('residual', deepest['depth'])}'s recorded wall time, even our "
                f"shortened {deepest['iterations'][-1]:,}-iteration schedule would take about {days:.0f} days")
    return [Claim(
        "resnet1202", "paper", "§4.2, Table 6",
        "A 1202-layer ResNet still trains (training error below 0.1%) but tests worse than ResNet-110, which the "
        "paper puts down to overfitting.", {"ResNet-1202": r[1202], "ResNet-110": r[110]}, "—", "quoted",
        f"ResNet-1202 (19.4 M parameters) is out of reach on this project's CPUs{cost}. Its 7.93% is quoted.",
        "depth",
        paper_unit="% test error, CIFAR-10")]


def claims() -> list[Claim]:
    """Every claim, in the paper's order, computed from the stored files now."""
    runs = stored_runs()
    found = {c.id: c for c in (*degradation_claims(runs), *residual_claims(), *architecture_claims(),
                                  *imagenet_claims(), *gradient_claims(), *stated_claims(runs), *identity_claims(),
                                  *after_claims())}
    return [found[i] for i in ORDER if i in found]


ORDER = ("degradation", "small-f", "identity-free", "imagenet-18-34", "fig4", "table3", "cheaper-than-vgg",
         "bottleneck", "imagenet-deeper", "ilsvrc", "no-vanishing", "no-degradation", "table6", "resnet1202",
         "fig7", "detection", "identity-shortcut", "direct-path", "activation-order", "full-preact", "lesion",
         "landscape")


def counts(found: list[Claim]) -> dict[str, dict[str, int]]:
    """{group: {status: how many}} in GROUPS and STATUSES order (only those present)."""
    out: dict[str, dict[str, int]] = {}
    for g in GROUPS:
        mine = [c.status for c in found if c.group == g]
        if mine:
            out[g] = {s: mine.count(s) for s in STATUSES if s in mine}
    return out
