"""The training engine: a generator of metrics, shared by the command line (``train.py``), the live demo and the
gradient-flow race.

Defaults are the paper's CIFAR-10 recipe (section 4.2): SGD, momentum 0.9, weight decay 1e-4, batch 128,
lr 0.1 divided by 10 at 32k and 48k iterations, stop at 64k; ``TrainConfig.scaled`` shortens all three
keeping their proportions.

Data-parallel under torchrun: DDP, gloo on CPUs and nccl on GPUs. Every rank draws the same permutation and
augments the same global batch (so its generator stays in step with a one-process run), then trains on its
1/N share of it; gradients are averaged across ranks, so with BN off the weights follow a one-process run with
the same global batch (tested). BN layers normalise over each rank's share, as the paper's two-GPU CIFAR
training did (SyncBatchNorm has no CPU kernel).
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from ..base.paper import net_label
from ..base.stored import cpu_name
from ..base.threads import flush_denormals
from . import data as cdata
from .cifar import cifar_net


@dataclass
class TrainConfig:
    arch: str = "residual"          # "plain" (no shortcuts) or "residual"
    depth: int = 20                 # 6n+2: 20, 32, 44, 56, 110
    width: int = 16                 # filters of the first stage (the paper: 16, then 32 and 64)
    batch_norm: bool = True         # BN after every conv (off only for the gradient studies)
    shortcut: str = "A"             # "A" zero-padded identity (the paper's CIFAR choice), "B" or "C" projections
    image_size: int = 32            # inputs are area-downsampled below 32 (the live demo uses 16)
    batch_size: int = 128           # the paper's mini-batch
    lr: float = 0.1                 # the paper's initial learning rate
    momentum: float = 0.9
    weight_decay: float = 1e-4
    iterations: int = 64000         # the paper stops at 64k iterations
    milestones: tuple[int, ...] = (32000, 48000)  # lr /10 at each (the paper: 32k and 48k)
    warmup_iterations: int = 0      # lr/10 for this many iterations first
    warmup_until_error: float = 0.0  # or lr/10 until the training error (mean of the last `smoothing` batches)
                                     # is below this: the paper's ResNet-110 warm-up is 0.8 ("about 400
                                     # iterations"); the iteration it ends at is stored as warmup_ended_at
    augment: bool = True            # 4-pixel pad, random crop, horizontal flip
    eval_every: int = 2000          # test error every this many iterations and at the end (0: never)
    log_every: int = 100            # a point on the stored curves every this many iterations
    smoothing: int = 50             # training error is the mean of the last this-many batches
    train_eval_images: int = 0      # also measure error on this many training images (no augmentation) at
                                    # each evaluation: an exact "training error at the end" (0: off)
    seed: int = 0
    device: str = "cpu"             # "cpu", "cuda" or "auto"
    channels_last: bool = True      # ~1.4x faster training on CPU (measured on 2 vCPU, ResNet-20/56)
    zero_init_residual: bool = False  # not the paper: start each block's last BN at 0 (labelled option)
    unit: str = "original"          # He et al. 2016's units and shortcuts (nets/variants.py, the shortcut lab);
    shortcut_kind: str = "identity"  # the defaults build the paper's nets exactly as before
    gate_bias: float = 0.0          # b_g, where a gated shortcut's gate starts (He et al. 2016, Table 1)

    def scaled(self, scale: float) -> TrainConfig:
        """The same recipe with iterations and milestones multiplied by ``scale`` (a shortened schedule)."""
        return dataclasses.replace(self, iterations=max(1, round(self.iterations * scale)),
                                   milestones=tuple(max(1, round(m * scale)) for m in self.milestones))

    def lr_at(self, iteration: int) -> float:
        if iteration < self.warmup_iterations:
            return self.lr / 10
        return self.lr * 0.1 ** sum(iteration >= m for m in self.milestones)


VARIANT_DEFAULTS = {"unit": "original", "shortcut_kind": "identity", "gate_bias": 0.0}


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("CUDA was asked for but torch sees no GPU")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    return f"cpu ({cpu_name()}, {torch.backends.cpu.get_cpu_capability()}), {n} thread{'s' if n > 1 else ''}"


class Trainer:
    """One network, its optimiser and its curves; ``step()`` trains one mini-batch and returns metrics."""

    def __init__(self, cfg: TrainConfig, data: cdata.CifarData, *, name: str | None = None,
                 dataset_name: str | None = None, command: str = "") -> None:
        flush_denormals()
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        # Own generators, never torch's global RNG: concurrent requests (live training, gradient flow) with
        # the same seed get the same weights and batches as when run alone.
        self.model = cifar_net(cfg.depth, residual=cfg.arch == "residual", shortcut=cfg.shortcut,
                               batch_norm=cfg.batch_norm, width=cfg.width,
                               generator=torch.Generator().manual_seed(cfg.seed), unit=cfg.unit,
                               shortcut_kind=cfg.shortcut_kind, gate_bias=cfg.gate_bias).to(self.device)
        masks = torch.Generator().manual_seed(cfg.seed)  # the dropout shortcut's masks: this run's own RNG
        for block in self.model.blocks:
            if hasattr(block, "generator"):
                block.generator = masks
        if cfg.zero_init_residual and cfg.batch_norm:
            for block in self.model.blocks:
                torch.nn.init.zeros_(block.bn2.weight)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=cfg.lr_at(0), momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay)
        # Data-parallel when torchrun started this process (see the module docstring); one process otherwise.
        distributed = dist.is_available() and dist.is_initialized()
        self.rank, self.world_size = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
        if cfg.batch_size % self.world_size:
            raise ValueError(f"the batch of {cfg.batch_size} does not split evenly over {self.world_size} processes")
        self.net = DistributedDataParallel(self.model) if self.world_size > 1 else self.model  # what trains
        self.x_train = cdata.resize(data.x_train, cfg.image_size).to(self.device)
        self.y_train = data.y_train.to(self.device)
        self.x_test = cdata.resize(data.x_test, cfg.image_size).to(self.device)
        self.y_test = data.y_test.to(self.device)
        if len(self.x_train) < cfg.batch_size:
            raise ValueError(f"{len(self.x_train)} training images are fewer than one batch of {cfg.batch_size}")
        # Same seed -> same batches and same augmentation, whatever the architecture.
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.order = torch.empty(0, dtype=torch.int64)
        self.cursor = 0
        self.iteration = 0
        self.wall_seconds = 0.0
        self.recent: list[float] = []
        self.run: dict[str, Any] = {
            "name": name or net_label(cfg.arch, cfg.depth),
            "arch": cfg.arch, "depth": cfg.depth, "width": cfg.width, "batch_norm": cfg.batch_norm,
            "shortcut": cfg.shortcut if cfg.arch == "residual" else None,
            "dataset": dataset_name or data.name, "image_size": cfg.image_size, "batch_size": cfg.batch_size,
            "seed": cfg.seed, "device": device_label(self.device), "wall_seconds": 0.0, "command": command,
            "iterations": [], "train_error": [], "test_error": [],
            "recipe": recipe_of(cfg),
            "train_images": len(self.x_train), "test_images": len(self.x_test), "world_size": self.world_size,
        }

    # -- batches ------------------------------------------------------------------------------
    def _next_indices(self) -> torch.Tensor:
        b = self.cfg.batch_size
        if self.cursor + b > len(self.order):  # a new epoch: reshuffle, drop the remainder
            self.order = torch.randperm(len(self.x_train), generator=self.gen)
            self.cursor = 0
        idx = self.order[self.cursor:self.cursor + b]
        self.cursor += b
        return idx.to(self.device)

    def _prepare(self, x_uint8: torch.Tensor, train: bool) -> torch.Tensor:
        x = cdata.normalize(x_uint8)
        if train and self.cfg.augment:
            x = cdata.augment(x, self.gen)
        return x.contiguous(memory_format=self.memory_format)

    # -- training ---------------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        t0 = time.perf_counter()
        cfg = self.cfg
        lr = cfg.lr_at(self.iteration)
        if self.warming_up():
            lr = cfg.lr / 10
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.model.train()
        idx = self._next_indices()
        x, y = self._prepare(self.x_train[idx], train=True), self.y_train[idx]  # the whole global batch
        if self.world_size > 1:  # this rank's share of it
            share = cfg.batch_size // self.world_size
            x, y = x[self.rank * share:(self.rank + 1) * share], y[self.rank * share:(self.rank + 1) * share]
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        wrong_and_loss = torch.stack([(logits.argmax(1) != y).sum().float(), loss.detach() * len(y)])
        if self.world_size > 1:
            dist.all_reduce(wrong_and_loss)  # the global batch's error and mean loss, the same on every rank
        batch_error = wrong_and_loss[0].item() / cfg.batch_size
        self.iteration += 1
        self.recent = (self.recent + [batch_error])[-cfg.smoothing:]
        train_error = sum(self.recent) / len(self.recent)
        if self.warming_up() and len(self.recent) == cfg.smoothing and train_error < cfg.warmup_until_error:
            self.run["warmup_ended_at"] = self.iteration
        loss_value = wrong_and_loss[1].item() / cfg.batch_size
        if not math.isfinite(loss_value):  # before any evaluation: a diverged net is not worth measuring
            raise FloatingPointError(f"loss became {loss_value} at iteration {self.iteration} (lr {lr})")
        last = self.iteration == cfg.iterations
        due = cfg.eval_every > 0 and (self.iteration % cfg.eval_every == 0 or last)
        test_error = self.evaluate() if due else None
        if self.iteration % cfg.log_every == 0 or last or test_error is not None:
            self.run["iterations"].append(self.iteration)
            self.run["train_error"].append(round(train_error, 5))
            self.run["test_error"].append(None if test_error is None else round(test_error, 5))
            if cfg.train_eval_images:
                measured = None
                if test_error is not None:
                    n = cfg.train_eval_images
                    measured = round(self.evaluate(self.x_train[:n], self.y_train[:n]), 5)
                self.run.setdefault("train_error_measured", []).append(measured)
        self.wall_seconds += time.perf_counter() - t0
        self.run["wall_seconds"] = round(self.wall_seconds, 2)
        return {"iteration": self.iteration, "loss": loss_value, "batch_error": batch_error,
                "train_error": train_error, "test_error": test_error, "lr": lr, "done": last}

    def warming_up(self) -> bool:
        """Whether the error-based warm-up (``warmup_until_error``) is still on."""
        return self.cfg.warmup_until_error > 0 and "warmup_ended_at" not in self.run

    @torch.inference_mode()
    def evaluate(self, images: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                 batch: int = 1000) -> float:
        """Error in eval mode (BN running statistics) on the test set, or on ``images``/``labels``."""
        images = self.x_test if images is None else images
        labels = self.y_test if labels is None else labels
        self.model.eval()
        wrong = 0
        for i in range(0, len(images), batch):
            x = self._prepare(images[i:i + batch], train=False)
            wrong += (self.model(x).argmax(1) != labels[i:i + batch]).sum().item()
        return wrong / len(images)

    def steps(self, should_stop: Callable[[], bool] | None = None) -> Iterator[dict[str, Any]]:
        """Train to ``cfg.iterations``, yielding each step's metrics; checks ``should_stop`` between steps."""
        while self.iteration < self.cfg.iterations:
            if should_stop is not None and should_stop():
                return
            yield self.step()

    # -- persistence ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "gen": self.gen.get_state(),
                "order": self.order, "cursor": self.cursor, "iteration": self.iteration,
                "wall_seconds": self.wall_seconds, "recent": self.recent, "run": self.run,
                "config": dataclasses.asdict(self.cfg)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        written = {**VARIANT_DEFAULTS, **state["config"]}  # a state written before the config had them
        if written != dataclasses.asdict(self.cfg):
            raise ValueError("the resume file was written with a different configuration")
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.gen.set_state(state["gen"])
        self.order, self.cursor, self.iteration = state["order"], state["cursor"], state["iteration"]
        self.wall_seconds, self.recent = state["wall_seconds"], state["recent"]
        command, device = self.run["command"], self.run["device"]
        self.run = state["run"]
        self.run.setdefault("world_size", self.world_size)  # a state written before runs recorded it
        self.run["command"] = command
        if device not in self.run["device"]:  # resumed on another machine: say so
            self.run["device"] += f"; {device} from iteration {self.iteration}"


def recipe_of(cfg: TrainConfig) -> dict[str, Any]:
    keys = ("lr", "momentum", "weight_decay", "iterations", "milestones", "warmup_iterations", "augment",
            "eval_every", "smoothing", "train_eval_images", "zero_init_residual")
    recipe = {k: getattr(cfg, k) for k in keys}
    if cfg.warmup_until_error:  # only where used, so runs without it keep the recipe of the runs made before it
        recipe["warmup_until_error"] = cfg.warmup_until_error
    for key, default in VARIANT_DEFAULTS.items():  # likewise: only a variant's runs name their unit and shortcut
        if getattr(cfg, key) != default:
            recipe[key] = getattr(cfg, key)
    return recipe
