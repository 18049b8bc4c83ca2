"""The sentences and tables Classify shows about a prediction."""
from __future__ import annotations

from ..base.settings import settings
from ..base.stored import how_computed
from ..experiments import residual_stream
from ..nets.cifar import block_label, checkpoints
from ..serving import classifiers
from ..serving.weights import cached, catalog_entry


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
    return (f"**{describe_key(model_name)}**\n\n| measure | value |\n|---|---|\n{table}\n\n"
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


def code_snippet(key: str) -> str:
    """The few lines of torchvision (or this project's) code that classify an image with model ``key``, with its
    names filled in: the current weights API, whose ``weights.transforms()`` is the exact preprocessing."""
    kind, entry = catalog_entry(key) or ("", {})
    if kind in ("fp32", "int8"):
        arch = key.split(".")[0]
        depth = arch[6:]
        if kind == "fp32":
            head = (f"from torchvision.models import ResNet{depth}_Weights, {arch}\n\n"
                    f"weights = ResNet{depth}_Weights.{entry['weights']}\n"
                    f"model = {arch}(weights=weights).eval()")
        else:
            head = (f"from torchvision.models.quantization import ResNet{depth}_QuantizedWeights, {arch}\n\n"
                    f"weights = ResNet{depth}_QuantizedWeights.{entry['weights']}\n"
                    f"model = {arch}(weights=weights, quantize=True).eval()")
        return (f"import torch\nfrom torchvision.io import decode_image\n{head}\n"
                "preprocess = weights.transforms()  # resize, crop and normalise exactly as the weights were trained\n"
                "\nbatch = preprocess(decode_image(\"photo.jpg\")).unsqueeze(0)\n"
                "with torch.inference_mode():\n    probs = model(batch).softmax(1)[0]\n"
                "top = probs.topk(5)\nfor p, i in zip(top.values, top.indices):\n"
                "    print(weights.meta[\"categories\"][i], f\"{p:.1%}\")\n")
    classifiers.check_key(key)
    path = checkpoints()[key]
    return ("import numpy as np\nimport torch\nfrom PIL import Image\n"
            "from resnet_demo.nets.cifar import load_checkpoint  # this project\n\n"
            f"model, meta = load_checkpoint(\"assets/checkpoints/{path.name}\")\n"
            "size = meta[\"config\"][\"image_size\"]\n"
            "img = Image.open(\"photo.jpg\").convert(\"RGB\").resize((size, size), Image.Resampling.BILINEAR)\n"
            "x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)\n"
            "x = (x - torch.tensor(meta[\"mean\"]).view(3, 1, 1)) / torch.tensor(meta[\"std\"]).view(3, 1, 1)\n"
            "with torch.inference_mode():\n    probs = model(x.unsqueeze(0)).softmax(1)[0]\n"
            "print(meta[\"classes\"][probs.argmax()], f\"{probs.max():.1%}\")\n")


def snippet_note(key: str) -> str:
    """What the code beside it is, for the model it is for: torchvision's weights API, or this project's loader."""
    if catalog_entry(key):
        return ("Older tutorials write `resnet50(pretrained=True)` and a hand-made `transforms.Compose`: torchvision "
                "replaced both with weights enums (which weights, exactly) and `weights.transforms()` (the "
                "preprocessing those weights were trained with, so it cannot drift from them).")
    return ("This project's CIFAR-10 nets are not in torchvision: the code loads the checkpoint with this project's "
            "`load_checkpoint`, which rebuilds the net and keeps the normalisation it was trained with. Pick a "
            "ResNet-18…152 above for torchvision's own code.")


def _absent(key: str) -> str:
    """" · download on first use, ~98 MB" while a model's weights are not on this server ("" once they are)."""
    if cached(key):
        return ""
    size = catalog_entry(key)[1].get("file_mb")
    if settings().offline:
        return " · weights not on this server"
    return f" · download on first use{f', ~{size:.0f} MB' if size else ''}"


def describe_key(key: str) -> str:
    """A dropdown label, e.g. 'ResNet-50 · IMAGENET1K_V2 (default) · 80.9% top-1'."""
    kind, entry = catalog_entry(key) or ("", {})
    if kind == "fp32":
        default = " (default)" if entry["default"] else ""
        return (f"ResNet-{key.split('.')[0][6:]} · {entry['weights']}{default} · {entry['acc@1']:.1f}% top-1 ImageNet"
                + _absent(key))
    if kind == "int8":
        return (f"ResNet-{key[6:-5]} · int8 {entry['weights']} (faster) · {entry['acc@1']:.1f}% top-1 ImageNet "
                f"(fp32 {entry['fp32 acc@1']:.1f}%)" + _absent(key))
    classifiers.check_key(key)
    return f"CIFAR-10 {key[6:]} (offline, 10 classes)"
