"""The Paper tab's words: the introduction, why F(x) + x helps, how to read a status, and each claim as a
section (its record is ``claim.Claim``)."""
from __future__ import annotations

from typing import Any

from ..base.paper import PAPER_URL
from ..experiments import noise
from .claim import GROUPS, MEANING, STATUSES, Claim
from .claims import counts

STATUS_TEXT = {"reproduced": "✔ reproduced", "partly": "◐ partly reproduced",
               "inconclusive here": "? inconclusive here", "not reproduced": "✘ not reproduced",
               "quoted": "“” quoted, not reproducible here",
               "counted": "Σ counted"}

INTRO = (
    "**What the paper found:** very deep plain networks train *worse* than shallower ones, and adding identity "
    "shortcuts — each block learns a residual F(x) and outputs F(x) + x — removes that degradation, so depth "
    "pays off again (152 layers on ImageNet, 110 on CIFAR-10).  \n"
    "**What this app lets you do:** check each claim below against this project's own measurements, then open "
    "the tab where you can explore it yourself.  \n"
    f"**Where to start:** the degradation problem (the first claim), then *Depth*. The paper: "
    f"[He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition]({PAPER_URL}). Read an article that "
    "classifies a cat photo with `resnet50(pretrained=True)`? In *Classify*, “The article's example” runs that "
    "path in one click (URL filled in, `resnet50.IMAGENET1K_V1`), and “Use it in your own code” gives today's "
    "torchvision code for it.")

def _value(v: Any, unit: str | None) -> str:
    if isinstance(v, dict):
        return "; ".join(f"{k} {_value(x, None)}" for k, x in v.items()) + (f" ({unit})" if unit else "")
    if isinstance(v, float):
        v = f"{v:,.4g}"
    elif isinstance(v, int):
        v = f"{v:,}"
    return f"{v}" + (f" ({unit})" if unit else "")


def _ours(c: Claim) -> str:
    """The "Ours" line: says in the line itself when it measures something else than the paper's."""
    if c.ours == "—":
        return "- Ours: none (not reproducible here)"
    other = c.paper_unit and c.unit and c.paper_unit != c.unit
    return f"- Ours{', a different measure' if other else ''}: {_value(c.ours, c.unit)}"


def section(n: int, c: Claim) -> str:
    paper_unit = c.paper_unit or (None if isinstance(c.paper, str) else c.unit)
    return (f"#### {n}. {c.claim}\n\n**{STATUS_TEXT[c.status]}** · {c.section}\n\n"
            f"- The paper: {_value(c.paper, paper_unit)}\n{_ours(c)}\n\n{c.why}")


def how_to_read() -> str:
    """What each status means and the noise rule, in one short paragraph and a list."""
    return ("**How to read a status.** " + noise.RULE + " A status claims no more than the paper's own words "
            "and this noise allow; our CIFAR-10 numbers come from a JPEG re-encoded copy of CIFAR-10 and a schedule "
            "a quarter of the paper's, so they sit above the paper's.\n\n"
            + "\n".join(f"- **{STATUS_TEXT[s]}**: {MEANING[s]}." for s in STATUSES))


def tally(found: list[Claim]) -> str:
    """"The paper's experiments (14): 1 reproduced, …" for every group."""
    return "  \n".join(f"{GROUPS[g]} ({sum(n.values())}): " + ", ".join(f"{k} {s}" for s, k in n.items()) + "."
                       for g, n in counts(found).items())


WHY = (
    "### Why F(x) + x helps\n"
    "Stack more layers on a good shallow net and the deeper net *could* be at least as good: the extra layers "
    "would only have to copy their input (the identity). Yet a deep **plain** net trains to a *higher* training "
    "error: in practice the solver does not find that copy. A **residual block** computes y = F(x) + x: its "
    "layers learn only the change F(x), and the shortcut carries x unchanged. To copy its input, a block now "
    "only has to push F(x) towards zero — which is easy (small weights do it) — instead of building the "
    "identity out of convolutions, BN and ReLUs. So extra blocks cost little when they are not needed, and "
    "depth can pay off again. Every claim below checks a piece of this against measurements.\n\n"
    "<details><summary>Words used in this app</summary>\n\n"
    "- **Plain net**: the same layers as the ResNet, without the shortcuts.\n"
    "- **F(x)**: the residual branch, the layers of a block (conv, BN, ReLU, conv, BN); the block outputs "
    "ReLU(F(x) + x).\n"
    "- **Options A/B/C**: where a block changes the shape, A pads the shortcut with zeros (no parameters), B uses "
    "a 1×1 convolution there only, C everywhere.\n"
    "- **Training / test error**: the share of wrong answers on the images a net learns from / has never seen.\n"
    "- **RMS**: root mean square, the typical size of a tensor's values.\n"
    "- **Noise, ±x**: how much a number would move with another test sample or another seed; ± is twice the "
    "standard error, and a difference inside it is not called.\n"
    "- **10-crop**: the paper's testing averages the answers on 10 crops of each image; torchvision's published "
    "accuracies use one centre crop.\n"
    "- **Filter-normalised direction**: a random direction in weight space, scaled filter by filter to the "
    "trained weights' size, so that the loss landscapes of two nets compare (Li et al.).\n"
    "- **Grad-CAM**: a heat map of where in the photo the network's answer came from.\n"
    "- **Lesion study**: deleting blocks from a trained net and measuring its error again (Veit et al.).\n\n"
    "</details>")
