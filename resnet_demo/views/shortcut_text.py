"""The shortcut lab's sentences and table: what each variant's gradient profile shows, beside the closed form."""
from __future__ import annotations

from typing import Any

from ..base.paper import IDENTITY_TABLE1, IDENTITY_TABLE2
from ..experiments.noise import diff
from ..experiments.shortcut_lab import VARIANTS, stored, stored_training, trained
from ..nets.runs import final
from .gradflow_text import factor


def _sci(x: float) -> str:
    return f"{x:.2g}" if 1e-3 <= x < 1e4 else f"{x:.1e}"


def _share(x: float) -> str:
    return "0 (no path along the shortcuts stays open)" if x == 0 else _sci(x)


def _closed_form(p: dict[str, Any]) -> str:
    cf = p["closed_form"]
    if cf is None:
        return "no closed form: it depends on learned weights or a random mask"
    if cf == 1:
        return "closed form 1"
    return f"closed form λ^{p['units']} = {_sci(cf)}"


def sentence(p: dict[str, Any]) -> str:
    """One profile in words: what reaches the first unit along the shortcuts alone (the paper's direct term)
    beside its closed form, then through every path."""
    v = VARIANTS[p["variant"]]
    whens = ["at initialisation" if s == 0 else f"after {s} SGD steps" for s in p["steps"]]
    direct = "; ".join(f"{w} **{_share(r)}**" for w, r in zip(whens, p.get("direct_ratio") or []))
    total = "; ".join(f"{w} **{factor(r)}** (loss {loss:.2f})" for w, r, loss in zip(whens, p["ratio"], p["loss"]))
    text = f"**{v.label}** (depth {p['depth']}, {p['units']} units). "
    if direct:
        text += (f"Along the shortcuts alone, the first unit receives {direct} of the last unit's gradient "
                 f"({_closed_form(p)}). ")
    text += f"Through every path, weight layers included: {total}."
    if p["steps"] and p["steps"][0] == 0 and p["ratio"][0] > 1:
        text += " Above 1 at initialisation: there the gradient grows on its way back to the input; it does not fade."
    if p["diverged"]:
        text += f" It diverged at step {p['diverged']['step']}."
    return text


def _index(p: dict[str, Any], step: int) -> int | None:
    return p["steps"].index(step) if step in p["steps"] else None


