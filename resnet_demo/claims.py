"""The paper, claim by claim: each claim with the paper's number, ours computed from the stored files the other
tabs show (never typed), and a status:

- reproduced: our numbers show what the paper claims;
- partly: they show it with a difference that is said (e.g. our schedule is shorter, so our errors are higher);
- not reproduced: they do not, and the sentence says what we found;
- quoted: not reproducible here (ImageNet training), the paper's number beside what torchvision publishes.

``claims()`` is what the Paper tab and ``/paper`` show; when the stored files change (the depth sweep, new
checkpoints), the claims change with them.
"""
from __future__ import annotations

import statistics
from typing import Any

from . import anatomy, gradflow, landscape, lesion, responses
from .paper import CIFAR10_TEST_ERROR, FIG3, IMAGENET_TOP1_10CROP, TABLE1, TABLE3, net_label
from .runs import and_list, final, of_kind, stored_runs
from .weights import catalog_entry

STATUSES = ("reproduced", "partly", "not reproduced", "quoted")


def _claim(id_: str, section: str, claim: str, paper: Any, ours: Any, status: str, why: str, tab: str,
           unit: str | None = None, paper_unit: str | None = None) -> dict[str, Any]:
    assert status in STATUSES, status
    out = {"id": id_, "section": section, "claim": claim, "paper": paper, "ours": ours, "status": status,
           "why": why, "tab": tab}
    if unit:
        out["unit"] = unit
    if paper_unit:  # where the paper's numbers measure something else than ours
        out["paper_unit"] = paper_unit
    return out


def _pct(x: float) -> float:
    return round(100 * x, 2)


