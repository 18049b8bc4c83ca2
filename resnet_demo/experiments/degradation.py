"""The degradation problem in numbers: what four runs (plain and residual, shallow and deep) show, as
sentences computed from their errors, and the stored runs beside the paper's Table 6. Used by the Depth
tab for the stored runs and for live runs alike."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

from ..base.paper import CIFAR10_TEST_ERROR, net_label
from ..nets.cifar import checkpoint_stem, cifar_net, count_params
from ..nets.runs import and_list, final, milestones_text, of_kind, warmup_text
from . import anatomy
from .noise import Diff, Noise, binomial_sigma, diff, spread, train_error_images
from .noise import stored as noise_stored


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


JPEG_DATA = ("a JPEG re-encoded copy of CIFAR-10's 50,000 training and 10,000 test images, not the original the paper "
             "used (a ResNet-20 trained on the original, 8.3% error there, scores about 19% on this copy)")
CHANCE = 0.9          # training error of guessing among CIFAR-10's 10 classes
LEARNED_BELOW = 0.8   # a net has learned something once its training error is this far below chance
FAR_FROM_TRAINED = 0.5  # above this training error a net is early in training: the verdict says so


def _gap(deep: dict[str, Any], shallow: dict[str, Any], seed_sd: float | None) -> Diff:
    """The final training-error gap in points with its noise: the sampling of both errors, and the seed-to-seed
    s.d. of this gap where it was measured for the setting."""
    a, b = final_train_error(shallow), final_train_error(deep)
    sampling = math.hypot(binomial_sigma(a, train_error_images(shallow)), binomial_sigma(b, train_error_images(deep)))
    return diff(100 * (b - a), ("sampling", sampling), ("seeds", seed_sd))


def verdict(runs: list[dict[str, Any]], noise: dict[str, float] | None = None) -> str:
    """A sentence computed from the four runs' final training errors (never a canned conclusion), by the app's
    noise rule (``noise``): a gap is called only beyond twice its noise, the sampling of the two errors and, where
    measured for this setting, ``noise`` (the seed-to-seed s.d. of that gap, points). None before the shallow nets
    have learned something; it says when the nets are still far from trained, and when the paper's residual
    result did not appear."""
    ps, pd, rs, rd = runs
    if any(final_train_error(r) is None for r in runs):
        return "Too early for a verdict: no training error has been measured yet."
    errors = ", ".join(f"{_short(r)} {100 * final_train_error(r):.0f}%" for r in runs)
    if min(final_train_error(ps), final_train_error(rs)) > LEARNED_BELOW:
        its = max(r["iterations"][-1] for r in runs)
        return (f"Too early for a verdict: after {its:,} iterations the nets have not learned yet ({errors} "
                f"training error; guessing is {100 * CHANCE:.0f}%).")
    noise = noise or {}
    plain = _gap(pd, ps, noise.get("plain_gap"))
    res = _gap(rd, rs, noise.get("residual_gap"))
    adv = _gap(pd, rd, noise.get("residual_advantage"))  # plain-deep minus residual-deep

    def said(d: Diff, deep: dict, shallow: dict) -> str:
        if not d.called:
            return f"{_short(deep)} and {_short(shallow)} are within noise of each other ({d.text()})"
        return (f"{_short(deep)} ended {abs(d.value):.1f} points {'above' if d.value > 0 else 'below'} "
                f"{_short(shallow)} (noise ±{d.margin:.1f})")

    text = said(plain, pd, ps)
    if plain.called:
        text += (": degradation, the deeper plain net trains worse" if plain.value > 0
                 else ": no degradation in this run")
    text += "; " + said(res, rd, rs)
    if res.sign > 0:
        text += (": the paper's residual result, the deeper net training at least as well, did not appear in this "
                 "run")
    elif res.sign < 0:
        text += ": the deeper residual net trains better, as in the paper"
    if adv.called:
        tail = (f"{_short(rd)} is {abs(adv.value):.1f} points {'below' if adv.value > 0 else 'above'} {_short(pd)}"
                f" at the same depth and iteration (noise ±{adv.margin:.1f}).")
    else:
        tail = f"At the same depth, {_short(rd)} and {_short(pd)} are within noise ({adv.text()})."
    if max(final_train_error(r) for r in runs) > FAR_FROM_TRAINED:
        tail += (f" The nets are still early in training ({errors} training error; guessing is "
                 f"{100 * CHANCE:.0f}%): the paper's curves end after 64,000 iterations.")
    measured = all(final(r.get("train_error_measured") or []) is not None for r in runs)  # none if stopped early
    how = (f" (measured on {train_error_images(runs[0]):,} training images at the end: the markers)" if measured
           else " (mean of the last batches)")
    seeds = "" if noise else " The seed-to-seed spread is not measured for this setting: the noise is sampling only."
    return f"Training error{how}: {text}. {tail}{seeds}"


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


@dataclasses.dataclass(frozen=True)
class ResultRow:
    """One stored run beside the paper's Table 6: its final errors (``noise.single``: seed 0's, the run the curves
    show, with its noise), the spread over seeds where extra seeds are stored, and the paper's number."""
    name: str
    params: int
    iterations: int
    train: Diff | None
    test: Diff | None
    seeds: dict[str, Any] | None   # spread(...) of the test error over the stored seeds
    paper: float | None            # the paper's test error (%), residual nets of Table 6 only
    test_images: int | None


