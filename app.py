"""ResNet Lab: python app.py [--host H] [--port P] [--share]"""
from __future__ import annotations

import argparse
import importlib
import os

from resnet_demo.base.settings import settings


def main() -> None:
    env = settings()  # imports neither torch nor gradio: --help answers at once
    p = argparse.ArgumentParser(description="ResNet Lab: why deep residual learning works (Gradio app)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="interface to listen on (0.0.0.0 for all; default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    p.add_argument("--share", action="store_true", help="also serve on a public *.gradio.live link")
    p.add_argument("--queue-size", type=int, default=env.queue_size,
                   help="requests waiting beyond this are turned away with a 'queue full' message")
    args = p.parse_args()

    from resnet_demo.ui import CSS, PAGE_JS, build_demo, theme  # gradio and torch load here, after --help

    demo = build_demo()
    demo.queue(max_size=args.queue_size, default_concurrency_limit=1)
    # Offline, --share prints "Could not create share link" and keeps serving locally (Gradio's behaviour).
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=env.max_bytes, css=CSS,
                theme=theme(), js=PAGE_JS, prevent_thread_lock=True)
    # The server is up. torchvision (~1 s: it imports torch._dynamo) was kept out of the start; import it now,
    # before the first page load needs it (the Anatomy tab builds torchvision's nets).
    importlib.import_module("torchvision")
    demo.block_thread()


if __name__ == "__main__":
    main()
