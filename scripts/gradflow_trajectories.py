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
import sys
import time
from pathlib import Path

import torch

from resnet_demo.base.settings import GRADFLOW_FILE
from resnet_demo.base.stored import Provenance, write
from resnet_demo.experiments import gradflow
from resnet_demo.nets.data import load_bundled


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
            for record in gradflow.compute(data, depth, bn, args.seed, args.steps, source="stored"):
                print(f"depth {depth} BN {'on' if bn else 'off'}: step {record['steps'][-1]} "
                      f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
            record["wall_seconds"] = round(time.perf_counter() - t0, 1)
            runs[gradflow.record_key(depth, bn, args.seed)] = record
    provenance = Provenance.measured(t_all, "scripts.gradflow_trajectories", data=data.name)
    write(args.out, {"runs": runs}, provenance)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB) in {provenance.wall_s} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
