"""The shortcut lab's sentences and table: what each variant's gradient profile shows, beside the closed form."""
from __future__ import annotations

from typing import Any

from ..experiments.shortcut_lab import VARIANTS, stored, stored_training
from .gradflow_text import factor


def _sci(x: float) -> str:
    return f"{x:.2g}" if 1e-3 <= x < 1e4 else f"{x:.1e}"


def sentence(p: dict[str, Any]) -> str:
    """"With λ = 0.5 over 27 units the first unit receives 2.1e-8 of the last unit's gradient by the shortcut
    path alone; measured: …" for one profile."""
    v = VARIANTS[p["variant"]]
    parts = []
    for step, ratio in zip(p["steps"], p["ratio"]):
        when = "at initialisation" if step == 0 else f"after {step} SGD steps"
        parts.append(f"{when} **{factor(ratio)}** (loss {p['loss'][p['steps'].index(step)]:.2f})")
    text = (f"**{v.label}** (depth {p['depth']}, {p['units']} units): the gradient at the first unit's input is "
            + "; ".join(parts) + " the last unit's.")
    cf = p["closed_form"]
    if cf is not None:
        text += (" The shortcut path alone passes it on unchanged (×1)." if cf == 1 else
                 f" The shortcut path alone multiplies it by **{_sci(cf)}** over {p['units']} units (λ^{p['units']}, "
                 "λ = 0.5).")
    else:
        text += " What the shortcut path multiplies it by depends on learned weights or a random mask: no closed form."
    if p["diverged"]:
        text += f" It diverged at step {p['diverged']['step']}."
    return text


def _index(p: dict[str, Any], step: int) -> int | None:
    return p["steps"].index(step) if step in p["steps"] else None


def table(profiles: list[dict[str, Any]]) -> str:
    longest = max((p["steps"] for p in profiles), key=len)
    rows = ["| variant | units | closed form (shortcut path) | " + " | ".join(
        f"first ÷ last, step {s} | first unit's gradient, step {s}" for s in longest) + " |",
        "|---|---|---|" + "---|---|" * len(longest)]
    for p in profiles:
        cf = "—" if p["closed_form"] is None else _sci(p["closed_form"])
        cells = [f"{_sci(p['ratio'][i])} | {_sci(p['grads'][i][0])}" if (i := _index(p, s)) is not None
                 else "diverged | diverged" for s in longest]
        rows.append(f"| {VARIANTS[p['variant']].label} | {p['units']} | {cf} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def summary(profiles: list[dict[str, Any]]) -> str:
    """The sentences, the table, and what BN does to the comparison."""
    return ("\n\n".join(sentence(p) for p in profiles) + "\n\n" + table(profiles)
            + "\n\n“First ÷ last” is the gradient at the first unit's input over the one at the last unit's "
            "output; “first unit's gradient” is its RMS per value. Read them against the closed form: the closed "
            "form is the direct path through the shortcuts only, while the measured gradient also flows through "
            "every residual branch, and BN after each convolution rescales what it receives. He et al. 2016 (§3) "
            "argue from the closed form; the measurement says how much of it survives in a real net at this depth. "
            "Each profile is one net from one seed on one batch: the spread between seeds is not measured, so no "
            "variant's gradient is called larger or smaller than another's here.")


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

    rows = ["| variant | seeds (diverged) | final training error | final test error | training error vs identity |",
            "|---|---|---|---|---|"]
    for r in results:
        vs = "—" if r.vs_identity is None else r.vs_identity.text()
        rows.append(f"| {VARIANTS[r.key].label} | {r.seeds} ({r.diverged}) | {cell(r.train_mean, r.train_sd)} | "
                    f"{cell(r.test_mean, r.test_sd)} | {vs} |")
    return ("\n".join(rows) + "\n\nTrained at the live demo's scale (its default preset: depth 56, width 8, 16×16 "
            "inputs, 250 iterations on the bundled 5,000-image subset), far from the paper's ResNet-110 trained to "
            "convergence on CIFAR-10: ± is the s.d. over seeds, and a difference is called only beyond twice its "
            "noise (the standard error of the difference of the means).")
