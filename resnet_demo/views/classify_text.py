"""The sentences and tables Classify shows about a prediction."""
from __future__ import annotations

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
