"""Write assets/shortcut_lab.json: the shortcut lab's gradient profiles (``experiments.shortcut_lab``) of every
variant at depths 56 and 110, at initialisation and after 50 SGD steps (seed 0, the bundled subset), so that
the tab answers at once; a test recomputes one and compares. Beside them, ``spread``: the first unit's share
at initialisation over seeds 0-4 (``shortcut_lab.SPREAD_SEEDS``), the noise the Paper tab's verdict uses.

    python -m scripts.shortcut_lab [--threads 2]
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from resnet_demo.base.settings import SHORTCUT_LAB_FILE
from resnet_demo.base.stored import Provenance, write
from resnet_demo.experiments import shortcut_lab
from resnet_demo.nets.data import load_bundled

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    t0, data, profiles = time.perf_counter(), load_bundled(), {}
    for depth in shortcut_lab.DEPTHS:
        for key in shortcut_lab.VARIANTS:
            profiles[f"{key}-{depth}"] = shortcut_lab.compute(key, depth, shortcut_lab.STEPS[-1], 0, data)
            print(f"{key} depth {depth}: {profiles[f'{key}-{depth}']['seconds']} s", file=sys.stderr, flush=True)
    spread = {}
    for depth in shortcut_lab.DEPTHS:
        for key in shortcut_lab.VARIANTS:
            runs = [profiles[f"{key}-{depth}"] if seed == 0 else shortcut_lab.compute(key, depth, 0, seed, data)
                    for seed in shortcut_lab.SPREAD_SEEDS]
            spread[f"{key}-{depth}"] = {"ratio": [r["ratio"][0] for r in runs],
                                        "direct_ratio": [r["direct_ratio"][0] for r in runs]}
            print(f"{key} depth {depth}: spread over {len(runs)} seeds", file=sys.stderr, flush=True)
    write(SHORTCUT_LAB_FILE, {"setup": {"steps": list(shortcut_lab.STEPS), "seed": 0, "lr": shortcut_lab.LR,
                                        "spread_seeds": list(shortcut_lab.SPREAD_SEEDS)},
                              "profiles": profiles, "spread": spread},
          Provenance.measured(t0, "scripts.shortcut_lab", data=data.name))
    print(f"wrote {SHORTCUT_LAB_FILE}", file=sys.stderr)
