"""A small keyed store of recent results, shared by the server's requests."""
from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import Any


class Recent:
    """The last ``size`` results, each under an unguessable key the page holds (in a hidden textbox), so that a
    follow-up request reads it instead of computing it again: Classify's "inside one block" redraws the stream
    it shows (~0.6 MB a ResNet-50 stream). Not a gr.State: any State makes Gradio hold a heartbeat connection
    open for every visitor, and the page never goes idle."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, item: Any) -> str:
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._items[key] = item
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return key

    def get(self, key: str | None):
        with self._lock:
            return self._items.get(key or "")
