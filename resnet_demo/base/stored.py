"""A stored result: its data and one provenance record, and the one way the app shows how it was computed.

Every file a script writes to ``assets/`` (``scripts/``) is ``{"provenance": {...}, ...data}``, written by
``write`` and read by ``read``, once per process and file. The provenance has one set of keys: ``command``,
``machine``, ``threads``, ``date``, ``wall_s``, and ``notes`` (torch version, data, anything else worth
saying). A RUN (``nets/runs.py``) keeps its own schema's names (``command``, ``device``, ``wall_seconds``),
read through ``Provenance.of_run``. ``how_computed`` renders any provenance text as the collapsed "How this
was computed" block that ends a Markdown output.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

_THREADS = re.compile(r",? (\d+) threads?$")


@dataclasses.dataclass(frozen=True)
class Provenance:
    command: str
    machine: str
    threads: int | None = None
    date: str = ""
    wall_s: float | None = None
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def measured(cls, t0: float, module: str, **notes: Any) -> Provenance:
        """This process's provenance, for a script about to store its result: the command that ran it, this
        machine, torch's thread count, today, and the wall time since ``t0`` (``time.perf_counter()``)."""
        import torch  # noqa: PLC0415 (scripts only; the app reads the records)

        machine = f"cpu ({cpu_name()}, {torch.backends.cpu.get_cpu_capability()})"
        return cls(" ".join(["python -m", module, *map(shlex.quote, sys.argv[1:])]), machine,
                   torch.get_num_threads(), time.strftime("%Y-%m-%d"), round(time.perf_counter() - t0, 1),
                   {"torch": torch.__version__, **notes})

    @classmethod
    def of_run(cls, run: dict[str, Any]) -> Provenance:
        """A RUN's provenance: its device label carries the thread count (``trainer.device_label``)."""
        machine, threads = split_threads(run.get("device", ""))
        return cls(run.get("command", ""), machine, threads, run.get("date", ""), run.get("wall_seconds"))

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Provenance:
        return cls(d["command"], d["machine"], d.get("threads"), d.get("date", ""), d.get("wall_s"),
                   dict(d.get("notes", {})))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        """One sentence: "`command` on machine, N threads, date, in wall time." (the parts it has)."""
        parts = [self.machine]
        if self.threads:
            parts.append(f"{self.threads} thread{'s' if self.threads > 1 else ''}")
        if self.date:
            parts.append(self.date)
        text = f"`{self.command}` on {', '.join(parts)}"
        if self.wall_s is not None:
            text += f", in {wall_text(self.wall_s)}"
        return text + "."


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform  # noqa: PLC0415
    return platform.processor() or "unknown CPU"


def split_threads(device: str) -> tuple[str, int | None]:
    """"cpu (AMD EPYC, AVX512), 2 threads" -> ("cpu (AMD EPYC, AVX512)", 2)."""
    m = _THREADS.search(device)
    return (device[: m.start()], int(m.group(1))) if m else (device, None)


def wall_text(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


@dataclasses.dataclass(frozen=True)
class Stored:
    data: dict[str, Any]
    provenance: Provenance


def read(path: Path) -> Stored | None:
    """The stored result at ``path``, or None where there is none; read once per process (a copy of its data
    is the caller's to change)."""
    return _read(Path(path))


@functools.lru_cache(maxsize=32)
def _read(path: Path) -> Stored | None:
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    return Stored(d, Provenance.from_json(d.pop("provenance")))


def write(path: Path, data: dict[str, Any], provenance: Provenance, *, indent: int | None = None) -> None:
    """Store ``data`` with its provenance at ``path`` (JSON, written atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    sep = None if indent else (",", ":")
    tmp.write_text(json.dumps({"provenance": provenance.to_json(), **data}, indent=indent, separators=sep))
    tmp.replace(path)
    _read.cache_clear()


def how_computed(text: str) -> str:
    """Provenance (commands, machine, threads, wall time) for the end of a Markdown output: collapsed under
    "How this was computed", so the prose a student reads stays about the result."""
    return f"\n\n<details><summary>How this was computed</summary>\n\n{text.strip()}\n\n</details>"
