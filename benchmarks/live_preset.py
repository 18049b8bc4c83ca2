"""Does the live preset show degradation reliably, within a minute on 2 vCPU?

    python benchmarks/live_preset.py [--preset "1 minute"] [--seeds 5] [--depths 20 56]

Per seed: the four final training errors, the plain gap (deep - shallow), the residual gap, how far
residual-deep ends below plain-deep, and the wall time as a ratio to the 60 s budget. Pass (issue #4):
plain gap >= 10 points, residual gap <= plain gap / 3, residual-deep >= 10 points below plain-deep, in at
least 4 of 5 seeds, and every run within 60 s.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_demo import data, live  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default=live.DEFAULT_PRESET, choices=list(live.PRESETS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--depths", type=int, nargs=2, default=[20, 56])
    p.add_argument("--budget", type=float, default=60.0)
    args = p.parse_args()
    d = data.load_bundled()
    print(f"preset {args.preset!r}: {live.PRESETS[args.preset].label}; depths {args.depths}")
    print("| seed | plain-20 | plain-56 | ResNet-20 | ResNet-56 | plain gap | residual gap | residual below plain | "
          "wall s | / budget | pass |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    passes, walls = 0, []
    for seed in range(args.seeds):
        trainers = live.make_trainers(d, args.preset, tuple(args.depths), True, seed)
        t0 = time.perf_counter()
        for snap in live.run_live(trainers, time_limit_s=1e9):
            pass
        wall = time.perf_counter() - t0
        walls.append(wall)
        g = live.gaps(snap["runs"])
        errs = [100 * live.final_train_error(r) for r in snap["runs"]]
        ok = g["plain_gap"] >= 10 and g["residual_gap"] <= g["plain_gap"] / 3 and g["residual_advantage"] >= 10
        passes += ok
        print(f"| {seed} | " + " | ".join(f"{e:.1f}" for e in errs) + f" | {g['plain_gap']:+.1f} | "
              f"{g['residual_gap']:+.1f} | {g['residual_advantage']:.1f} | {wall:.1f} | {wall / args.budget:.2f} | "
              f"{'yes' if ok else 'no'} |", flush=True)
    verdict = passes >= min(4, args.seeds) * args.seeds / 5 and max(walls) <= args.budget
    print(f"\n{passes}/{args.seeds} seeds show the effect; median wall {statistics.median(walls):.1f} s, "
          f"max {max(walls):.1f} s (budget {args.budget:.0f} s) -> {'PASS' if verdict else 'FAIL'}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