def results_rows(runs: list[dict[str, Any]], noise: Noise | None = None) -> list[ResultRow]:
    noise = noise or Noise(runs)
    paper = CIFAR10_TEST_ERROR["resnet"]
    rows = []
    for r in runs:
        label = _short(r)
        train, test = (noise.single(label, key) if final(r[key]) is not None else None
                       for key in ("train_error", "test_error"))
        seeds = spread(noise.groups[label], "test_error") if noise.seeds(label) > 1 else None
        theirs = paper.get(r["depth"]) if r["arch"] == "residual" else None
        rows.append(ResultRow(r["name"], params(r), r["iterations"][-1], train, test, seeds, theirs,
                              r.get("test_images")))
    return rows


def results_table(runs: list[dict[str, Any]], noise: Noise | None = None) -> str:
    """Our runs beside the paper's Table 6 (``results_rows``): each error with ± twice its noise, and the seed
    spread where extra seeds are stored."""
    rows = results_rows(runs, noise)
    tested = sorted({r.test_images for r in rows if r.test_images})
    on = f", {tested[0]:,} JPEG test images" if len(tested) == 1 else ""
    seeded = any(r.seeds for r in rows)
    lines = [f"| run | params | our iterations | final training error | final test error{on} "
             + ("| test error over seeds " if seeded else "")
             + "| the paper's test error (64k iterations, original CIFAR-10) |",
             "|---|---|---|---|---|" + ("---|" if seeded else "") + "---|"]
    for r in rows:
        cells = ["—" if d is None else f"{d.value:.2f}% ± {d.margin:.2f}" for d in (r.train, r.test)]
        if seeded:
            sp = r.seeds
            cells.append(f"{sp['mean']:.2f}% ± {sp['sd']:.2f} s.d., {len(sp['values'])} seeds"
                         if sp and sp["sd"] is not None else "one seed")
        theirs = f"{r.paper}%" if r.paper is not None else "— (plotted in Fig. 6 only)"
        lines.append(f"| {r.name} | {r.params / 1e6:.2f} M | {r.iterations:,} | " + " | ".join(cells)
                     + f" | {theirs} |")
    return ("\n".join(lines) + "\n\n± is twice the standard error (the noise rule: the Paper tab says how it is "
            "measured). Our test set is the JPEG re-encoded copy of CIFAR-10, not the paper's: the columns differ "
            "in data, schedule and seeds, and how the gap splits between them is not measured.")


def results_csv(runs: list[dict[str, Any]], noise: Noise | None = None) -> str:
    """The table beside the paper's as CSV (``results_rows``): errors in %, each with ± twice its noise."""
    lines = ["run,params,iterations,train_error_pct,train_error_pm,test_error_pct,test_error_pm,test_images,"
             "paper_test_error_pct"]
    for r in results_rows(runs, noise):
        cells = [c for d in (r.train, r.test)
                 for c in (("", "") if d is None else (f"{d.value:.2f}", f"{d.margin:.2f}"))]
        theirs = "" if r.paper is None else r.paper
        lines.append(f"{r.name},{r.params},{r.iterations},{','.join(cells)},{r.test_images or ''},{theirs}")
    return "\n".join(lines) + "\n"


def results_provenance(runs: list[dict[str, Any]], noise: Noise | None = None) -> str:
    """How the stored runs were made (recipe, data, machine, wall time), how their noise was measured, and where
    the paper's column is from."""
    noise = noise or Noise(runs)
    notes = sorted({r.get("note", "") for r in runs} - {""})
    datasets = sorted({r["dataset"] for r in runs})
    recipe = runs[0].get("recipe", {}) if runs else {}
    text = (
        f"Trained by this project with `python -m resnet_demo.nets.train` (commands in each run's JSON, "
        f"`assets/runs/`) on {', '.join(datasets)}: {JPEG_DATA}; SGD lr {recipe.get('lr')}, momentum "
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
        "training batches (augmented, training mode); the paper does not say how it smoothed its curves. "
    )
    text += noise.sources_text()
    answers = noise_stored()
    if answers:
        text += (" The paired test-set noise uses each kept checkpoint's answers on the 10,000 test images, "
                 f"computed by {answers.provenance.line()}")
    rows = ["| run | device | wall time |", "|---|---|---|"]
    rows += [f"| {r['name']} | {r['device']} | {r['wall_seconds'] / 60:.0f} min |" for r in runs]
    return (text + "\n\n" + "\n".join(rows) + "\n\nWall time is as each run recorded it, including time its machine "
            "shared with other work, so it does not compare the nets' speed (the machines: docs/methods.md).")


