"""Cold start: `python app.py` to its first HTTP 200, as a ratio to `python -c "import torch, gradio"`.

    python -m benchmarks.cold_start [--repeats 5]

Target (issue #7): ratio <= 1.3. Runs alternate so drift on a shared machine hits both alike.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from benchmarks._common import ROOT, seeded_torch_home, start_app


def imports() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, gradio"], check=True, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    home = seeded_torch_home()
    imports()  # page cache warm for both
    base, app = [], []
    for _ in range(args.repeats):
        base.append(imports())
        proc, _, seconds = start_app(home)
        app.append(seconds)
        proc.terminate()
        proc.wait(10)
    b, a = statistics.median(base), statistics.median(app)
    print("| import torch, gradio s | app first HTTP 200 s | ratio | target |")
    print("|---|---|---|---|")
    print(f"| {b:.2f} | {a:.2f} | {a / b:.2f} | <= 1.3 |")
    return 0 if a / b <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
