"""The Anatomy tab's pictures and tables: one block drawn (Fig. 2 / Fig. 5), the stack block by block, Table 1
counted from the modules, the shortcut options, and the paper's comparisons, as HTML and Markdown from
``experiments.anatomy``'s counts."""
from __future__ import annotations

import html

from ..base import paper
from ..experiments import anatomy

BOX = "border:1px solid #bbb;border-radius:6px;padding:4px 8px;margin:3px;font-size:13px;background:#fafafa;"
# the app's colour language (plots.LEGEND): blue = residual (identity), orange-red = plain (no shortcut); the two
# shortcut options that change the shape in colours of their own; every colour >= 4.5:1 on the light boxes
SHORTCUT_COLOURS = {"identity": "#0072B2", "projection": "#8A5A00", "zero-padding": "#007A5A", "none": "#B94B07"}


def _m(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 100_000 else f"{n:,}"


def _g(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f} G"
    return f"{n / 1e6:.1f} M" if n >= 100_000 else f"{n:,}"


def _shape(shape: list[int]) -> str:
    return "×".join(map(str, shape))


ARROW = "<div aria-hidden='true' style='margin-left:12px;color:#555'>↓</div>"  # between blocks, in reading order


def _plain_name(stage: anatomy.Stage, index: int, count: int) -> str:
    """A block's name as Table 1 counts it: "conv2_x, block 1 of 3" (the CIFAR nets: "stage 1, block 1 of 3"),
    counting the stage's blocks only (not the max pool that opens conv2_x)."""
    return f"{stage.name}, block {index + 1} of {count}"


def block_figure(a: anatomy.Anatomy) -> str:
    """The paper's Fig. 2 for the selected network, drawn from its modules: the first block whose shortcut changes
    nothing (or, in a plain net, its first block): x → weight layers → ⊕ ← shortcut, then ReLU. SVG with a text
    alternative."""
    blocks = [b for st in a.stages for b in st.blocks if b.shortcut not in ("—",)]
    if not blocks:
        return ""
    block = next((b for b in blocks if b.shortcut in ("identity", "none (plain)")), blocks[0])
    convs = [layer.what for layer in block.layers if "conv" in layer.what and ".shortcut" not in layer.name
             and ".downsample" not in layer.name]
    residual = not block.shortcut.startswith("none")
    colour = SHORTCUT_COLOURS["identity" if residual else "none"]
    h_box, gap, x0, w = 34, 30, 60, 220
    y = 40
    parts = [f"<text x='{x0 + w / 2}' y='22' text-anchor='middle' font-size='15'>x (the block's input)</text>"]
    for i, what in enumerate(convs):
        parts.append(f"<line x1='{x0 + w / 2}' y1='{y - gap + 8 if i else 28}' x2='{x0 + w / 2}' y2='{y}' "
                     "stroke='#333' stroke-width='1.5' marker-end='url(#arrow)'/>")
        parts.append(f"<rect x='{x0}' y='{y}' width='{w}' height='{h_box}' rx='5' fill='#f4f4f4' stroke='#333'/>"
                     f"<text x='{x0 + w / 2}' y='{y + 22}' text-anchor='middle' font-size='14'>"
                     f"{html.escape(what)}</text>")
        after = "BN, ReLU" if i < len(convs) - 1 else "BN"
        parts.append(f"<text x='{x0 + w + 8}' y='{y + 22}' font-size='13' fill='#444'>{after}</text>")
        y += h_box + gap
    if residual:
        cy = y + 6
        parts.append(f"<line x1='{x0 + w / 2}' y1='{y - gap}' x2='{x0 + w / 2}' y2='{cy - 12}' stroke='#333' "
                     "stroke-width='1.5' marker-end='url(#arrow)'/>")
        parts.append(f"<circle cx='{x0 + w / 2}' cy='{cy}' r='12' fill='white' stroke='{colour}' stroke-width='2'/>"
                     f"<text x='{x0 + w / 2}' y='{cy + 6}' text-anchor='middle' font-size='18' fill='{colour}'>+"
                     "</text>")
        sx = x0 + w + 80
        parts.append(f"<path d='M {x0 + w + 20} 18 H {sx} V {cy} H {x0 + w / 2 + 16}' fill='none' "
                     f"stroke='{colour}' stroke-width='2.5' marker-end='url(#arrow)'/>")
        parts.append(f"<text x='{sx + 6}' y='{(18 + cy) / 2}' font-size='14' fill='{colour}'>shortcut: "
                     f"{html.escape(block.shortcut)}</text>")
        y = cy + 20
    parts.append(f"<line x1='{x0 + w / 2}' y1='{y - (8 if residual else gap)}' x2='{x0 + w / 2}' y2='{y + 14}' "
                 "stroke='#333' stroke-width='1.5' marker-end='url(#arrow)'/>")
    out = "y = ReLU(F(x) + x)" if residual else "y = ReLU(F(x)) (no shortcut: a plain block)"
    parts.append(f"<text x='{x0 + w / 2}' y='{y + 34}' text-anchor='middle' font-size='15'>{out}</text>")
    height = y + 46
    label = (f"One block of {a.label}: {' then '.join(convs)}, each followed by BN"
             + (f"; the block's input is added to their output through its {block.shortcut} shortcut, then ReLU."
                if residual else "; no shortcut, then ReLU."))
    return (f"<figure style='margin:0'><svg role='img' aria-label='{html.escape(label)}' viewBox='0 0 620 {height}' "
            f"style='max-width:620px;width:100%;height:auto'><defs><marker id='arrow' viewBox='0 0 10 10' refX='9' "
            "refY='5' markerWidth='7' markerHeight='7' orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' "
            f"fill='#333'/></marker></defs>{''.join(parts)}</svg><figcaption style='font-size:14px'>"
            f"{html.escape(label)} F(x) is what the weight layers learn.</figcaption></figure>")


def diagram(a: anatomy.Anatomy) -> str:
    """The stack as HTML, drawn from the module tree, input at the top and output at the bottom: one box per
    block, named as Table 1 counts it ("conv2_x, block 1 of 3") beside its code name; a box lists its layers and its
    shortcut; clicking it shows each layer's output shape, params and MACs."""
    rows = []
    for stage in a.stages:
        boxes = []
        counted = [b for b in stage.blocks if b.shortcut != "—"]  # the blocks Table 1's "× n" counts
        for block in stage.blocks:
            main = [layer for layer in block.layers if layer.what != "BN"
                    and ".downsample" not in layer.name and ".shortcut" not in layer.name] or block.layers
            summary = " → ".join(html.escape(layer.what) for layer in main)
            kind = block.shortcut.split(" ")[0]
            colour = SHORTCUT_COLOURS.get(kind, "#555")
            table = "".join(f"<tr><td>{html.escape(layer.name)}</td><td>{html.escape(layer.what)}</td>"
                            f"<td>{_shape(layer.output)}</td><td style='text-align:right'>{layer.params:,}</td>"
                            f"<td style='text-align:right'>{layer.macs:,}</td></tr>" for layer in block.layers)
            shortcut = "" if block.shortcut == "—" else (
                f"<div style='color:{colour};font-size:13px'>shortcut: {html.escape(block.shortcut)}</div>")
            name = (f"{_plain_name(stage, counted.index(block), len(counted))} · <code>{html.escape(block.name)}</code>"
                    if block in counted else f"<code>{html.escape(block.name)}</code>")
            boxes.append(
                f"<details style='{BOX}border-left:4px solid {colour}'>"
                f"<summary style='cursor:pointer'><b>{name}</b>: {summary}"
                f"<span style='color:#555'> · out {_shape(block.layers[-1].output)}</span>{shortcut}</summary>"
                "<div style='overflow-x:auto'><table style='font-size:13px'><tr><th>layer</th><th>what</th>"
                f"<th>output</th><th>params</th><th>MACs</th></tr>{table}</table></div></details>")
        title = {"conv1": "the stem (conv1)", "head": "the head"}.get(stage.name, stage.name)
        rows.append(
            f"<div style='margin:6px 0'><div style='font-size:14px'><b>{html.escape(title)}</b> · "
            f"output {stage.output_size} · {html.escape(stage.blocks_layout)} · {_m(stage.params)} params · "
            f"{_g(stage.macs)} MACs</div><div style='display:flex;flex-direction:column;align-items:stretch'>"
            f"{ARROW.join(boxes)}</div></div>")
    legend = " ".join(f"<span style='color:{c}'>■ {k}</span>" for k, c in SHORTCUT_COLOURS.items())
    return (f"<div><div style='font-size:14px'>Input 3×{a.input_size}×{a.input_size} at the top, flowing down to "
            f"the output. Shortcut: {legend}. Click a block for its layers.</div>{''.join(rows)}</div>")


def table1(a: anatomy.Anatomy) -> str:
    """Table 1 for the chosen network, computed, with the paper's figures beside ours where it gives them."""
    paper = a.paper or {}
    sizes = paper.get("output_size", {})
    lines = ["| stage | output size | blocks | params | multiply-adds |" + (" paper's output size |" if sizes else ""),
             "|---|---|---|---|---|" + ("---|" if sizes else "")]
    for s in a.stages:
        lines.append(f"| {s.name} | {s.output_size} | {s.blocks_layout} | {_m(s.params)} | {_g(s.macs)} |"
                     + (f" {sizes.get(s.name, '—')} |" if sizes else ""))
    lines.append(f"| **total** | | {a.weight_layers} weight layers | **{_m(a.params)}** | **{_g(a.macs)}** |"
                 + (" |" if sizes else ""))
    text = f"**{html.escape(a.label)}**\n\n" + "\n".join(lines)
    text += (
        "\n\nCounted from the module on PyTorch's meta device with the formulas of torch's `FlopCounterMode` (input "
        f"{a.input_size}×{a.input_size}). Multiply-adds (MACs) are what the paper calls FLOPs; BN, ReLU and "
        "pooling are not counted, as in the paper."
    )
    if "macs" in paper:
        text += (
            f" The paper: **{paper['macs'] / 1e9:.1f} billion** multiply-adds "
            f"({paper.get('macs_source', paper['source'])}); ours: {a.macs / 1e9:.2f} billion."
        )
    if a.model in ("resnet50", "resnet101", "resnet152"):
        paper_layout = anatomy.stride_on_first_1x1_macs(a.model)
        text += (
            f" The difference comes from the code: torchvision's bottleneck puts a stage's stride 2 on its "
            f"3×3 conv (ResNet v1.5), so that conv runs at the larger size; with the stride on the first 1×1 "
            f"conv as in the paper, the same module counts {paper_layout / 1e9:.2f} billion."
        )
    if "top1_error_10crop" in paper:
        text += (
            f" ImageNet top-1 error (10-crop): {paper['top1_error_10crop']}% ({paper['top1_source']}; "
            "the paper's, not measured here)."
        )
    if "params" in paper:
        text += f" The paper: {paper['params'] / 1e6:.2f} M params ({paper['source']}); ours: {a.params / 1e6:.2f} M."
    return text


def shortcuts(name: str) -> str:
    """Params (and MACs) of shortcut options A, B, C for ResNet-34, or for the chosen CIFAR depth."""
    if name.startswith("cifar-"):
        _, depth, _ = anatomy.cifar_parts(name)
        rows = [
            (f"cifar-plain{depth}", "plain (no shortcuts)"),
            (f"cifar-resnet{depth}", "A: zero-padding"),
            (f"cifar-resnet{depth}-B", "B: projection where the shape changes"),
            (f"cifar-resnet{depth}-C", "C: projection in every block"),
        ]
        title = f"**Shortcut options at depth {depth} (CIFAR-10)**"
        cifar = True
    else:
        rows = [
            ("plain34", "plain-34 (no shortcuts)"),
            ("resnet34-A", "A: zero-padding"),
            ("resnet34", "B: projection where the shape changes (torchvision)"),
            ("resnet34-C", "C: projection in every block"),
        ]
        title = "**Shortcut options for ResNet-34 (the paper's Table 3)**"
        cifar = False
    lines = [
        "| network | params | multiply-adds |" + ("" if cifar else " the paper's top-1 error (ImageNet, 10-crop) |"),
        "|---|---|---|" + ("" if cifar else "---|"),
    ]
    for key, what in rows:
        a = anatomy.anatomy(key)
        top1 = paper.TABLE3["top1"].get(key)
        lines.append(f"| {what} | {a.params:,} | {_g(a.macs)} |" + ("" if cifar else f" {top1}% |"))
    if cifar:
        note = (
            "\n\nCounted from the modules. On CIFAR-10 the paper uses option A throughout (Table 6), so each "
            "residual net has exactly its plain counterpart's parameters; it compares A, B and C on ImageNet "
            "only (choose a ResNet-34 to see that table)."
        )
    else:
        note = (
            f"\n\nParams and multiply-adds counted from the modules; errors quoted from "
            f"{paper.TABLE3['source']}. The paper concludes that projections are not essential for addressing "
            "degradation: B is slightly better than A, C marginally better than B, at the cost of C's extra "
            "parameters."
        )
    return title + "\n\n" + "\n".join(lines) + note


def comparisons() -> str:
    """Fig. 5 (a basic block against a bottleneck) and ResNet-152 against VGG-19, computed."""
    lines = [
        "**Basic block vs bottleneck** (the paper's Fig. 5, at 56×56)",
        "",
        "| block | params | multiply-adds |",
        "|---|---|---|",
    ]
    for b in anatomy.block_comparison():
        lines.append(f"| {b['block']} | {b['params']:,} | {_g(b['macs'])} |")
    deep, vgg = anatomy.anatomy("resnet152"), anatomy.anatomy("vgg19")
    lines += [
        "",
        "**Deeper, yet cheaper**",
        "",
        "| network | weight layers | params | multiply-adds | the paper |",
        "|---|---|---|---|---|",
        f"| ResNet-152 | {deep.weight_layers} | {_m(deep.params)} | {_g(deep.macs)} | "
        f"{paper.TABLE1['gmacs'][152]} billion (Table 1) |",
        f"| VGG-19 | {vgg.weight_layers} | {_m(vgg.params)} | {_g(vgg.macs)} | "
        f"{paper.FIG3['gmacs']['vgg19']} billion (Fig. 3) |",
        "",
        f"ResNet-152 has {deep.weight_layers / vgg.weight_layers:.0f}× the layers of VGG-19 and "
        f"{deep.macs / vgg.macs:.2f}× its multiply-adds: bottlenecks keep the 3×3 convs narrow, and there are "
        "no 4096-wide fully connected layers.",
    ]
    return "\n".join(lines)
