"""Anatomy tab: how long a network choice takes to answer, server side.

    python -m benchmarks.anatomy_speed

First view: the default network, the shortcut table and the comparisons, read from assets/anatomy.json
(scripts/anatomy_counts.py). Then every name the tab offers, timed through ui.anatomy.architecture (target,
issue #14: under 1 s on 2 vCPU; an absolute target, so the CPU is printed beside it), and, for comparison,
counting them all from the modules. Exits 1 when a choice misses the target.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

from resnet_demo.experiments import anatomy
from resnet_demo.ui import anatomy as tab


def main() -> int:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    t0 = time.perf_counter()
    tab.architecture("resnet50")  # the first page view
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    anatomy.counts()
    count_all = time.perf_counter() - t0
    rows = []
    for name in anatomy.network_names():
        t0 = time.perf_counter()
        tab.architecture(name)
        rows.append((name, time.perf_counter() - t0))
    worst = max(rows, key=lambda r: r[1])
    print(f"{cpu}, torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    print("| what | time | target |\n|---|---|---|")
    print(f"| first page view (ResNet-50, the shortcut table, the comparisons) | {cold:.2f} s | |")
    print(f"| every network counted from its module (what the stored file saves) | {count_all:.1f} s | |")
    print(f"| each of the {len(rows)} choices after that: median / worst ({worst[0]}) | "
          f"{1000 * statistics.median(r for _, r in rows):.1f} / {1000 * worst[1]:.1f} ms | ≤ 1 s |")
    return 0 if worst[1] <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
