"""The default live run clicked in a real browser against the same run through the API, one app, one run.

    python -m benchmarks.live_browser [--rounds 3] [--chromium /usr/bin/chromium]

Starts ``python app.py`` on loopback, starts its training processes once (a run cancelled after its first
update), then alternates: the default preset ("1 minute", depths 20/56, seed 0) through gradio_client's
``/train_live``, and the same run started by clicking "Train live" in headless Chromium (as the E2E tests
drive it) with the Depth tab open and its plot redrawn at every update. Each run's time is the server's own
"elapsed" (the status line / the result's ``elapsed_s``) and the client's wall time from submit/click to
the verdict. Target (issue #13): browser <= 1.3x API, medians.

First, the first action on a fresh server (issue #29): a new app, the page opened and "Train live" clicked
at once (the workers start then), against a new app whose first request is the same run through the API.
Target: browser <= 1.3x API, client wall time.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time

from benchmarks._common import seeded_torch_home, start_app

TARGET = 1.3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    args = p.parse_args()
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    from resnet_demo.base.stored import cpu_name

    home = seeded_torch_home()
    first = first_actions(home, args.chromium)
    proc, url, _ = start_app(home)
    api, browser_runs = [], []
    try:
        client = Client(url, verbose=False)
        job = client.submit("1 minute", 20, 56, True, 0, False, api_name="/train_live")
        while not job.outputs() or "images/s" not in str(job.outputs()[-1]):  # the workers are up
            time.sleep(0.2)
        job.cancel()
        time.sleep(3)
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=args.chromium, args=["--headless", "--no-sandbox",
                                                                                "--disable-gpu"])
            page = chromium.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(url)
            page.get_by_role("tab", name="Depth").click()
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            time.sleep(10)  # the page's first-view results (computed once on the first load) are done
            for r in range(args.rounds):
                t0 = time.perf_counter()
                *_, result = client.predict("1 minute", 20, 56, True, 0, False, api_name="/train_live")
                api.append((result["elapsed_s"], time.perf_counter() - t0))
                print(f"round {r}: API {api[-1][0]:.1f} s (client {api[-1][1]:.1f} s)", flush=True)
                t0 = time.perf_counter()
                page.get_by_role("button", name="Train live").click()
                verdict = page.get_by_text("Verdict:").first
                verdict.wait_for(timeout=400_000)
                wall = time.perf_counter() - t0
                status = page.locator("p", has_text="images/s").first.inner_text()
                elapsed = float(re.search(r"elapsed (\d+) s", status).group(1))
                browser_runs.append((elapsed, wall))
                print(f"round {r}: browser {elapsed:.0f} s (client {wall:.1f} s): {status}", flush=True)
                page.reload()
                page.get_by_role("tab", name="Depth").click()
                page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            chromium.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    a, b = statistics.median(x for x, _ in api), statistics.median(x for x, _ in browser_runs)
    ac, bc = statistics.median(x for _, x in api), statistics.median(x for _, x in browser_runs)
    print(f"\n{cpu_name()}; median of {args.rounds}")
    print("| started from | server elapsed s | client wall s |\n|---|---|---|")
    print(f"| gradio_client /train_live | {a:.1f} | {ac:.1f} |\n| Chromium click | {b:.0f} | {bc:.1f} |")
    ratio = bc / ac
    print(f"browser / API (client wall): {ratio:.2f} (target <= {TARGET}) -> {'PASS' if ratio <= TARGET else 'FAIL'}")
    (fa, fac), (fb, fbc) = first["api"], first["browser"]
    first_ratio = fbc / fac
    print("\n| the first action on a fresh server | server elapsed s | client wall s |\n|---|---|---|")
    print(f"| gradio_client /train_live | {fa:.1f} | {fac:.1f} |\n| Chromium: open the page, click at once | "
          f"{fb:.0f} | {fbc:.1f} |")
    print(f"browser / API (client wall): {first_ratio:.2f} (target <= {TARGET}) -> "
          f"{'PASS' if first_ratio <= TARGET else 'FAIL'}")
    return 0 if ratio <= TARGET and first_ratio <= TARGET else 1


def first_actions(home: str, chromium_path: str) -> dict[str, tuple[float, float]]:
    """The default run as the first thing a fresh server is asked, from the API and from a page opened and
    clicked at once: {"api": (server elapsed, client wall), "browser": (...)}."""
    from gradio_client import Client
    from playwright.sync_api import sync_playwright

    out = {}
    proc, url, _ = start_app(home)
    try:
        time.sleep(3)  # the server's own start-up (torchvision's import once it listens)
        t0 = time.perf_counter()
        *_, result = Client(url, verbose=False).predict("1 minute", 20, 56, True, 0, False, api_name="/train_live")
        out["api"] = (result["elapsed_s"], time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    proc, url, _ = start_app(home)
    try:
        time.sleep(3)
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=chromium_path, args=["--headless", "--no-sandbox",
                                                                               "--disable-gpu"])
            page = chromium.new_page(viewport={"width": 1300, "height": 1000})
            t0 = time.perf_counter()
            page.goto(url)
            page.get_by_role("tab", name="Depth").click()
            page.get_by_role("button", name="Train live").click()
            page.get_by_text("Verdict:").first.wait_for(timeout=400_000)
            wall = time.perf_counter() - t0
            status = page.locator("p", has_text="images/s").first.inner_text()
            out["browser"] = (float(re.search(r"elapsed (\d+) s", status).group(1)), wall)
            chromium.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return out


if __name__ == "__main__":
    sys.exit(main())
