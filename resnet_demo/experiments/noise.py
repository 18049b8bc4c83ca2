"""How sure a difference is: the one rule every verdict in the app follows, and the measured noise it uses.

The rule: a difference is called (higher, lower, better, worse) only when it exceeds twice its noise σ, one
standard error of the difference; otherwise the app says "within noise (±2σ)". Two sources are measured:

- test-set sampling: an error measured on n images has the binomial σ = sqrt(p(1 - p) / n); for two nets that
  answer the same images (the kept checkpoints, assets/noise/test_predictions.json) the difference has the
  paired σ of the per-image differences (McNemar's comparison), smaller than the two binomials together;
- seeds: the standard deviation of a net's final error over training runs that differ only in their seed
  (init, batch order, augmentation): the stored run (seed 0) and those in assets/runs/seeds/. It is pooled
  over the nets that have two or more seeds and applied to every net of the same recipe.

Each ``Diff`` names the sources it includes, so a verdict made before the seed runs exist says so.
"""
from __future__ import annotations

import base64
import functools
import math
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base.paper import net_label
from ..base.settings import ASSETS, RUNS_DIR
from ..base.stored import Stored
from ..base.stored import read as read_stored
from ..nets.runs import final, load_run

Z = 2.0  # a difference is called only beyond Z times its standard error
PREDICTIONS_FILE = ASSETS / "noise" / "test_predictions.json"
SEEDS_DIR = RUNS_DIR / "seeds"

RULE = ("A difference is called only when it is larger than twice its noise, the standard error of the difference; "
        "otherwise it is “within noise (±x)”, x being that twice. The noise is measured: the test-set sampling "
        "error (binomial; paired, McNemar-style, when two kept nets answer the same test images) and, where "
        "extra seeds are stored, the spread of the final error between seeds.")


@dataclass(frozen=True)
class Diff:
    """A difference in points (percent) and its noise σ in points, with the sources σ includes."""

    value: float
    sigma: float
    sources: tuple[str, ...] = ()

    @property
    def called(self) -> bool:
        return abs(self.value) > Z * self.sigma

    @property
    def sign(self) -> int:
        """+1 or -1 when called, 0 when within noise."""
        return 0 if not self.called else (1 if self.value > 0 else -1)

    @property
    def margin(self) -> float:
        return Z * self.sigma

    def text(self, up: str = "higher", down: str = "lower") -> str:
        """"+1.34 points, higher (noise ±0.61)" or "+0.22 points, within noise (±0.96)"."""
        if not self.called:
            return f"{self.value:+.2f} points, within noise (±{self.margin:.2f})"
        return f"{self.value:+.2f} points, {up if self.value > 0 else down} (noise ±{self.margin:.2f})"


def diff(value: float, *sigmas: tuple[str, float | None]) -> Diff:
    """A Diff from its value (points) and named independent noise terms (points; None: not measured, left out)."""
    parts = [(name, s) for name, s in sigmas if s is not None]
    return Diff(value, math.sqrt(sum(s * s for _, s in parts)), tuple(name for name, _ in parts))


def binomial_sigma(error: float, n: int) -> float:
    """σ in points of an error rate (a fraction) measured on n independent images."""
    return 100 * math.sqrt(max(error * (1 - error), 0.0) / n)


