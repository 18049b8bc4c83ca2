"""The Gradient-flow tab's sentences: what a record shows at a step, the table of every step, where a stored
record came from, and how a live run is going. Computed from the record they describe (``experiments.gradflow``)."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..base.paper import net_label
from ..base.settings import GRADFLOW_FILE
from ..base.stored import how_computed
from ..base.stored import read as read_stored
from ..experiments.gradflow import BATCH, LiveUpdate, Profile, Race, at, first_last_ratio


def factor(x: float) -> str:
    """A ratio as a reader writes it: 7,900×, 12×, 1.3×, 0.45×, 1/850×."""
    if x >= 10:
        return f"{x:,.0f}×"
    if x >= 1:
        return f"{x:.1f}×"
    if x >= 0.01:
        return f"{x:.2f}×"
    return f"1/{1 / x:,.0f}×" if x > 0 else "0×"


CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess among CIFAR-10's 10 classes
AT_CHANCE = 0.95 * CHANCE_LOSS  # a loss above this: the net has not started to learn


def _takeaway(record: dict[str, Any], step: int, ratios: dict[str, float], diverged: dict[str, bool]) -> str:
    """The take-away that leads the sentences, from the same numbers, set against the paper's claim (§4.1: with BN
    the backward gradients keep healthy, non-zero norms, so degradation is not a vanishing-gradient problem)."""
    names = {arch: net_label(arch, record["depth"]) for arch in Race.ARCHS}
    if diverged["residual"] and not diverged["plain"]:
        return (f"**Without BN, {names['residual']} diverged and {names['plain']} did not — not because residual "
                "nets train worse:** with no normalisation, each residual block adds its branch to its input, so "
                f"the signal grows block by block through {record['depth']} layers until the loss explodes at "
                f"lr {record['lr']}; in the plain net the signal shrinks layer by layer and barely reaches the "
                "output, so its loss stays near chance instead (this is why the paper uses BN).")
    if all(diverged.values()):
        return "**Both nets diverged:** neither has a gradient left to show."

    def how(r: float) -> str:
        if r == 0:
            return "is exactly 0 at the first layer: no signal reaches it"
        if r < 0.5:
            return f"is {factor(1 / r)} smaller at the first layer than at the last convolution"
        if r <= 2:
            return f"stays about the same size from the last layer to the first ({factor(r)})"
        return f"grows {factor(r)} on its way back to the first layer"

    when = "At initialisation" if step == 0 else f"After {step} SGD steps"
    text = f"**{when}, " + "; ".join(f"in {names[a]} the gradient {how(r)}" for a, r in ratios.items()) + ".**"
    i = record["steps"].index(step) if step in record["steps"] else len(record["steps"]) - 1
    stuck = [names[a] for a in ratios if i < len(record["nets"][a]["loss"])
             and record["nets"][a]["loss"][i] > AT_CHANCE]
    if step > 0 and stuck:
        text += (f" {' and '.join(stuck)} {'is' if len(stuck) == 1 else 'are'} still at chance loss (above "
                 f"{AT_CHANCE:.2f}; guessing is {CHANCE_LOSS:.2f}): not yet learning.")
    plain = ratios.get("plain")
    if record["batch_norm"] and plain is not None and plain > 0:
        if step == 0 and plain > 2:
            text += (" With BN the plain net's gradient does not vanish at initialisation: it grows toward the input "
                     "(Yang et al. 2019).")
        elif plain < 0.5:
            text += (" Smaller at the first layer is not “vanished”: the paper (§4.1) says BN keeps a plain net's "
                     "gradients at non-zero, “healthy” norms, and they are non-zero here too. Whether they are "
                     "healthy enough to train is what this short run cannot say: the paper's nets were trained to "
                     "convergence, ours for a few hundred steps.")
    return text


def describe(record: dict[str, Any], step: int) -> str:
    """Sentences computed from the record at ``step`` (what the figure shows there): a take-away, then the
    numbers behind it."""
    names = {arch: net_label(arch, record["depth"]) for arch in Race.ARCHS}
    when = "at initialisation" if step == 0 else f"after {step} SGD steps"
    bn = "With BN" if record["batch_norm"] else "Without BN"
    profiles = {arch: at(record, arch, step) for arch in Race.ARCHS}
    ratios = {arch: first_last_ratio(p.grad_rms) for arch, p in profiles.items() if p is not None}
    diverged = {arch: (d := record["nets"][arch]["diverged"]) is not None and d["step"] <= step
                for arch in Race.ARCHS}
    parts = [_takeaway(record, step, ratios, diverged)]
    if ratios:
        got = [f"**{factor(r)}** in {names[a]}" for a, r in ratios.items()]
        got[0] = got[0].replace("** in ", "** the last convolution's in ", 1)
        parts.append(f"{bn}, {when}: per value (RMS), the first layer's gradient is {' and '.join(got)}.")
    else:
        parts.append(f"{bn}, {when}: both nets had diverged; there is no gradient to show.")
    for arch in Race.ARCHS:
        d = record["nets"][arch]["diverged"]
        if diverged[arch]:
            done = record["nets"][arch]["grad_rms"]
            last = record["steps"][len(done) - 1] if done else None
            end = f"its curves end at step {last}" if last is not None else "it has no finite profile to show"
            parts.append(f"**{names[arch]} diverged at step {d['step']}**: {d['why']}; {end}.")
    return " ".join(parts)


def stored_provenance(record: dict[str, Any]) -> str:
    """Where a stored record came from: its settings, then the file's provenance with this record's wall time."""
    s = read_stored(GRADFLOW_FILE)
    text = f"Stored result (lr {record['lr']}, batch {record['batch_size']}, seed {record['seed']})"
    if s is None:
        return text + "."
    p = dataclasses.replace(s.provenance, wall_s=record.get("wall_seconds"))
    return f"{text}: computed by {p.line()}"


def steps_table(record: dict[str, Any]) -> str:
    """Loss and first/last ratio at every profiled step, both nets: what "Step shown" moves the figure through."""
    rows = ["| step | loss plain | loss ResNet | first ÷ last conv, plain | first ÷ last conv, ResNet |",
            "|---|---|---|---|---|"]
    for i, step in enumerate(record["steps"]):
        cells = []
        for key in ("loss", "ratio"):
            for arch in Race.ARCHS:
                r = record["nets"][arch]
                if i >= len(r["grad_rms"]):
                    cells.append("diverged")
                elif key == "loss":
                    cells.append(f"{r['loss'][i]:.3f}")
                else:
                    cells.append(factor(first_last_ratio(r['grad_rms'][i])))
        rows.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def summary(record: dict[str, Any], footer: str) -> str:
    """The sentences at the record's last step, the table of every step, and ``footer`` (where it came from)."""
    return f"{describe(record, record['steps'][-1])}\n\n{steps_table(record)}\n\n{footer}"


