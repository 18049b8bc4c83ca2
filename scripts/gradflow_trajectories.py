"""Compute the Gradient-flow tab's stored trajectories: assets/gradflow/trajectories.json.

    python -m scripts.gradflow_trajectories [--depths 20 56 110] [--steps 400] [--threads 2]

For each depth, BN on and off, seed 0: a plain and a residual net built from the seed and trained on the same
batches of the bundled CIFAR-10 subset (batch 64, SGD momentum 0.9, wd 1e-4, lr 0.1 with BN / 0.01 without),
profiled on one fixed batch of 64 test images at steps 0, 10, 25, 50, 100, 200, 400: per-layer output-gradient
norm and RMS, weight-gradient norm, loss. Exactly what the tab computes live (gradflow.trajectory),
so a live request with the same settings gives the same numbers on the same CPU. A net whose loss or gradients
turn non-finite is recorded as diverged at that step. The command, device, torch version and wall time of each
run are recorded in the file. Cost on the project's 2-vCPU Zen 4: see the file's "meta".
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import torch

from resnet_demo.base.settings import GRADFLOW_FILE
from resnet_demo.experiments import gradflow
from resnet_demo.nets.data import load_bundled
from resnet_demo.nets.train import device_label


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--depths", type=int, nargs="+", default=[20, 56, 110])
    p.add_argument("--steps", type=int, default=gradflow.STEPS[-1])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--out", type=Path, default=GRADFLOW_FILE)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_bundled()
    runs = {}
    t_all = time.perf_counter()
    for depth in args.depths:
        for bn in (True, False):
            t0 = time.perf_counter()
            record = None
            for record in gradflow.trajectory(data, depth, bn, args.seed, args.steps, source="stored"):
                print(f"depth {depth} BN {'on' if bn else 'off'}: step {record['steps'][-1]} "
                      f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
            record["wall_seconds"] = round(time.perf_counter() - t0, 1)
            runs[gradflow.stored_key(depth, bn, args.seed)] = record
    meta = {"command": " ".join(["python -m", f"scripts.{Path(__file__).stem}", *map(shlex.quote, sys.argv[1:])]),
            "device": device_label(torch.device("cpu")), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "capability": torch.backends.cpu.get_cpu_capability(),
            "data": data.name, "wall_seconds": round(time.perf_counter() - t_all, 1),
            "date": time.strftime("%Y-%m-%d")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"meta": meta, "runs": runs}, separators=(",", ":")))
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB) in {meta['wall_seconds']} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
