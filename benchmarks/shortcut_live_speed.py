"""The shortcut lab's live run against the Depth tab's live run (#43: "the default run no slower than today's live
run on the same machine"), both through the app's two worker processes, in the same run, alternated.

    python -m benchmarks.shortcut_live_speed [--repeats 2]

Baseline: the degradation demo's default (preset "1 minute": plain and residual at depths 20 and 56). Timed: the
shortcut lab's default pair (identity and λ = 0.5 at depth 56), and four variants (identity, λ = 0.5, 1×1 conv,
full pre-activation). Printed: the median wall time of each, its ratio to the baseline, and PASS when the
default pair's ratio is at most 1.
"""
from __future__ import annotations

import argparse
import statistics
import time

from resnet_demo.base.stored import cpu_name
from resnet_demo.experiments import shortcut_lab
from resnet_demo.serving import live, workers


def timed(w: workers.Workers, nets: tuple[live.Net, ...] = ()) -> float:
    t0 = time.perf_counter()
    snaps = list(w.run(live.DEFAULT_PRESET, (20, 56) if not nets else (56, 56), True, 0, nets=nets, every_s=5.0))
    assert snaps[-1].iteration == snaps[-1].total and not snaps[-1].stopped
    return time.perf_counter() - t0


def nets(keys: list[str]) -> tuple[live.Net, ...]:
    return tuple(live.Net(k, v.unit, v.shortcut, v.gate_bias) for k, v in ((k, shortcut_lab.VARIANTS[k]) for k in keys))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    w = workers.Workers()
    try:
        timed(w, nets(["identity"]))  # starts the workers (not timed): the app keeps them warm between runs
        cases = {"baseline: Depth tab's live run (4 nets, depths 20 and 56)": (),
                 "shortcut lab default: identity + λ = 0.5, depth 56": nets(["identity", "scale"]),
                 "shortcut lab, four variants, depth 56": nets(["identity", "scale", "conv1x1", "full-preact"])}
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.repeats):  # alternated, so a slow spell of the machine falls on every case
            for name, n in cases.items():
                times[name].append(timed(w, n))
    finally:
        w.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    base = next(iter(med.values()))
    print(f"{cpu_name()}; median of {args.repeats}\n\n| run | median s | ÷ baseline |\n|---|---|---|")
    for name, t in med.items():
        print(f"| {name} | {t:.1f} | {t / base:.2f} |")
    ok = list(med.values())[1] <= base
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
