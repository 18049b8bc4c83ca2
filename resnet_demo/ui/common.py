"""Helpers more than one tab uses."""
from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any


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