def live_note(update: LiveUpdate, seed: int) -> str:
    """Where a live run is: training (with the time left, from the measured step), or done (with how it was
    computed)."""
    record = update.record
    if update.phase == "profiled":
        return f"*Computed live in {record['seconds']} s.*"
    if update.phase == "measuring":
        return "*Training… measuring the cost of one step.*"
    if update.phase == "training":
        return (f"*Training… step {record['steps'][-1]} of {update.target}, {record['seconds']:.0f} s so far, about "
                f"{update.left_s:.0f} s left (estimated {record['estimate_s']:.0f} s in all from the measured "
                f"{update.step_s:.2f} s per step).*")
    return f"*Computed live in {record['seconds']:.1f} s.*" + how_computed(
        f"lr {record['lr']}, batch {BATCH}, seed {seed}, trained on this server; estimated "
        f"{record['estimate_s']:.0f} s after the first step.")


def imagenet_sentence(model_name: str, prof: Profile) -> str:
    """What a pretrained ImageNet net's gradient profile shows: the first layer's gradient against the last
    convolution's."""
    return (f"Pretrained {model_name}, evaluation mode: per value (RMS), the first layer gets "
            f"**{factor(first_last_ratio(prof.grad_rms))}** the gradient of the last of its {len(prof.layers) - 1} "
            "convolutions.")
