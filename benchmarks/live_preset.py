"""The live preset: does it show degradation in (nearly) every seed, and how much faster is the app's design?

    python -m benchmarks.live_preset [--preset "1 minute"] [--seeds 10] [--baseline-seeds 3] [--depths 20 56]

Per seed, trained as the app trains it (``workers.Workers``: two worker processes of one torch thread each,
already started): the four final training errors, the plain gap (deep - shallow), the residual gap, how far
residual-deep ends below plain-deep, and the wall time. Pass: plain gap >= 10 points, residual gap <=
plain gap / 3, residual-deep >= 10 points below plain-deep, in at least 9 of 10 seeds.

Then, for the first ``--baseline-seeds`` seeds, the previous design in the same run: the previous default
preset (PREVIOUS below: 300 iterations, lr 0.05, augmentation, test error every 100) with its four trainers
stepped in turn in this process on all cores (``live.run_live``) -- what a click cost before issue #13.
Printed: both medians on those seeds and their ratio (target <= 0.55), and the workers' one-off start-up.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

from resnet_demo.base import stored
from resnet_demo.base.settings import LIVE_PRESETS_FILE
from resnet_demo.base.stored import cpu_name
from resnet_demo.experiments import degradation
from resnet_demo.nets import data
from resnet_demo.nets.trainer import TrainConfig
from resnet_demo.serving import live, workers

PREVIOUS = live.Preset("previous default (16x16, width 8, 300 iterations, lr 0.05, augmentation)",
                       TrainConfig(width=8, image_size=16, batch_size=64, lr=0.05, iterations=300, milestones=(),
                                   eval_every=100, log_every=10, smoothing=50, train_eval_images=1000),
                       train_images=5000, test_images=1000)


def _store(args, gaps: list[dict[str, float]], degrades: int, t0: float) -> None:
    """The preset's entry in assets/live_presets.json: what the Depth tab's verdict takes as its noise."""
    s = stored.read(LIVE_PRESETS_FILE)
    presets = dict(s.data["presets"]) if s else {}
    keys = ("plain_gap", "residual_gap", "residual_advantage")
    presets[args.preset] = {
        "seeds": len(gaps), "depths": list(args.depths), "plain_degrades": degrades,
        "residual_gap_range": [round(min(g["residual_gap"] for g in gaps), 1),
                               round(max(g["residual_gap"] for g in gaps), 1)],
        "gap_mean": {k: round(statistics.mean(g[k] for g in gaps), 1) for k in keys},
        "gap_sd": {k: round(statistics.stdev(g[k] for g in gaps), 1) for k in keys}}
    stored.write(LIVE_PRESETS_FILE, {"presets": presets},
                 stored.Provenance.measured(t0, "benchmarks.live_preset"), indent=1)
    print(f"wrote {LIVE_PRESETS_FILE}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default=live.DEFAULT_PRESET, choices=list(live.PRESETS))
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--baseline-seeds", type=int, default=3)
    p.add_argument("--depths", type=int, nargs=2, default=[20, 56])
    p.add_argument("--store", action="store_true",
                   help="write the gaps' spread over the seeds to assets/live_presets.json (the verdict's noise)")
    args = p.parse_args()
    t_start = time.perf_counter()
    depths = tuple(args.depths)
    print(f"{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
          f"({torch.backends.cpu.get_cpu_capability()}); preset {args.preset!r}: {live.PRESETS[args.preset].label}; "
          f"depths {list(depths)}")
    pool = workers.Workers()
    t0 = time.perf_counter()
    for _ in pool.run(args.preset, depths, True, 0, time_limit_s=0):  # starts the processes, trains nothing
        pass
    print(f"worker start-up (once per app): {time.perf_counter() - t0:.1f} s\n")
    print("| seed | plain-20 | plain-56 | ResNet-20 | ResNet-56 | plain gap | residual gap | residual below plain | "
          "wall s | pass |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    passes, walls, all_gaps = 0, [], []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        *_, snap = pool.run(args.preset, depths, True, seed, time_limit_s=1e9)  # the last snapshot
        walls.append(time.perf_counter() - t0)
        g = degradation.gaps(snap.runs)
        all_gaps.append(g)
        errs = [100 * degradation.final_train_error(r) for r in snap.runs]
        ok = g["plain_gap"] >= 10 and g["residual_gap"] <= g["plain_gap"] / 3 and g["residual_advantage"] >= 10
        passes += ok
        print(f"| {seed} | " + " | ".join(f"{e:.1f}" for e in errs) + f" | {g['plain_gap']:+.1f} | "
              f"{g['residual_gap']:+.1f} | {g['residual_advantage']:.1f} | {walls[-1]:.1f} | {'yes' if ok else 'no'} |",
              flush=True)
    pool.close()
    need = -(-9 * args.seeds // 10)
    print(f"\n{passes}/{args.seeds} seeds show the effect (need {need}); worker design: median wall "
          f"{statistics.median(walls):.1f} s, max {max(walls):.1f} s")
    base = []
    d = data.load_bundled()
    for seed in range(min(args.baseline_seeds, args.seeds)):
        trainers = live.make_trainers(d, live.Job("previous", PREVIOUS, depths, True, seed))
        t0 = time.perf_counter()
        for _ in live.run_live(trainers, time_limit_s=1e9):
            pass
        base.append(time.perf_counter() - t0)
        print(f"previous design ({PREVIOUS.label}; one process, {torch.get_num_threads()} threads), seed {seed}: "
              f"{base[-1]:.1f} s (now: {walls[seed]:.1f} s)", flush=True)
    ok = passes >= need
    if base:
        ratio = statistics.median(walls[:len(base)]) / statistics.median(base)
        print(f"median wall on seeds 0-{len(base) - 1}: workers {statistics.median(walls[:len(base)]):.1f} s, "
              f"previous {statistics.median(base):.1f} s -> ratio {ratio:.2f} (target <= 0.55)")
        ok = ok and ratio <= 0.55
    if args.store:
        _store(args, all_gaps, sum(g["plain_gap"] > 0 for g in all_gaps), t_start)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
