"""N concurrent gradio_client users calling /classify for T seconds, optionally with a live training.

    python -m benchmarks.load_classify [--users 4] [--seconds 30] [--with-training] [--model resnet18]

Prints requests/s, latency p50/p95, errors (must be 0) and the server's memory before and after.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time

from benchmarks._common import rss_mb, seeded_torch_home, start_app
from resnet_demo.base.settings import EXAMPLES_DIR


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--users", type=int, default=4)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--model", default="resnet18")
    p.add_argument("--with-training", action="store_true", help="run a live training at the same time")
    args = p.parse_args()
    from gradio_client import Client, handle_file

    proc, url, _ = start_app(seeded_torch_home())
    photo = str(EXAMPLES_DIR / "chelsea.png")
    try:
        warm = Client(url, verbose=False)
        warm.predict(handle_file(photo), "", args.model, api_name="/classify")  # load the model once
        rss_before = rss_mb(proc.pid)
        training = None
        if args.with_training:
            training = warm.submit("1 minute", 20, 56, True, 0, False, api_name="/train_live")
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        end = time.perf_counter() + args.seconds

        def user() -> None:
            client = Client(url, verbose=False)
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                try:
                    label, _, _ = client.predict(handle_file(photo), "", args.model, api_name="/classify")
                    assert len(label["confidences"]) == 5
                    with lock:
                        latencies.append(time.perf_counter() - t0)
                except Exception as e:  # noqa: BLE001 -- every failure is counted and printed
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}")

        t_start = time.perf_counter()
        threads = [threading.Thread(target=user) for _ in range(args.users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t_start
        rss_after = rss_mb(proc.pid)
        train_note = ""
        if training is not None:
            out = training.result(timeout=600)
            train_note = (
                f"; live training finished alongside: {len(out[-1]['runs'])} runs, {out[-1]['elapsed_s']:.0f} s"
            )
        q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
        print("| users | seconds | requests | req/s | p50 ms | p95 ms | errors | RSS before MB | RSS after MB |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(
            f"| {args.users} | {wall:.0f} | {len(latencies)} | {len(latencies) / wall:.2f} | "
            f"{statistics.median(latencies) * 1000:.0f} | {q[18] * 1000:.0f} | {len(errors)} | {rss_before:.0f} | "
            f"{rss_after:.0f} |"
        )
        print(f"model {args.model}{', with a live training running' if args.with_training else ''}{train_note}")
        for e in errors[:5]:
            print("error:", e)
        return 1 if errors else 0
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
