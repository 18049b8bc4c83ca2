"""Write assets/shortcut_training.json: every shortcut-lab variant (``experiments.shortcut_lab.VARIANTS``) trained at
the live demo's scale (its default preset: width 8, 16x16 inputs, 250 iterations on the bundled subset) at
depth 56, over seeds 0-4: the final training error (on 1,000 training images, no augmentation) and test error
(the 1,000 bundled test images) of each run, so that the lab answers with mean ± s.d. at once.

    python -m scripts.shortcut_training [--variants identity scale ...] [--seeds 0 1 2 3 4] [--out PATH]
    python -m scripts.shortcut_training --merge PART.json PART.json     # parts run side by side, one per core

Resumable: the file is written after every run, and a rerun skips the runs it already holds.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from resnet_demo.base.settings import SHORTCUT_TRAINING_FILE
from resnet_demo.base.stored import Provenance, read, write
from resnet_demo.experiments import shortcut_lab
from resnet_demo.nets.data import load_bundled


def _error(e: float | None) -> str:
    return "—" if e is None else f"{e:.3f}"


def train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    t0, data = time.perf_counter(), load_bundled()
    done = read(args.out)
    runs = {k: list(v) for k, v in done.data["runs"].items()} if done else {}
    for key in args.variants:
        for seed in args.seeds:
            if any(r["seed"] == seed for r in runs.get(key, [])):
                continue
            r = shortcut_lab.train(key, seed, data)
            runs.setdefault(key, []).append(r)
            print(f"{key} seed {seed}: train {_error(r['train_error'])} test {_error(r['test_error'])} "
                  f"({r['seconds']} s){' diverged' if r['diverged'] else ''}", file=sys.stderr, flush=True)
            write(args.out, {"setup": shortcut_lab.training_setup(), "runs": runs},
                  Provenance.measured(t0, "scripts.shortcut_training", data=data.name))


def merge(parts: list[Path], out: Path) -> None:
    """The parts' runs in one file; its provenance names each part's."""
    stored = [read(p) for p in parts]
    runs = {k: v for s in stored for k, v in s.data["runs"].items()}
    order = {k: runs[k] for k in shortcut_lab.VARIANTS if k in runs}
    first = stored[0].provenance
    notes = {"parts": [s.provenance.line() for s in stored], **first.notes}
    wall = max(s.provenance.wall_s or 0 for s in stored)
    command = " & ".join(s.provenance.command for s in stored) + " (side by side, then --merge)"
    write(out, {"setup": stored[0].data["setup"], "runs": order},
          Provenance(command, first.machine, first.threads, first.date, wall, notes))
    print(f"wrote {out}: {sum(len(v) for v in order.values())} runs of {len(order)} variants", file=sys.stderr)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", default=list(shortcut_lab.VARIANTS), choices=list(shortcut_lab.VARIANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=SHORTCUT_TRAINING_FILE)
    p.add_argument("--merge", type=Path, nargs="+", default=None)
    args = p.parse_args()
    if args.merge:
        merge(args.merge, args.out)
    else:
        train(args)