def _stored_noise(noise: Noise) -> dict[str, float]:
    """The seed-to-seed s.d. of a training-error gap between two stored runs, where the seed runs measure it."""
    sd = noise.seed_sd["train_error"]
    return {} if sd is None else dict.fromkeys(("plain_gap", "residual_gap", "residual_advantage"), math.sqrt(2) * sd)


def stored_summary(runs: list[dict[str, Any]], noise: Noise | None = None) -> str:
    """What the stored runs show, computed from their final training errors (same wording as live): the
    shallowest and the deepest depth stored for both kinds (20 and 56; ResNet-110 has no plain twin, and the
    verdict compares nets "at the same depth"); the sweep sentence covers the other depths."""
    noise = noise or Noise(runs)
    by_depth = {arch: {r["depth"]: r for r in of_kind(runs, arch)} for arch in ("plain", "residual")}
    common = sorted(set(by_depth["plain"]) & set(by_depth["residual"]))
    if len(common) < 2:
        return ""
    pick = [by_depth[arch][d] for arch in ("plain", "residual") for d in (common[0], common[-1])]
    ends = {r["iterations"][-1] for r in pick}
    when = f"after {ends.pop():,} iterations" if len(ends) == 1 else "runs of different lengths"
    seeds = {r.get("seed", 0) for r in pick}
    drawn = f"the seed-{seeds.pop()} runs drawn above, " if len(seeds) == 1 else ""
    return (f"**What these runs show** ({drawn}{when}): " + verdict(pick, _stored_noise(noise)) + " "
            + test_sentence(pick, noise))


def sweep_summary(runs: list[dict[str, Any]], noise: Noise | None = None) -> str:
    """What the whole depth sweep shows (Fig. 6 and Table 6 for every depth stored), by the noise rule: each step
    in depth of the plain nets' training error, and each deeper residual net against the shallowest in test and
    training error; "" when fewer than three depths of a kind are stored."""
    noise = noise or Noise(runs)
    plain, res = of_kind(runs, "plain"), of_kind(runs, "residual")
    parts = []
    if len(plain) >= 3:
        steps = noise.steps([_short(r) for r in plain], "train_error")
        flat = [f"{a} → {b}" for a, b, d in steps if d.sign <= 0]
        parts.append("Plain nets, final training error step by step: "
                     + "; ".join(f"{a} → {b} {d.text()}" for a, b, d in steps) + " — "
                     + ("higher at every step beyond noise, as in the paper's Fig. 6." if not flat else
                        f"higher beyond noise except at {and_list(flat)}."))
    if len(res) >= 3:
        base = _short(res[0])
        test = {_short(r): noise.compare(base, _short(r), "test_error") for r in res[1:]}
        rows = [f"| {n} | {te.text()} | {noise.compare(base, n, 'train_error').text()} |" for n, te in test.items()]
        parts.append(f"\n\nEach deeper residual net against {base}:\n\n| net | test error | training error |\n"
                     "|---|---|---|\n" + "\n".join(rows))
        worse = [n for n, te in test.items() if te.sign > 0]
        better = [n for n, te in test.items() if te.sign < 0]
        parts.append("\n\nIn test error " + (f"{and_list(better)} {'is' if len(better) == 1 else 'are'} below "
                                               f"{base} beyond noise" if better else f"no deeper net is below {base} "
                                               "beyond noise")
                     + (f"; {and_list(worse)} above it" if worse else "")
                     + "; the others are within noise of it. The paper's Table 6 has every deeper net below "
                       "ResNet-20, with a longer schedule on the original images.")
    return " ".join(parts)


def test_sentence(pick: list[dict[str, Any]], noise: Noise) -> str:
    """The same comparison in test error (last evaluation on the test set) by the noise rule, beside the paper's
    Table 6."""
    plain_a, plain_b, res_a, res_b = pick
    if any(final(r["test_error"]) is None for r in pick):
        return ""

    def pct(r: dict[str, Any]) -> str:
        return f"{_short(r)} {100 * final(r['test_error']):.2f}%"

    text = (f"Test error ({res_a['test_images']:,} test images of the JPEG copy): {pct(plain_b)} against "
            f"{pct(plain_a)}, {noise.compare(_short(plain_a), _short(plain_b), 'test_error').text()}; "
            f"{pct(res_b)} against {pct(res_a)}, "
            f"{noise.compare(_short(res_a), _short(res_b), 'test_error').text()}.")
    paper = CIFAR10_TEST_ERROR["resnet"]
    if res_a["depth"] in paper and res_b["depth"] in paper:
        text += (
            f" The paper, after 64k iterations on the original images: ResNet-{res_b['depth']} "
            f"{paper[res_b['depth']]}% against ResNet-{res_a['depth']} {paper[res_a['depth']]}% (Table 6)."
        )
    return text