def paired_sigma(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """σ in points of the difference of two error rates measured on the same images (bool arrays, True = right):
    the standard error of the mean per-image difference, which only the images the two disagree on move."""
    d = correct_a.astype(np.float64) - correct_b.astype(np.float64)
    return 100 * math.sqrt(d.var(ddof=1) / len(d))


# -- the stored measurements -------------------------------------------------------------------------------------
def stored() -> Stored | None:
    """Each kept checkpoint's answers on the 10,000 test images (assets/noise/test_predictions.json, from
    ``python -m scripts.test_predictions``) and its provenance; None when absent."""
    return read_stored(PREDICTIONS_FILE)


def train_error_images(run: dict[str, Any]) -> int:
    """How many images a run's final training error was measured on: the fixed training sample at the end when it
    was measured, else the last ``smoothing`` batches (the stored runs: 50 of 128)."""
    rec = run.get("recipe", {})
    if final(run.get("train_error_measured") or []) is not None:
        return rec.get("train_eval_images") or 1000
    return rec.get("smoothing", 50) * run.get("batch_size", 128)


def decode_answers(rec: dict[str, Any]) -> np.ndarray:
    """One stored net's answers (test_predictions.json): a bool per test image, True = right."""
    return np.unpackbits(np.frombuffer(base64.b64decode(rec["correct"]), dtype=np.uint8))[:rec["images"]].astype(bool)


@functools.lru_cache(maxsize=1)
def predictions() -> dict[str, np.ndarray]:
    """{net label: bool array over the 10,000 test images, True = right} for every kept checkpoint."""
    found = stored()
    return {name: decode_answers(rec) for name, rec in (found.data["nets"] if found else {}).items()}


@functools.lru_cache(maxsize=1)
def seed_runs() -> tuple[dict[str, Any], ...]:
    """The extra-seed runs in assets/runs/seeds/ (the same recipe as the stored run of that net, another seed)."""
    return tuple(load_run(p) for p in sorted(SEEDS_DIR.glob("*.json")))


def seed_groups(runs: list[dict[str, Any]], extra: tuple[dict[str, Any], ...] | None = None
                ) -> dict[str, list[dict[str, Any]]]:
    """{net label: its runs, seed 0 first} over ``runs`` (the stored ones) and the seed runs of the same nets."""
    extra = seed_runs() if extra is None else extra
    groups = {net_label(r["arch"], r["depth"]): [r] for r in runs}
    for r in extra:
        label = net_label(r["arch"], r["depth"])
        if label in groups and r["seed"] not in {x["seed"] for x in groups[label]}:
            groups[label].append(r)
    return groups


def spread(group: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """{"values", "mean", "sd" (None with one seed), "seeds"} of the final ``key`` error over a net's runs, in
    points."""
    values = [100 * final(r[key]) for r in group if final(r[key]) is not None]
    return {"values": values, "mean": statistics.mean(values) if values else None,
            "sd": statistics.stdev(values) if len(values) >= 2 else None, "seeds": [r["seed"] for r in group]}


def pooled_seed_sd(groups: dict[str, list[dict[str, Any]]], key: str) -> float | None:
    """The seed-to-seed s.d. of the final ``key`` error in points, pooled over the nets with two or more seeds
    (None when no net has)."""
    num = den = 0.0
    for group in groups.values():
        values = spread(group, key)["values"]
        if len(values) >= 2:
            num += statistics.variance(values) * (len(values) - 1)
            den += len(values) - 1
    return math.sqrt(num / den) if den else None


class Noise:
    """The noise of comparisons between the stored runs: seed spread from the seed runs, test-set sampling from
    the kept checkpoints' answers (paired) or the binomial (a net whose checkpoint is not kept)."""

    def __init__(self, runs: list[dict[str, Any]], extra: tuple[dict[str, Any], ...] | None = None,
                 answers: dict[str, np.ndarray] | None = None) -> None:
        self.groups = seed_groups(runs, extra)
        self.answers = predictions() if answers is None else answers
        self.seed_sd = {key: pooled_seed_sd(self.groups, key) for key in ("test_error", "train_error")}

    def value(self, label: str, key: str) -> float:
        """A net's final error in points: the mean over its stored seeds."""
        return spread(self.groups[label], key)["mean"]

    def seeds(self, label: str) -> int:
        return len(self.groups[label])

    def _seed_term(self, label: str, key: str) -> float | None:
        sd = self.seed_sd[key]
        return None if sd is None else sd / math.sqrt(self.seeds(label))

    def sampling(self, label: str, key: str) -> float:
        """σ in points of one net's error from sampling: the test images, or the last batches (training error)."""
        run = self.groups[label][0]
        p = final(run[key])
        n = run.get("test_images", 10000) if key == "test_error" else train_error_images(run)
        return binomial_sigma(p, n)

    def one(self, label: str, key: str) -> Diff:
        """One net's error with its noise (value = the error, in points)."""
        return diff(self.value(label, key), ("sampling", self.sampling(label, key)),
                    ("seeds", self._seed_term(label, key)))

    def single(self, label: str, key: str) -> Diff:
        """The stored (seed 0) run's own error with the noise of one run: sampling and one seed's spread."""
        return diff(100 * final(self.groups[label][0][key]), ("sampling", self.sampling(label, key)),
                    ("seeds", self.seed_sd[key]))

    def steps(self, labels: list[str], key: str) -> list[tuple[str, str, Diff]]:
        """Each step along ``labels`` (shallow to deep): (a, b, b's error minus a's with its noise)."""
        return [(a, b, self.compare(a, b, key)) for a, b in zip(labels, labels[1:])]

    def compare(self, a: str, b: str, key: str) -> Diff:
        """b's error minus a's, in points, with its noise."""
        value = self.value(b, key) - self.value(a, key)
        if key == "test_error" and a in self.answers and b in self.answers:
            sampling = ("paired test images", paired_sigma(self.answers[a], self.answers[b]))
        else:
            what = "test images" if key == "test_error" else "last batches"
            sampling = (what, math.hypot(self.sampling(a, key), self.sampling(b, key)))
        seeds = [self._seed_term(x, key) for x in (a, b)]
        seed_term = None if None in seeds else math.hypot(*seeds)
        return diff(value, sampling, ("seeds", seed_term))

    def sources_text(self) -> str:
        """Which noise the comparisons include, for a provenance line."""
        measured = {label: len(g) for label, g in self.groups.items() if len(g) >= 2}
        if not measured:
            return ("Noise: test-set sampling only (binomial, paired where both checkpoints are kept); the "
                    "seed-to-seed spread is not measured yet (extra-seed runs of ResNet-20 and ResNet-56 are "
                    "training: scripts/stored_runs.sh).")
        sd = self.seed_sd
        return ("Noise: test-set sampling (binomial, paired where both checkpoints are kept) and the seed-to-seed "
                f"s.d. of the final error, pooled over {', '.join(f'{k} ({n} seeds)' for k, n in measured.items())}: "
                f"{sd['test_error']:.2f} points of test error, {sd['train_error']:.2f} of training error, applied "
                "to every net of the recipe.")
