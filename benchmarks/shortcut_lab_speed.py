"""The shortcut lab's speed (#43): one variant's gradient profile at depth 56 computed now, and a stored answer,
each beside a baseline measured in the same run.

    python -m benchmarks.shortcut_lab_speed [--repeats 5]

Baseline: the Gradient-flow tab's own live profile at initialisation (a plain + residual pair at depth 56, what
``benchmarks.gradflow_speed`` times against its 2 s target). Printed: the median of each side and their ratio,
and the targets of issue #43 (a profile at depth 56 in <= 2 s; a stored answer, figure and summary included,
in < 0.5 s server side).
"""
from __future__ import annotations

import argparse
import statistics
import time

from resnet_demo.base.stored import cpu_name
from resnet_demo.experiments import gradflow, shortcut_lab
from resnet_demo.nets.data import bundled


def median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    from resnet_demo.ui import shortcuts as tab  # noqa: PLC0415 (the tab's handler: what a visitor's request runs)

    data = bundled()
    shortcut_lab.compute("identity", 56, 0, data=data)  # warm-up
    base = median_s(lambda: list(gradflow.compute(data, 56, True, 0, 0)), args.repeats)
    print(f"{cpu_name()}; median of {args.repeats}\n\n| work | median s | ÷ baseline | target s |\n|---|---|---|---|")
    print(f"| baseline: gradient-flow pair at init, depth 56 | {base:.2f} | 1.00 | 2 |")
    ok = True
    for key in ("identity", "scale", "full-preact"):
        t = median_s(lambda key=key: shortcut_lab.compute(key, 56, 0, data=data), args.repeats)
        ok &= t <= 2
        print(f"| shortcut lab, {key}, depth 56, at init | {t:.2f} | {t / base:.2f} | 2 |")
    keys = ["identity", "scale", "conv1x1", "full-preact"]
    stored = median_s(lambda: tab.shortcut_lab(keys, 56, 50), args.repeats)
    ok &= stored < 0.5
    print(f"| stored answer, four variants, figure and summary | {stored:.3f} | {stored / base:.2f} | 0.5 |")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
