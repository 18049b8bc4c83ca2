"""The degradation problem in numbers: what four runs (plain and residual, shallow and deep) show, as
sentences computed from their errors, and the stored runs beside the paper's Table 6. Used by the Depth
tab for the stored runs and for live runs alike."""
from __future__ import annotations

from typing import Any

import torch

from . import anatomy
from .cifar import checkpoint_stem, cifar_net, count_params
from .paper import CIFAR10_TEST_ERROR, net_label
from .runs import and_list, final, milestones_text, of_kind, warmup_text


def final_train_error(run: dict[str, Any]) -> float | None:
    """The error on the fixed training sample at the last evaluation when measured, else the smoothed
    batch error (the dashed curve)."""
    measured = final(run.get("train_error_measured") or [])
    return measured if measured is not None else final(run["train_error"])


def gaps(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Final training-error gaps in points (percent): plain deep-shallow, residual deep-shallow,
    plain-deep minus residual-deep. ``runs`` in make_trainers order."""
    ps, pd, rs, rd = (100 * final_train_error(r) for r in runs)
    return {"plain_gap": pd - ps, "residual_gap": rd - rs, "residual_advantage": pd - rd}


CHANCE = 0.9          # training error of guessing among CIFAR-10's 10 classes
LEARNED_BELOW = 0.8   # a net has learned something once its training error is this far below chance


def verdict(runs: list[dict[str, Any]], noise: dict[str, float] | None = None) -> str:
    """A sentence computed from the four runs' final training errors (never a canned conclusion). None before
    the shallow nets have learned something; a difference within twice ``noise`` (the seed-to-seed standard
    deviation of that gap, in points, for the setting the runs used) is "too close to call"."""
    ps, pd, rs, rd = runs
    if any(final_train_error(r) is None for r in runs):
        return "Too early for a verdict: no training error has been measured yet."
    if min(final_train_error(ps), final_train_error(rs)) > LEARNED_BELOW:
        its = max(r["iterations"][-1] for r in runs)
        errors = ", ".join(f"{_short(r)} {100 * final_train_error(r):.0f}%" for r in runs)
        return (f"Too early for a verdict: after {its:,} iterations the nets have not learned yet ({errors} "
                f"training error; guessing is {100 * CHANCE:.0f}%).")
    g = gaps(runs)
    noise = noise or {}

    def close(key: str) -> float:
        return max(0.5, 2 * noise.get(key, 0.0))

    def compare(deep: dict, shallow: dict, key: str) -> tuple[str, bool]:
        gap = g[key]
        if abs(gap) < close(key):
            why = f"within the ±{close(key):.1f}-point spread between seeds" if key in noise else "level"
            return f"{_short(deep)} and {_short(shallow)} are too close to call ({gap:+.1f} points, {why})", False
        side = "above" if gap > 0 else "below"
        return f"{_short(deep)} ended {abs(gap):.1f} points {side} {_short(shallow)}", True

    plain, plain_clear = compare(pd, ps, "plain_gap")
    residual, _ = compare(rd, rs, "residual_gap")
    if plain_clear:
        plain += (": degradation, the deeper plain net trains worse" if g["plain_gap"] > 0
                  else ": no degradation in this run")
    adv = g["residual_advantage"]
    if abs(adv) < close("residual_advantage"):
        tail = f"At the same depth, {_short(rd)} and {_short(pd)} are too close to call ({adv:+.1f} points)."
    else:
        tail = (f"{_short(rd)} is {abs(adv):.1f} points {'below' if adv > 0 else 'above'} {_short(pd)}"
                " at the same depth and iteration.")
    measured = all(final(r.get("train_error_measured") or []) is not None for r in runs)  # none if stopped early
    images = runs[0].get("recipe", {}).get("train_eval_images") or 1000
    how = (f" (measured on {images:,} training images at the end: the markers)" if measured
           else " (mean of the last batches)")
    return f"Training error{how}: {plain}; {residual}. {tail}"


def _short(run: dict[str, Any]) -> str:
    return net_label(run["arch"], run["depth"])


def params(run: dict[str, Any]) -> int:
    """The run's net's parameter count: from the stored Anatomy counts (assets/anatomy.json) for the paper's nets
    (width 16, BN), else counted from the module."""
    shortcut = "" if run["arch"] == "plain" or (run["shortcut"] or "A") == "A" else f"-{run['shortcut']}"
    name = f"cifar-{checkpoint_stem(run['arch'], run['depth'])}{shortcut}"
    if run["width"] == 16 and run["batch_norm"] and name in anatomy.network_names():
        return anatomy.anatomy(name).params
    net = cifar_net(run["depth"], residual=run["arch"] == "residual", shortcut=run["shortcut"] or "A",
                    batch_norm=run["batch_norm"], width=run["width"], generator=torch.Generator())
    return count_params(net)


def results_table(runs: list[dict[str, Any]]) -> str:
    """Our runs beside the paper's Table 6: every number read from the runs, the modules or paper.py."""
    paper = CIFAR10_TEST_ERROR["resnet"]
    tested = sorted({r["test_images"] for r in runs if "test_images" in r})
    on = f" ({tested[0]:,} test images)" if len(tested) == 1 else ""
    lines = [f"| run | params | our iterations | final training error | final test error{on} | the paper's test "
             "error (64k iterations) |", "|---|---|---|---|---|---|"]
    for r in runs:
        tr, te = final(r["train_error"]), final(r["test_error"])
        theirs = (
            f"{paper[r['depth']]}%" if r["arch"] == "residual" and r["depth"] in paper else "— (plotted in Fig. 6 only)"
        )
        lines.append(
            f"| {r['name']} | {params(r) / 1e6:.2f} M | {r['iterations'][-1]:,} "
            f"| {'—' if tr is None else f'{100 * tr:.2f}%'} | {'—' if te is None else f'{100 * te:.2f}%'} "
            f"| {theirs} |"
        )
    return "\n".join(lines)


def results_provenance(runs: list[dict[str, Any]]) -> str:
    """How the stored runs were made (recipe, data, machine, wall time) and where the paper's column is from."""
    notes = sorted({r.get("note", "") for r in runs} - {""})
    datasets = sorted({r["dataset"] for r in runs})
    recipe = runs[0].get("recipe", {}) if runs else {}
    text = (
        f"Trained by this project with `python -m resnet_demo.train` (commands in each run's JSON, "
        f"`assets/runs/`) on {', '.join(datasets)}; SGD lr {recipe.get('lr')}, momentum "
        f"{recipe.get('momentum')}, weight decay {recipe.get('weight_decay')}, batch "
        f"{runs[0]['batch_size'] if runs else '?'}, lr /10 at "
        f"{milestones_text(recipe) or 'no milestone'}. "
    )
    if notes:
        text += "Note: " + " ".join(notes) + ". "
    for r in runs:
        if warmup := warmup_text(r):
            text += f"{r['name']} warmed up as the paper's ResNet-110 did: {warmup}. "
    text += (
        f"The paper's column: {CIFAR10_TEST_ERROR['source']} (the full recipe, 64k iterations, the original "
        f"CIFAR-10 images); our training error is the mean over the last {recipe.get('smoothing', 50)} "
        "training batches (augmented, training mode); the paper does not say how it smoothed its curves."
    )
    rows = ["| run | device | wall time |", "|---|---|---|"]
    rows += [f"| {r['name']} | {r['device']} | {r['wall_seconds'] / 60:.0f} min |" for r in runs]
    return (text + "\n\n" + "\n".join(rows) + "\n\nWall time is as each run recorded it, including time its machine "
            "shared with other work, so it does not compare the nets' speed (the machines: docs/methods.md).")


def stored_summary(runs: list[dict[str, Any]]) -> str:
    """What the stored runs show, computed from their final training errors (same wording as live): the
    shallowest and the deepest depth stored for both kinds (20 and 56; ResNet-110 has no plain twin, and the
    verdict compares nets "at the same depth"); the sweep sentence covers the other depths."""
    by_depth = {arch: {r["depth"]: r for r in of_kind(runs, arch)} for arch in ("plain", "residual")}
    common = sorted(set(by_depth["plain"]) & set(by_depth["residual"]))
    if len(common) < 2:
        return ""
    pick = [by_depth[arch][d] for arch in ("plain", "residual") for d in (common[0], common[-1])]
    ends = {r["iterations"][-1] for r in pick}
    when = f"after {ends.pop():,} iterations" if len(ends) == 1 else "runs of different lengths"
    return f"**What these runs show** ({when}): " + verdict(pick) + " " + test_sentence(pick)


def sweep_summary(runs: list[dict[str, Any]]) -> str:
    """What the whole depth sweep shows (Fig. 6 and Table 6 for every depth stored), computed: whether plain
    training error rises at every step in depth, and how each deeper residual net ends against the shallowest
    one, in points (a deeper net that ends above it is named, beside the paper's numbers); "" when fewer than
    three depths of a kind are stored."""
    plain, res = of_kind(runs, "plain"), of_kind(runs, "residual")
    parts = []
    if len(plain) >= 3:
        errs = [final(r["train_error"]) for r in plain]
        steps = " → ".join(f"{_short(r)} {100 * e:.2f}%" for r, e in zip(plain, errs))
        rises = all(b > a for a, b in zip(errs, errs[1:]))
        parts.append(f"Plain nets, final training error: {steps} — "
                     + ("it rises at every step in depth, as in the paper's Fig. 6." if rises else
                        "it does not rise at every step here."))
    if len(res) >= 3:
        base = res[0]
        te0, tr0 = final(base["test_error"]), final(base["train_error"])
        deeper = [(r, final(r["test_error"]) - te0, final(r["train_error"]) - tr0) for r in res[1:]]
        rows = "; ".join(f"{_short(r)} {100 * (te0 + dte):.2f}% ({100 * dte:+.2f} / {100 * dtr:+.2f})"
                         for r, dte, dtr in deeper)
        parts.append(f"Residual nets, final test error, and in brackets the difference from {_short(base)} "
                     f"({100 * te0:.2f}% test, {100 * tr0:.2f}% training) in points of test / training error: "
                     f"{rows}.")
        worse_train = [_short(r) for r, _, dtr in deeper if dtr > 0]
        parts.append(f"Every deeper residual net ends with a lower training error than {_short(base)}."
                     if not worse_train else
                     f"{and_list(worse_train)} {'ends' if len(worse_train) == 1 else 'end'} with a higher "
                     f"training error than {_short(base)}: degradation.")
        above = [(r, dte) for r, dte, _ in deeper if dte > 0]
        paper = CIFAR10_TEST_ERROR["resnet"]
        if not above:
            parts.append(f"In test error every one also ends below {_short(base)}.")
        for r, dte in above:
            cite = (f" (the paper: {paper[r['depth']]}% against {paper[base['depth']]}%, Table 6)"
                    if r["depth"] in paper and base["depth"] in paper else "")
            parts.append(f"In test error {_short(r)} ends {100 * dte:.2f} points above {_short(base)}{cite}.")
        if res[-1]["depth"] > res[-2]["depth"]:
            deep, prev = res[-1], res[-2]
            gap = final(deep["test_error"]) - final(prev["test_error"])
            parts.append(f"At this schedule {_short(deep)} ends {abs(100 * gap):.2f} points "
                         f"{'below' if gap < 0 else 'above'} {_short(prev)} in test error.")
    return " ".join(parts)


def test_sentence(pick: list[dict[str, Any]]) -> str:
    """The same comparison in test error (last evaluation on the test set), beside the paper's Table 6."""
    plain_a, plain_b, res_a, res_b = pick
    te = {r["name"]: final(r["test_error"]) for r in pick}
    if any(v is None for v in te.values()):
        return ""

    def pct(r: dict[str, Any]) -> str:
        return f"{r['name']} {100 * te[r['name']]:.2f}%"

    gap = te[res_b["name"]] - te[res_a["name"]]
    text = (f"Test error ({res_a['test_images']:,} test images): {pct(plain_b)} against {pct(plain_a)}; "
            f"{pct(res_b)} against {pct(res_a)}")
    if gap < 0:
        text += f" — the deeper residual net also generalises better ({100 * gap:+.2f} points)."
    elif gap == 0:
        text += " — the deeper residual net generalises as well (the same test error)."
    else:
        text += f" — at this length the deeper residual net does not yet generalise better ({100 * gap:+.2f} points)."
    paper = CIFAR10_TEST_ERROR["resnet"]
    if res_a["depth"] in paper and res_b["depth"] in paper:
        text += (
            f" The paper, after 64k iterations: ResNet-{res_b['depth']} {paper[res_b['depth']]}% against "
            f"ResNet-{res_a['depth']} {paper[res_a['depth']]}% (Table 6)."
        )
    return text
