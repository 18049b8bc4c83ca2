"""Which of the 10,000 test images each kept checkpoint gets right: the data for the test-set sampling noise of
the stored nets' test errors (binomial) and for paired comparisons of two nets on the same images (McNemar).

    python -m scripts.test_predictions [--dataset ../shared/data/cifar10-jpeg] [--threads 2]

Writes assets/noise/test_predictions.json: for every checkpoint in assets/checkpoints/ (plain-20/56,
ResNet-20/56/110), its test error recomputed here (it must equal the error the run stored at its last
evaluation: a test checks) and one bit per test image, 1 = correct, in the dataset's order (np.packbits, then
base64: 1,250 bytes a net), and a summary of what they give: each net's binomial σ, each pair's McNemar counts
and paired σ. The test set is the JPEG re-encoded copy of CIFAR-10 the stored runs were tested
on (../shared/data/README.md), not the original: the app never reads ../shared, it reads this file.
"""
from __future__ import annotations

import argparse
import base64
import time

import numpy as np
import torch

from resnet_demo.base.paper import net_label
from resnet_demo.base.stored import Provenance, write
from resnet_demo.base.threads import flush_denormals
from resnet_demo.experiments.noise import PREDICTIONS_FILE
from resnet_demo.nets import cifar
from resnet_demo.nets.cifar import load_checkpoint
from resnet_demo.nets.data import load, normalize


@torch.inference_mode()
def correct(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> np.ndarray:
    flush_denormals()
    out = []
    for i in range(0, len(x), batch):
        out.append((model(normalize(x[i:i + batch])).argmax(1) == y[i:i + batch]).numpy())
    return np.concatenate(out)


def summary(nets: dict[str, dict]) -> dict:
    """What the bits give, stored beside them: each net's test error with its binomial σ, and for every pair its
    McNemar counts (images only the first gets right / only the second) and the paired σ of their difference, in
    points (resnet_demo.experiments.noise computes the same at run time; a test compares)."""
    import itertools  # noqa: PLC0415

    from resnet_demo.experiments.noise import binomial_sigma, decode_answers, paired_sigma  # noqa: PLC0415

    bits = {name: decode_answers(r) for name, r in nets.items()}
    single = {name: {"test_error_pct": round(100 * (1 - b.mean()), 2),
                     "binomial_sigma_pts": round(binomial_sigma(1 - b.mean(), len(b)), 3)} for name, b in bits.items()}
    pairs = {f"{a} vs {b}": {"only_first_right": int(np.sum(bits[a] & ~bits[b])),
                             "only_second_right": int(np.sum(~bits[a] & bits[b])),
                             "paired_sigma_pts": round(paired_sigma(bits[a], bits[b]), 3)}
             for a, b in itertools.combinations(bits, 2)}
    return {"single": single, "pairs": pairs}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="../shared/data/cifar10-jpeg")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    data = load(args.dataset)
    nets = {}
    for path in cifar.checkpoints().values():
        model, info = load_checkpoint(path)
        ok = correct(model, data.x_test, data.y_test)
        c = info["config"]
        nets[net_label(c["arch"], c["depth"])] = {
            "checkpoint": path.name, "iterations": info["iterations"], "test_error": round(1 - ok.mean(), 6),
            "checkpoint_test_error": info["test_error"], "images": len(ok),
            "correct": base64.b64encode(np.packbits(ok.astype(np.uint8)).tobytes()).decode()}
        print(f"{path.name}: {100 * (1 - ok.mean()):.2f}% test error on {len(ok):,} images", flush=True)
    provenance = Provenance.measured(t0, "scripts.test_predictions", data=f"{data.name}: the JPEG re-encoded copy "
                                     f"of CIFAR-10's {len(data.x_test):,} test images (../shared/data/cifar10-jpeg), "
                                     "the stored runs' test set")
    write(PREDICTIONS_FILE, {"nets": nets, "summary": summary(nets)}, provenance, indent=1)
    print(f"wrote {PREDICTIONS_FILE}")


if __name__ == "__main__":
    main()
