"""Deep links and the guided tour: every tab, and every section a claim points to, has a URL
(``?tab=inside&section=lesion``, ``?tab=anatomy&section=network&net=resnet152``) that opens the tab, scrolled to
that section, with the network already chosen. The Paper tab's "Explore in …" buttons and the tour's stops use
the same links, so a teacher can send a class to any view."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import gradio as gr

from ..experiments import anatomy

TABS = ("paper", "classify", "depth", "gradflow", "anatomy", "inside")
SECTIONS = {
    "paper": ("why", "claims"),
    "classify": ("classify", "stream"),
    "depth": ("stored", "sweep", "table6", "live"),
    "gradflow": ("gradients", "fig7", "shortcuts"),
    "anatomy": ("network",),
    "inside": ("lesion", "landscape", "ratios"),
}


@dataclass(frozen=True)
class Link:
    tab: str
    section: str | None = None
    net: str | None = None  # the Anatomy tab's network

    def url(self) -> str:
        """The query string of this view: "?tab=anatomy&section=network&net=resnet152"."""
        q = {"tab": self.tab, **({"section": self.section} if self.section else {}),
             **({"net": self.net} if self.net else {})}
        return "?" + urlencode(q)


def elem_id(tab: str, section: str) -> str:
    """The id of the element a link scrolls to (its heading's block)."""
    return f"sec-{tab}-{section}"


def parse(params: Mapping[str, str]) -> Link:
    """The view a URL's query asks for; anything unknown falls back to the Paper tab (never an error)."""
    tab = params.get("tab")
    if tab not in TABS:
        return Link("paper")
    section = params.get("section")
    net = params.get("net")
    return Link(tab, section if section in SECTIONS[tab] else None,
                net if tab == "anatomy" and net in anatomy.network_names() else None)


# Where each claim of the Paper tab is explored (claims.claims() ids).
CLAIMS = {
    "degradation": Link("depth", "stored"), "fig4": Link("depth", "stored"),
    "no-degradation": Link("depth", "sweep"), "table6": Link("depth", "table6"), "resnet1202": Link("depth", "table6"),
    "small-f": Link("inside", "ratios"), "lesion": Link("inside", "lesion"), "landscape": Link("inside", "landscape"),
    "identity-free": Link("anatomy", "network", "resnet34-A"), "table3": Link("anatomy", "network", "resnet34"),
    "cheaper-than-vgg": Link("anatomy", "network", "resnet152"),
    "bottleneck": Link("anatomy", "network", "resnet50"),
    "imagenet-18-34": Link("classify", "classify"), "imagenet-deeper": Link("classify", "classify"),
    "ilsvrc": Link("classify", "classify"), "detection": Link("classify", "classify"),
    "no-vanishing": Link("gradflow", "gradients"), "fig7": Link("gradflow", "fig7"),
    **{c: Link("gradflow", "shortcuts") for c in ("identity-shortcut", "direct-path", "activation-order",
                                                   "full-preact")},
}


@dataclass(frozen=True)
class Stop:
    title: str
    question: str
    link: Link


TOUR = (
    Stop("The degradation problem", "Why would a deeper plain net end with a *higher training* error — not just a "
         "higher test error — than a shallower one?", Link("paper", "why")),
    Stop("y = F(x) + x, drawn", "A block adds its input x back to what its layers compute. How many parameters "
         "does that shortcut cost? (Compare ResNet-34 with plain-34.)", Link("anatomy", "network", "resnet34-A")),
    Stop("The depth sweep", "Which nets get worse as they get deeper, and which differences are beyond noise?",
         Link("depth", "stored")),
    Stop("Train it yourself", "Press “Train live”: does your one-minute run show the plain nets degrading? What does "
         "the verdict say about the residual pair?", Link("depth", "live")),
    Stop("Gradients", "Does the plain net's gradient vanish? Compare step 0 with step 400, and read the loss.",
         Link("gradflow", "gradients")),
    Stop("Block by block on a photo", "Open “Block by block”: what does each residual block add to the photo, and "
         "what happens to the answer when one block is deleted?", Link("classify", "stream")),
    Stop("The lesion study", "Delete one block from a trained ResNet and from its plain twin: which one breaks?",
         Link("inside", "lesion")),
)


def tour_text(i: int) -> str:
    stop = TOUR[i]
    return f"**Guided tour, stop {i + 1} of {len(TOUR)}: {stop.title}.** {stop.question}"


# After the tab has switched: put the view's URL in the address bar (so it can be copied and shared), then scroll
# the section it names to the top of the window, retrying while Gradio renders the tab, and once more when the
# page's first results have been laid out. The section lands just under the tour bar (sticky at the top), and a
# section near the end of its tab gets room below it (the tab's bottom padding), so that it can reach the top too.
NAVIGATE_JS = """
(url) => {
  if (!url) return;
  if (url !== window.location.search) window.history.pushState(null, '', url);
  const q = new URLSearchParams(url);
  const tab = q.get('tab'), section = q.get('section');
  const id = tab && section ? `sec-${tab}-${section}` : null;
  let tries = 0;
  const place = (el) => {
    const panel = el.closest('.tabitem') || el.closest('[role=tabpanel]');
    if (panel) panel.style.paddingBottom = `${window.innerHeight}px`;
    el.style.scrollMarginTop = `${(document.getElementById('tour')?.offsetHeight || 0) + 8}px`;  // under the tour bar
    el.scrollIntoView({block: 'start'});
  };
  const go = () => {
    const el = id ? document.getElementById(id) : document.querySelector('.tabs');
    if (el && el.offsetParent !== null) {
      place(el);
      for (const ms of [400, 1200]) setTimeout(() => {
        const want = parseFloat(el.style.scrollMarginTop) || 0;
        if (window.location.search === url && Math.abs(el.getBoundingClientRect().top - want) > 4) place(el);
      }, ms);
    } else if (tries++ < 50) setTimeout(go, 100);
  };
  setTimeout(go, 50);
}
"""


def view(link: Link) -> tuple:
    """The updates that open ``link``: the tab, the Anatomy network (when it names one), the Classify tab's
    "Block by block" accordion (opened when it is the section), and the URL for ``NAVIGATE_JS``."""
    return (gr.Tabs(selected=link.tab), gr.update(value=link.net) if link.net else gr.skip(),
            gr.Accordion(open=True) if link.section == "stream" else gr.skip(), link.url())


def route(request: gr.Request | None = None) -> tuple:
    """The page load: open the view the URL's query names (nothing to do without one)."""
    params = dict(request.query_params) if request is not None else {}
    if "tab" not in params:
        return gr.skip(), gr.skip(), gr.skip(), ""
    return view(parse(params))


def tour_step(i: float | None, step: int) -> tuple:
    """Back (-1) or Next (+1) from stop ``i`` (-1: not started): the new stop, its text, the buttons' states, and
    the view it opens."""
    j = max(0, min(len(TOUR) - 1, int(i if i is not None else -1) + step))
    return (j, tour_text(j), gr.update(interactive=j > 0), gr.update(interactive=j < len(TOUR) - 1,
                                                                      value="Next →"), *view(TOUR[j].link))