def table(profiles: list[dict[str, Any]]) -> str:
    longest = max((p["steps"] for p in profiles), key=len)
    rows = ["| variant | units | closed form | " + " | ".join(
        f"shortcuts alone, step {s} | every path, step {s}" for s in longest) + " |",
        "|---|---|---|" + "---|---|" * len(longest)]
    for p in profiles:
        cf = "—" if p["closed_form"] is None else _sci(p["closed_form"])
        cells = [f"{_sci(p['direct_ratio'][i])} | {_sci(p['ratio'][i])}" if (i := _index(p, s)) is not None
                 else "diverged | diverged" for s in longest]
        rows.append(f"| {VARIANTS[p['variant']].label} | {p['units']} | {cf} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def summary(profiles: list[dict[str, Any]]) -> str:
    """The sentences, the table, and how to read the two measurements against the paper."""
    return ("\n\n".join(sentence(p) for p in profiles) + "\n\n" + table(profiles)
            + "\n\nEach number is the gradient at the first unit's input over the one at the last unit's output "
            "(RMS per value). *Shortcuts alone* is the first term of He et al. 2016's Eqn. 5 and 8: the backward "
            "pass skips every residual branch (and gate), so only the shortcut and what follows the addition carry "
            "the gradient. Its closed form assumes nothing after the addition and one feature-map size; here the "
            "original unit's ReLU zeroes the gradient wherever a sum was negative, and option A's two downsampling "
            "units pass back only the pixels and channels they keep, so even the identity's share is below 1. "
            "Within one feature-map size and with nothing after the addition, the app measures exactly 1 for the "
            "identity and λ^k for scaling (tested). *Every path* adds the weight layers: where a shortcut blocks "
            "the signal, the paper says it is “forced to flow through the weight layers” (§3), and its claim is that "
            "this makes optimisation harder, not that the total gradient vanishes: compare the two columns. Each "
            "profile is one net from one seed on one batch; orders of magnitude are "
            "read from it, smaller differences are not.")


def provenance(computed: list[str]) -> str:
    """Where the profiles came from: the stored file, and which (if any) were computed for this request."""
    s, tr = stored(), stored_training()
    text = f"Stored profiles: computed by {s.provenance.line()}" if s else "No stored profiles in this copy of the app."
    if tr:
        text += f" Training over seeds: {tr.provenance.line()}"
    if computed:
        text += f" Computed now on this server: {', '.join(computed)}."
    return (text + " Each net is built from seed 0, trained with SGD (lr 0.1, momentum 0.9, batch 64) on the bundled "
            "CIFAR-10 subset, and profiled on one fixed batch of 64 test images with BN on the batch's own statistics.")


def training_table(results: list) -> str:
    """The variants trained at the live scale over seeds: mean ± s.d., and each one's training error against the
    identity's by the app's noise rule."""
    if not results:
        return "*No stored training of the variants yet: `python -m scripts.shortcut_training`.*"

    def cell(mean, sd) -> str:
        return "—" if mean is None else f"{mean:.1f}%" + (f" ± {sd:.1f}" if sd is not None else "")

    paper = {**IDENTITY_TABLE1["error"], **IDENTITY_TABLE2["error"]}

    def cited(key: str) -> str:
        e = paper.get(key)
        return "—" if e is None else e if isinstance(e, str) else f"{e:.2f}%"

    rows = ["| variant | seeds (diverged) | final training error | final test error | training error vs identity | "
            "the paper: ResNet-110 test error |", "|---|---|---|---|---|---|"]
    for r in results:
        vs = "—" if r.vs_identity is None else r.vs_identity.text()
        rows.append(f"| {VARIANTS[r.key].label} | {r.seeds} ({r.diverged}) | {cell(r.train_mean, r.train_sd)} | "
                    f"{cell(r.test_mean, r.test_sd)} | {vs} | {cited(r.key)} |")
    return ("\n".join(rows) + "\n\nTrained at the live demo's scale (its default preset: depth 56, width 8, 16×16 "
            "inputs, 250 iterations on the bundled 5,000-image subset of a JPEG re-encoded copy of CIFAR-10), far "
            "from the paper's ResNet-110 trained to convergence on CIFAR-10, whose test errors (median of 5 runs; "
            "“fail”: above 20%; He et al. 2016, Tables 1 and 2) stand in the last column for the order, not the "
            "size: ± is the s.d. over seeds, and a difference is called only beyond twice its noise (the standard "
            "error of the difference of the means).")


def _final(run: dict[str, Any]) -> float | None:
    """A live run's last training error on its fixed sample of training images, in %."""
    measured = final(run.get("train_error_measured") or [])
    return 100 * measured if measured is not None and not run.get("diverged") else None


def live_verdict(runs: list[dict[str, Any]], keys: list[str], finished: bool) -> str:
    """Each variant's final training error against the identity's (or the first chosen's), called by the noise
    rule: one run each, so the noise of a difference is the two variants' seed-to-seed s.d. (stored: five seeds
    of exactly this setting) added in quadrature."""
    if not finished:
        return "**Verdict:** none: the run ended before its last iteration, and the stored spread is for full runs."
    spread = {r.key: r.train_sd for r in trained()}
    base = "identity" if "identity" in keys else keys[0]
    finals = dict(zip(keys, (_final(r) for r in runs)))
    lines, shown = [], 0
    for key in keys:
        if key == base:
            continue
        a, b = finals[key], finals[base]
        if a is None or b is None:
            lines.append(f"- {VARIANTS[key].label}: no final training error (a net diverged).")
            continue
        sds = [spread.get(k) for k in (key, base)]
        if None in sds:
            lines.append(f"- {VARIANTS[key].label}: {a:.1f}% against {b:.1f}% ({a - b:+.1f} points); its seed spread "
                         "is not stored, so no difference is called.")
            continue
        d = diff(a - b, ("seeds", (sds[0] ** 2 + sds[1] ** 2) ** 0.5))
        shown += d.sign > 0
        lines.append(f"- {VARIANTS[key].label}: {a:.1f}% against {b:.1f}%, {d.text()}.")
    if not lines:
        return f"**Final training error:** {VARIANTS[base].label} {finals[base]:.1f}%. Pick two or more to compare."
    head = f"**Verdict** (final training error on 1,000 training images, against {VARIANTS[base].label}):"
    tail = ""
    if base == "identity":
        tail = (f"\n\nThe identity trained best beyond noise against {shown} of {len(lines)} "
                f"variant{'s' * (len(lines) != 1)} in this run")
        tail += "." if shown == len(lines) else (": the others are within noise of it, or ahead, this time (the "
                                                 "stored table above holds five seeds of each).")
    return head + "\n" + "\n".join(lines) + tail + (
        "\n\nNoise: each variant's seed-to-seed s.d. at this setting (five stored seeds), combined for two single "
        "runs; a difference is called only beyond twice it.")
