"""Helpers more than one tab uses."""
from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import gradio as gr

from ..serving import live


def upload_path(payload: Any) -> str | None:
    """The image events run with preprocess=False (gr.Image would open the file with PIL first and turn a
    bad file into a generic error); the payload is Gradio's FileData, already checked to be in its cache."""
    if not payload:
        return None
    if isinstance(payload, dict):
        return payload.get("path")
    return str(payload)


class TempSlots:
    """A bounded folder for the files the app returns (heatmaps, downloads): ``slots`` subfolders used in
    turn, each emptied when its turn comes again, so at most ``slots`` requests' files exist at once,
    however many requests come. Gradio copies a returned path into its own cache as the function returns
    (its ``delete_cache`` ages those), so ours only has to outlive the next few requests; and a copy that
    has the old file open keeps reading it when the slot is reused. One folder per process (made at first
    use, removed at exit), so two apps on one machine never empty each other's."""

    def __init__(self, name: str, slots: int) -> None:
        self.name, self.slots = name, slots
        self.root: Path | None = None
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def next(self) -> Path:
        """An empty folder for one request's files."""
        with self._lock:
            if self.root is None:
                self.root = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
                atexit.register(shutil.rmtree, self.root, ignore_errors=True)
            folder = self.root / f"slot-{next(self._turn) % self.slots:03d}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
        return folder

    def files(self) -> list[Path]:
        return [p for p in self.root.rglob("*") if p.is_file()] if self.root is not None else []


def session_key(request: Any) -> str:
    """The visitor's session (Gradio's hash), or one shared key for calls without one."""
    return request.session_hash if request is not None and request.session_hash else "anonymous"


STOPPED_IN_QUEUE = "Stopped before it started (it was waiting for another run to finish)."
STARTING_WORKERS = "Starting the two training processes (the first run after the app starts)…"


class RunStops:
    """One live run's Stop button, per session (``live.StopFlags``): ``arm`` at the click, before the run joins
    the queue (it also shows the run's box), so that Stop reaches a run still waiting; ``stop`` from the button;
    ``start`` when the run starts (None: Stop came while it waited, and the flag is released); ``release`` when it
    ends. The Depth tab's run and the shortcut lab's each have their own."""

    def __init__(self) -> None:
        self.flags = live.StopFlags()

    def arm(self, request: gr.Request):
        self.flags.arm(session_key(request))
        return gr.update(visible=True)

    def stop(self, request: gr.Request) -> None:
        self.flags.stop(session_key(request))

    def start(self, request: Any) -> threading.Event | None:
        flag = self.flags.arm(session_key(request))  # armed at the click, or now (API)
        if flag.is_set():
            self.flags.release(session_key(request), flag)
            return None
        return flag

    def release(self, request: Any, flag: threading.Event) -> None:
        self.flags.release(session_key(request), flag)

    def __len__(self) -> int:
        return len(self.flags)


def live_status(snap: live.Snapshot, together: str | None = None) -> str:
    """A live run's progress line: where it is and how long it has taken on this server, with its throughput when
    ``together`` names the nets it counts ("four nets"); a finished or stopped run never says what is left."""
    it, total, el = snap.iteration, snap.total, snap.elapsed_s
    rate = f" · {snap.images_per_s:.0f} images/s ({together} together)" if together else ""
    if it >= total or snap.stopped:
        text = f"Done: **{it}/{total}** iterations in {el:.0f} s on this server{rate}"
    else:
        left = el / max(it, 1) * (total - it)
        text = (f"Iteration **{it}/{total}**{rate} · elapsed {el:.0f} s · about {left:.0f} s left (measured on this "
                "run)")
    return text + (f" · ended early: {snap.stopped}" if snap.stopped else "")
