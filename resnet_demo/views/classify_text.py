"""The sentences and tables Classify shows about a prediction."""
from __future__ import annotations

from ..base.stored import how_computed
from ..experiments import residual_stream
from ..nets.cifar import block_label
from ..serving import classifiers


def details(pred: classifiers.Prediction, model_name: str, source: str, total_ms: float) -> str:
    rows = [("model time", f"{pred.model_ms:.1f} ms (forward + Grad-CAM)"), ("total time", f"{total_ms:.0f} ms"),
            ("image", f"{pred.image_size[0]}x{pred.image_size[1]} from {source}")]
    for key, value in pred.info.items():
        if isinstance(value, int) and value > 10_000:
            value = f"{value / 1e6:.2f} M"
        elif isinstance(value, float):
            value = f"{value:g}" + ("%" if "acc" in key else "")
        rows.append((key, value))
    if pred.kind == "cifar":  # it can only answer with these: a photo of anything else gets one of them
        rows.append((f"the {len(pred.labels)} classes it knows", ", ".join(pred.labels)))
        seen = ("The network sees the whole image, squeezed to 32×32 as CIFAR-10's images are, so the heatmap "
                "(8×8 at its last stage) covers all of it.")
    else:
        seen = "The network sees only the centre crop; the rest of the image is dimmed."
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (f"**{classifiers.describe_key(model_name)}**\n\n| measure | value |\n|---|---|\n{table}\n\n"
            f"The heatmap is Grad-CAM on the last stage: where evidence for the top label was found. {seen}")


def residual_first(streams: list) -> list:
    return sorted(streams, key=lambda s: s.blocks[0]["shortcut"] == "none")


def stream_text(streams: list, elapsed: float, source: str) -> str:
    streams = residual_first(streams)
    text = "\n\n".join(residual_stream.summary(s) for s in streams)
    if len(streams) == 2:
        text += "\n\n" + residual_stream.compare(streams[0], streams[1])
    calls = sum(s.block_calls for s in streams)
    return text + how_computed(
        f"Image: {source}. Models: {', '.join(s.model for s in streams)}, evaluation mode, preprocessed as Classify "
        f"does. One forward pass per model carries the intact stream and, from each block on, one more row with "
        f"that block deleted ({calls} block calls in all); the ratios are read on the intact row. "
        f"{elapsed:.2f} s on this server's inference thread. `python -m benchmarks.residual_stream` measures it "
        "against a classify call.")


def block_choice(b: dict, count: int) -> str:
    """"stage 2, block 1 of 9 · blocks.9 (downsampling)": the app's one numbering, the code name beside it."""
    notes = [n for n in ("downsampling" if b["downsampling"] else "",
                         f"{b['shortcut']} shortcut" if b["shortcut"] not in ("identity", "none") else "") if n]
    index = int(b["name"].rsplit(".", 1)[1])
    return (f"{block_label(2 * count + 2, index)} · {b['name']}" + (f" ({', '.join(notes)})" if notes else ""))