def degradation_claims(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fig. 6 and Table 6 from the stored runs: the shallowest against the deepest net of each kind, and, with more
    depths stored (the sweep), every step in depth."""
    out = []
    plain, res = of_kind(runs, "plain"), of_kind(runs, "residual")
    its = max((r["iterations"][-1] for r in runs), default=0)
    shorter = f"our runs are {its:,} iterations, the paper's 64,000, so our errors are higher"
    if len(plain) >= 2:
        a, b = plain[0], plain[-1]
        gap = _pct(final(b["train_error"]) - final(a["train_error"]))
        test_gap = _pct(final(b["test_error"]) - final(a["test_error"]))
        errors = [_pct(final(r["train_error"])) for r in plain]
        names = [net_label("plain", r["depth"]) for r in plain]
        every = all(y > x for x, y in zip(errors, errors[1:]))
        why = (f"{net_label('plain', b['depth'])} ends {gap:+.2f} points in training error and {test_gap:+.2f} in "
               f"test error against {net_label('plain', a['depth'])}"
               + (": higher training error, so not overfitting" if gap > 0 else "") + ".")
        if len(plain) >= 3:
            why += (" Final training error by depth: " + " → ".join(f"{n} {e}%" for n, e in zip(names, errors))
                + (", higher at every step." if every else ", not higher at every step."))
        out.append(_claim(
            "degradation", "§4.2, Fig. 1 and 6",
            f"A deeper plain net has higher training error than a shallower one ({and_list(names)}): an optimisation "
            "difficulty, not overfitting.",
            "higher training error at every depth step (Fig. 6, plotted only)", gap,
            "reproduced" if gap > 0 and test_gap > 0 and every else "partly" if gap > 0 else "not reproduced",
            why, "depth", unit="points of training error"))
    if len(res) >= 2:
        a, b = res[0], res[-1]
        tr = _pct(final(b["train_error"]) - final(a["train_error"]))
        out.append(_claim(
            "no-degradation", "§4.2, Fig. 6",
            f"Residual nets do not degrade: {net_label('residual', b['depth'])} trains to lower error than "
            f"{net_label('residual', a['depth'])}.",
            "lower training error with depth (Fig. 6, plotted only)", tr,
            "reproduced" if tr < 0 else "not reproduced",
            f"{net_label('residual', b['depth'])} ends {tr:+.2f} points in training error against "
            f"{net_label('residual', a['depth'])}.", "depth", unit="points of training error"))
        table = [r for r in res if r["depth"] in CIFAR10_TEST_ERROR["resnet"]]
        if len(table) >= 2:
            paper = {net_label("residual", r["depth"]): CIFAR10_TEST_ERROR["resnet"][r["depth"]] for r in table}
            ours = {net_label("residual", r["depth"]): _pct(final(r["test_error"])) for r in table}
            base = net_label("residual", table[0]["depth"])
            deeper = list(ours.items())[1:]
            above = [name for name, te in deeper if te > ours[base] + 0.5]
            errors = list(ours.values())
            if above:
                verdict = f"{and_list(above)} more than 0.5 points above {base}"
            elif all(y < x for x, y in zip(errors, errors[1:])):
                verdict = "lower at every step in depth" if len(ours) > 2 else "the same order"
            elif all(te < ours[base] for te in errors[1:]):
                verdict = f"every deeper net below {base}, though not lower at every step"
            else:  # some deeper net at or above the shallowest, by 0.5 points or less: name it
                up = [f"{name} ({te - ours[base]:+.2f} points)" for name, te in deeper if te >= ours[base]]
                verdict = f"every deeper net below {base} except {and_list(up)}"
            out.append(_claim(
                "table6", "§4.2, Table 6",
                "Deeper residual nets are more accurate on CIFAR-10: "
                + ", ".join(f"{name} {v}%" for name, v in paper.items()) + " test error.",
                paper, ours, "not reproduced" if above else "partly",
                "Ours, on the 10,000 test images: " + ", ".join(f"{name} {v}%" for name, v in ours.items())
                + f" — {verdict}; {shorter}.", "depth", unit="% test error"))
    return out


def residual_claims() -> list[dict[str, Any]]:
    out = []
    ratios = responses.stored().get("ratios") or {}
    trained = ratios.get("ResNet-56 trained")
    if trained:
        median = round(statistics.median(trained), 2)
        out.append(_claim(
            "small-f", "§3.1, Fig. 7",
            "Residual learning makes it easy to be close to identity: the learned F(x) is small next to x "
            "(“residual functions might be generally closer to zero”).",
            "responses generally small (Fig. 7, plotted only)", median,
            "reproduced" if median < 1 else "not reproduced",
            f"In the trained ResNet-56, RMS(F(x)) ÷ RMS(x) has median {median} over its {len(trained)} blocks "
            f"({sum(v < 1 for v in trained)} below 1).", "inside", unit="RMS(F(x)) / RMS(x), median"))
    means = {d: (round(mr, 3), round(mp, 3))
             for d, (mp, mr) in responses.mean_responses(responses.stored().get("fig7") or {}).items()}
    if means:
        smaller = all(r < p for r, p in means.values())
        out.append(_claim(
            "fig7", "§4.2, Fig. 7",
            "ResNets have generally smaller layer responses than their plain counterparts.",
            "smaller (Fig. 7, plotted only)", {f"depth {d}": {"ResNet": r, "plain": p} for d, (r, p) in means.items()},
            "reproduced" if smaller else "not reproduced",
            "Mean std of the 3×3 responses, ResNet against plain: "
            + "; ".join(f"depth {d}: {r} against {p}" for d, (r, p) in means.items()) + ".",
            "gradflow", unit="std of 3×3 responses, mean"))
    return out


def architecture_claims() -> list[dict[str, Any]]:
    a, p34 = anatomy.anatomy("resnet34-A"), anatomy.anatomy("plain34")
    b, c = anatomy.anatomy("resnet34"), anatomy.anatomy("resnet34-C")
    deep, vgg = anatomy.anatomy("resnet152"), anatomy.anatomy("vgg19")
    return [
        _claim("identity-free", "§3.2–3.3", "Identity shortcuts add neither parameters nor computation.",
               "0 extra parameters (option A)", a.params - p34.params,
               "reproduced" if a.params == p34.params else "not reproduced",
               f"Counted from the modules: ResNet-34 with option A has {a.params:,} parameters, plain-34 "
               f"{p34.params:,}.", "anatomy", unit="extra parameters"),
        _claim("table3", "§4.1, Table 3",
               "Projection shortcuts are not essential: B is only slightly better than A, C marginally better "
               "than B, at C's extra parameters.",
               {"A": TABLE3["top1"]["resnet34-A"], "B": TABLE3["top1"]["resnet34"], "C": TABLE3["top1"]["resnet34-C"]},
               {"A": a.params, "B": b.params, "C": c.params}, "quoted",
               f"ImageNet training is out of reach here; the parameters are counted: A {a.params / 1e6:.2f} M, "
               f"B {b.params / 1e6:.2f} M, C {c.params / 1e6:.2f} M.", "anatomy", unit="parameters",
               paper_unit="% top-1 error, ImageNet, 10-crop"),
        _claim("cheaper-than-vgg", "§4.1, Table 1, Fig. 3",
               "With bottleneck blocks ResNet-152 has lower complexity than VGG-19.",
               {"ResNet-152": TABLE1["gmacs"][152], "VGG-19": FIG3["gmacs"]["vgg19"]},
               {"ResNet-152": round(deep.macs / 1e9, 2), "VGG-19": round(vgg.macs / 1e9, 2)},
               "reproduced" if deep.macs < vgg.macs else "not reproduced",
               f"Counted: {deep.macs / 1e9:.2f} billion multiply-adds against {vgg.macs / 1e9:.2f} "
               "(torchvision's ResNet-152 strides its 3×3 convs, v1.5, hence a little above the paper's).",
               "anatomy", unit="billion multiply-adds", paper_unit="billion FLOPs (multiply-adds)"),
    ]


def imagenet_claims() -> list[dict[str, Any]]:
    # torchvision's V1 weights (the paper's recipe): ResNet-18/34 have no other, so their key is the plain name
    v1 = {d: (catalog_entry(f"resnet{d}.IMAGENET1K_V1") or catalog_entry(f"resnet{d}"))[1]["acc@1"]
          for d in (18, 34, 50, 101, 152)}
    rising = all(v1[a] < v1[b] for a, b in zip(list(v1), list(v1)[1:]))
    t2 = IMAGENET_TOP1_10CROP
    return [
        _claim("imagenet-18-34", "§4.1, Table 2, Fig. 4",
               "On ImageNet the 34-layer plain net is worse than the 18-layer one, while ResNet-34 beats ResNet-18.",
               {"plain-18": t2["plain"][18], "plain-34": t2["plain"][34], "ResNet-18": t2["resnet"][18],
                "ResNet-34": t2["resnet"][34]},
               {"ResNet-18": v1[18], "ResNet-34": v1[34]}, "quoted",
               f"Training ImageNet is out of reach here. torchvision's published ResNet weights agree in order: "
               f"ResNet-34 {v1[34]}% top-1 against ResNet-18 {v1[18]}% (single crop; the paper's are 10-crop "
               "top-1 errors); no plain ImageNet nets are published.", "classify",
               unit="% top-1 accuracy (torchvision)", paper_unit="% top-1 error, 10-crop"),
        _claim("imagenet-deeper", "§4.1, Tables 3–4",
               "Deeper ResNets are more accurate on ImageNet (50, 101, 152 layers).",
               {f"ResNet-{d}": TABLE3["top1"][f"resnet{d}"] for d in (50, 101, 152)},
               {f"ResNet-{d}": v1[d] for d in v1}, "quoted",
               "torchvision's V1 weights, trained with the paper's recipe, published top-1: "
               + ", ".join(f"ResNet-{d} {v}%" for d, v in v1.items())
               + (" — rising with depth." if rising else " — not rising at every step."),
               "classify", unit="% top-1 accuracy (torchvision)", paper_unit="% top-1 error, 10-crop"),
    ]


def after_claims() -> list[dict[str, Any]]:
    out = []
    pairs = lesion.stored().get("pairs", {})
    pair = pairs.get("56")
    if pair:
        rise = {arch: round(100 * lesion.median_rise(pair[arch]), 1) for arch in ("residual", "plain")}
        ok = rise["residual"] < 0.5 * rise["plain"]
        ours = {"ResNet-56": rise["residual"], "plain-56": rise["plain"]}
        text = (f"One block deleted, median rise in test error: ResNet-56 {rise['residual']} points, plain-56 "
                f"{rise['plain']} points")
        if "110" in pairs:  # Veit et al.'s own net (residual only: no plain-110 is trained)
            ours["ResNet-110"] = round(100 * lesion.median_rise(pairs["110"]["residual"]), 1)
            text += f", ResNet-110 {ours['ResNet-110']} points"
        out.append(_claim(
            "lesion", "Veit et al. 2016",
            "Deleting one block of a residual net barely matters; deleting a layer of a plain net breaks it.",
            "ResNet-110: error close to intact; plain: chance", ours,
            "reproduced" if ok else "not reproduced",
            f"{text} ({pair['residual']['images']:,} bundled test images).",
            "inside", unit="points of test error, median"))
    stored = landscape.stored()
    if stored:
        nets = stored["nets"]
        rr, rp = nets["residual"]["roughness"], nets["plain"]["roughness"]
        d = stored["meta"]["depth"]
        out.append(_claim(
            "landscape", "Li et al. 2018",
            "The loss surface around a trained ResNet is smooth and nearly convex; around its plain twin, chaotic.",
            "smooth vs chaotic (Fig. 5, plotted only)",
            {f"ResNet-{d}": round(100 * rr["nonconvex_share"]), f"plain-{d}": round(100 * rp["nonconvex_share"])},
            "reproduced" if landscape.smoother(nets) else "not reproduced",
            f"Non-convex at {100 * rr['nonconvex_share']:.0f}% of the points around ResNet-{d} against "
            f"{100 * rp['nonconvex_share']:.0f}% around plain-{d}; bumpiness {rr['bumpiness']:.3f} against "
            f"{rp['bumpiness']:.3f}.", "inside", unit="% non-convex points"))
    return out


def gradient_claims() -> list[dict[str, Any]]:
    rec = gradflow.stored_trajectories()["runs"].get(gradflow.stored_key(56, True, 0))
    if rec is None:
        return []
    start, end = (gradflow.first_last_ratio(rec["nets"]["plain"]["grad_rms"][i]) for i in (0, -1))
    return [_claim(
        "no-vanishing", "§4.1",
        "Plain nets trained with BN do not suffer from vanishing gradients: their degradation has another cause.",
        "“healthy norms with BN” (no number given)", {"at initialisation": round(start, 4),
                                                       f"after {rec['steps'][-1]} steps": round(end, 4)},
        "partly",
        f"plain-56 with BN: the first layer's gradient is {gradflow.factor(start)} the last convolution's at "
        f"initialisation and {gradflow.factor(end)} after {rec['steps'][-1]} training steps — it never vanishes "
        "to nothing, but it is far from uniform.", "gradflow", unit="first ÷ last conv gradient RMS")]


def claims() -> list[dict[str, Any]]:
    """Every claim, in the paper's order, computed from the stored files now."""
    found = {c["id"]: c for c in (*degradation_claims(stored_runs()), *residual_claims(), *architecture_claims(),
                                  *imagenet_claims(), *gradient_claims(), *after_claims())}
    return [found[i] for i in ORDER if i in found]


ORDER = ("degradation", "small-f", "identity-free", "imagenet-18-34", "table3", "cheaper-than-vgg",
         "imagenet-deeper", "no-vanishing", "no-degradation", "table6", "fig7", "lesion", "landscape")
