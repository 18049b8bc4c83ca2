"""The same model call in this process and inside the served app (issue #13: per-request overhead).

    python -m benchmarks.server_overhead [--models cifar-resnet20 resnet18 resnet50] [--repeats 20]

In-process: ``classifiers.classify`` (forward + Grad-CAM, what the tab runs) called in a loop on a photo.
Served: ``python app.py`` on loopback, ``/classify`` called with the same photo and model one request at a
time, and the "model time" row of the details table read back -- the same clock around the same calls,
inside the server. Medians of ``--repeats`` after two warm-up calls; the ratio is served / in-process
(target <= 1.15).

The client runs on the same 2 cores as the server, so it is made to cost as little as a browser on another
machine would: by default it speaks Gradio's REST API with the standard library (upload, ``/call/classify``,
read the event stream: what ``curl`` does, ~1 ms of CPU a call) and lowers its own priority
(``--client-nice``) once the app has started. ``--client gradio_client`` uses gradio_client instead, which
spends ~75 ms of CPU a call, some of it while the model runs: the model then waits for the core it took
(measured, Zen 4: ResNet-18 9.2 ms in-process, 10.0 ms served with the REST client, 13-19 ms with
gradio_client even at nice 19; the inference thread was preempted 12-29 times a call). That cost is the
client's, not the server's.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import urllib.request
import uuid
from pathlib import Path

from benchmarks._common import seeded_torch_home, start_app
from resnet_demo.base.settings import EXAMPLES_DIR

TARGET = 1.15


def _upload(url: str, path: Path) -> str:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        f"{url}gradio_api/upload", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)[0]


def rest_classify(url: str, photo: Path, key: str) -> str:
    """/classify through Gradio's REST API (as curl calls it); returns the details markdown."""
    data = [{"path": _upload(url, photo), "meta": {"_type": "gradio.FileData"}}, "", key]
    req = urllib.request.Request(
        f"{url}gradio_api/call/classify", json.dumps({"data": data}).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        event_id = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/classify/{event_id}", timeout=120) as r:
        event = None
        for raw in r:
            line = raw.decode().rstrip("\n")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"/classify failed: {line[5:]}")
                return json.loads(line[5:])[2]
    raise RuntimeError("/classify: the event stream ended without a result")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["cifar-resnet20", "resnet18", "resnet50"])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--photo", default="chelsea.png")
    p.add_argument(
        "--client", choices=("rest", "gradio_client"), default="rest", help="how requests are sent (see above)"
    )
    p.add_argument("--client-nice", type=int, default=19, help="the client's niceness while it calls the app")
    args = p.parse_args()
    import torch
    from gradio_client import Client, handle_file

    from resnet_demo.base.stored import cpu_name
    from resnet_demo.serving import classifiers
    from resnet_demo.serving.images import decode_image

    home = seeded_torch_home(tuple(m for m in args.models if not m.startswith("cifar-")))
    photo = EXAMPLES_DIR / args.photo
    image = decode_image(photo.read_bytes())
    print(
        f"{cpu_name()}, torch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()}), "
        f"{torch.get_num_threads()} threads; {args.photo}; medians of {args.repeats}; client {args.client} at "
        f"nice {args.client_nice}"
    )
    inproc = {}
    for key in args.models:  # called back to back
        inproc[key] = statistics.median(
            [classifiers.classify(image, key).model_ms for _ in range(args.repeats + 2)][2:]
        )
    proc, url, _ = start_app(home)
    os.nice(args.client_nice)  # this process only: the app started at the usual priority
    served = {}
    try:
        client = Client(url, verbose=False) if args.client == "gradio_client" else None
        for key in args.models:
            times = []
            for _ in range(args.repeats + 2):
                if client is None:
                    details = rest_classify(url, photo, key)
                else:
                    _, _, details = client.predict(handle_file(str(photo)), "", key, api_name="/classify")
                times.append(float(re.search(r"\| model time \| ([\d.]+) ms", details).group(1)))
            served[key] = statistics.median(times[2:])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print("| model | backend | in-process ms | served ms | ratio |\n|---|---|---|---|---|")
    missed = []
    for key in args.models:
        ratio = served[key] / inproc[key]
        missed += [key] if ratio > TARGET else []
        print(
            f"| {key} | {classifiers.MODELS.get(key).info.get('backend', 'torch')} | {inproc[key]:.1f} | "
            f"{served[key]:.1f} | "
            f"{ratio:.2f} |"
        )
    print(f"target: served <= {TARGET}x in-process -> " + ("PASS" if not missed else f"FAIL ({', '.join(missed)})"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
