"""Run every benchmark and print its table: python -m benchmarks.run_all [--quick]

Each script measures its own baseline in the same run and prints ratios; see each file's docstring.
--quick uses fewer repeats (a smoke run, not for quoting).
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = [
    ("classify_speed.py", ["--models", "resnet18", "resnet50", "resnet50.IMAGENET1K_V1", "resnet50.int8"]),
    ("cold_start.py", []),
    ("train_throughput.py", []),
    ("gradflow_speed.py", []),
    ("shortcut_lab_speed.py", []),
    ("shortcut_live_speed.py", []),
    ("anatomy_speed.py", []),
    ("inside_speed.py", []),
    ("residual_stream.py", []),
    ("memory.py", []),
    ("live_preset.py", []),
    ("live_browser.py", []),
    ("first_visit.py", []),
    ("server_overhead.py", []),
    ("load_classify.py", ["--users", "4", "--seconds", "30"]),
    ("load_classify.py", ["--users", "4", "--seconds", "30", "--with-training"]),
]
QUICK = {
    "classify_speed.py": ["--repeats", "3"],
    "cold_start.py": ["--repeats", "2"],
    "train_throughput.py": ["--repeats", "1"],
    "gradflow_speed.py": ["--quick"],
    "shortcut_lab_speed.py": ["--repeats", "1"],
    "shortcut_live_speed.py": ["--repeats", "1"],
    "anatomy_speed.py": [],
    "inside_speed.py": ["--quick"],
    "residual_stream.py": ["--repeats", "1"],
    "memory.py": ["--calls", "40"],
    "live_preset.py": ["--seeds", "1"],
    "live_browser.py": ["--rounds", "1"], "first_visit.py": ["--rounds", "1"],
    "server_overhead.py": ["--repeats", "3"],
    "load_classify.py": ["--seconds", "10"],
}


def main() -> int:
    quick = "--quick" in sys.argv
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"# Benchmarks — {cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}\n"
    )
    failed = []
    for script, extra in FULL:
        args = extra + (QUICK[script] if quick else [])
        print(f"## {script} {' '.join(args)}\n", flush=True)
        rc = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{script.removesuffix('.py')}", *args], cwd=HERE.parent
        ).returncode
        if rc:
            failed.append(script)
        print(flush=True)
    print("missed targets: " + (", ".join(failed) if failed else "none"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
