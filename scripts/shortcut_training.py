"""Write assets/shortcut_training.json: every shortcut-lab variant (``experiments.shortcut_lab.VARIANTS``) trained at
the live demo's scale (its default preset: width 8, 16x16 inputs, 250 iterations on the bundled subset) at
depth 56, over seeds 0-4: the final training error (on 1,000 training images, no augmentation) and test error
(the 1,000 bundled test images) of each run, so that the lab answers with mean ± s.d. at once.

    python -m scripts.shortcut_training [--seeds 0 1 2 3 4] [--threads 1]
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from resnet_demo.base.settings import SHORTCUT_TRAINING_FILE
from resnet_demo.base.stored import Provenance, write
from resnet_demo.experiments import shortcut_lab
from resnet_demo.nets.data import load_bundled

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t0, data, runs = time.perf_counter(), load_bundled(), {}
    for key in shortcut_lab.VARIANTS:
        runs[key] = []
        for seed in args.seeds:
            runs[key].append(shortcut_lab.train(key, seed, data))
            r = runs[key][-1]
            print(f"{key} seed {seed}: train {r['train_error']:.3f} test {r['test_error']:.3f} "
                  f"({r['seconds']} s)", file=sys.stderr, flush=True)
    write(SHORTCUT_TRAINING_FILE, {"setup": shortcut_lab.training_setup(), "runs": runs},
          Provenance.measured(t0, "scripts.shortcut_training", data=data.name))
    print(f"wrote {SHORTCUT_TRAINING_FILE}", file=sys.stderr)
