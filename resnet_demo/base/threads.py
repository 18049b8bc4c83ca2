"""CPU settings that every thread doing torch work needs, and the one thread the server's requests use.

Denormals: deep random-init nets produce denormal floats, which are far slower on x86.
``torch.set_flush_denormal`` sets FTZ/DAZ for the *calling* thread only. OpenMP worker threads are created
lazily by the first parallel region a thread runs and inherit that thread's floating-point environment when
they are created (pthread_create copies it), so calling ``flush_denormals`` at the start of every request
handler, before its first torch op, covers the handler thread and its team.

One inference thread: torch's OpenMP (GNU libgomp) gives every thread that runs a parallel region a team of
its own, and keeps it while that thread lives. Once more threads are in teams than there are CPUs, libgomp
makes every team's workers sleep after each parallel region instead of spinning, and each of the hundreds of
regions in a forward pass then waits for a wake-up. ``on_inference_thread`` runs every request's torch work on
one long-lived thread, so one team serves them all.

Small nets on one thread: a CIFAR net at batch 1 runs hundreds of parallel regions of a few microseconds, and
a second OpenMP thread only adds the hand-offs. ``torch_threads`` sets the count for one block on the calling
thread only (OpenMP's thread count is per thread: other threads keep theirs).

The measurements behind each choice: docs/performance.md ("Model time inside the server").
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")
INFERENCE_THREAD = "resnet-lab-inference"


def flush_denormals() -> None:
    torch.set_flush_denormal(True)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """This thread's torch intra-op thread count set to ``n`` for the block (None: unchanged), then restored."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


_inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix=INFERENCE_THREAD, initializer=flush_denormals)


def on_inference_thread(fn: Callable[..., T], *args, **kwargs) -> T:
    """``fn(*args, **kwargs)`` run on the process's one inference thread (requests queue for it, in
    order), with the caller's context variables (Gradio's progress bar finds its request through them);
    its result or exception is the caller's. Called from that thread, it simply calls ``fn``."""
    if threading.current_thread().name.startswith(INFERENCE_THREAD):
        return fn(*args, **kwargs)
    return _inference.submit(contextvars.copy_context().run, fn, *args, **kwargs).result()
