"""Helpers more than one tab uses."""
from __future__ import annotations

import functools
from typing import Any

from ..data import CifarData, load_bundled


@functools.lru_cache(maxsize=1)
def bundled_data() -> CifarData:
    return load_bundled()  # read-only tensors, shared safely between sessions


def upload_path(payload: Any) -> str | None:
    """The image events run with preprocess=False (gr.Image would open the file with PIL first and turn a
    bad file into a generic error); the payload is Gradio's FileData, already checked to be in its cache."""
    if not payload:
        return None
    if isinstance(payload, dict):
        return payload.get("path")
    return str(payload)
