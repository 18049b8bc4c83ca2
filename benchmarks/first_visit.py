"""The first visit to a freshly started server against the second: time to network idle and server CPU.

    python -m benchmarks.first_visit [--rounds 2] [--chromium /usr/bin/chromium]

Per round: a fresh ``python app.py`` on loopback (as a Space that was asleep), then two page loads in
headless Chromium, each in a new browser context (no cache), each timed from navigation to network idle
(no request for 500 ms), with the server's CPU time over the load read from /proc/PID/stat (user + system,
the app's process and its children). Targets (issue #29): first visit within 1.5x the second's time to
network idle, and its server CPU <= 3 s.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from benchmarks._common import seeded_torch_home, start_app

TARGET_RATIO, TARGET_CPU_S = 1.5, 3.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its waited-for children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def visit(browser, url: str, pid: int) -> tuple[float, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    cpu0, t0 = cpu_seconds(pid), time.perf_counter()
    page.goto(url, wait_until="networkidle", timeout=300_000)
    page.get_by_text("The paper, claim by claim").first.wait_for(timeout=300_000)  # the first tab is on screen
    page.wait_for_load_state("networkidle", timeout=300_000)
    took, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
    context.close()
    return took, cpu


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    from resnet_demo.base.stored import cpu_name

    home = seeded_torch_home()
    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium,
                                     args=["--headless", "--no-sandbox", "--disable-gpu",
                                           "--disable-background-networking", "--disable-component-update"])
        for _ in range(args.rounds):
            proc, url, _ = start_app(home)
            try:
                time.sleep(3)  # the server's start-up (it imports torchvision once it listens) is not the page load
                rows.append((*visit(browser, url, proc.pid), *visit(browser, url, proc.pid)))
            finally:
                proc.terminate()
                proc.wait(30)
        browser.close()
    first_t, first_cpu, second_t, second_cpu = (statistics.median(r[i] for r in rows) for i in range(4))
    ratio = first_t / second_t
    print(f"{cpu_name()}, {os.cpu_count()} CPUs; {args.rounds} fresh servers; medians\n")
    print("| | first visit | second visit | ratio | target |\n|---|---|---|---|---|")
    print(f"| to network idle | {first_t:.1f} s | {second_t:.1f} s | {ratio:.2f} | ≤ {TARGET_RATIO} |")
    print(f"| server CPU for the page load | {first_cpu:.1f} s | {second_cpu:.1f} s | | ≤ {TARGET_CPU_S} s (first) |")
    ok = ratio <= TARGET_RATIO and first_cpu <= TARGET_CPU_S
    print("targets: " + ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
