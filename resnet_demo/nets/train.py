"""The training command line.

    python -m resnet_demo.nets.train --arch plain --depth 56 --dataset PATH --out RUN.json --save CKPT.pt

Defaults are the paper's CIFAR-10 recipe (section 4.2, ``trainer.TrainConfig``). ``--schedule-scale 0.05``
shortens the schedule (64k -> 3.2k iterations) keeping its proportions. Data-parallel under torchrun
(``torchrun --standalone --nproc_per_node=N -m resnet_demo.nets.train ...``: see ``trainer``); rank 0 alone
writes the run, the checkpoint and the resume state.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from . import data as cdata
from .cifar import SHORTCUTS, save_checkpoint
from .runs import load_run, save_run
from .trainer import TrainConfig, Trainer, recipe_of, resolve_device


def _complete(cfg: TrainConfig, out: str, save: str | None) -> bool:
    """Whether ``out`` holds a finished run of exactly this recipe (and ``save``, if asked for, exists)."""
    try:
        run = load_run(out)
    except (OSError, ValueError):
        return False
    done = bool(run["iterations"]) and run["iterations"][-1] == cfg.iterations
    same = run.get("recipe") == json.loads(json.dumps(recipe_of(cfg)))
    return done and same and (save is None or Path(save).exists())


# -- command line ---------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m resnet_demo.nets.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=("plain", "residual"), default=d.arch)
    p.add_argument("--depth", type=int, default=d.depth)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--no-bn", dest="batch_norm", action="store_false")
    p.add_argument("--shortcut", choices=SHORTCUTS, default=d.shortcut)
    p.add_argument("--dataset", default="bundled",
                   help="'bundled' (offline subset), 'torchvision' (download) or an ImageFolder directory")
    p.add_argument("--data-dir", default=None, help="download/cache folder (default $RESNET_DEMO_DATA or ./data)")
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--iterations", type=int, default=d.iterations)
    p.add_argument("--milestones", type=int, nargs="*", default=list(d.milestones))
    p.add_argument("--schedule-scale", type=float, default=1.0,
                   help="multiply iterations and milestones (a shortened schedule, e.g. 0.05)")
    p.add_argument("--warmup", type=int, default=d.warmup_iterations, dest="warmup_iterations")
    p.add_argument("--warmup-until-error", type=float, default=d.warmup_until_error,
                   help="lr/10 until the training error is below this (the paper's ResNet-110: 0.8)")
    p.add_argument("--eval-every", type=int, default=d.eval_every)
    p.add_argument("--log-every", type=int, default=d.log_every)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    p.add_argument("--name", default=None)
    p.add_argument("--note", default=None, help="free text stored in the run (e.g. why the schedule is short)")
    p.add_argument("--out", required=True, help="RUN JSON path")
    p.add_argument("--save", default=None, help="checkpoint path (a resume file is kept beside it)")
    p.add_argument("--state", default=None,
                   help="resume file, written atomically at every evaluation (default: beside --save/--out)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the resume file; a run already complete with this recipe is left as is")
    p.add_argument("--quiet", action="store_true")
    return p


def _init_distributed(device: str) -> int:
    """Under torchrun (WORLD_SIZE > 1): join the process group (nccl on GPUs, gloo on CPUs), pin this rank's
    GPU, and return the rank; 0 without torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0
    cuda = resolve_device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return dist.get_rank()


def _stop_on_signals() -> list[int]:
    """Ctrl-C and kill both save the run and a resume file, between two steps (a state saved in the middle of
    one would have drawn its batch but not applied it); a second one stops at once. Installed explicitly: a
    script's background jobs (as in scripts/stored_runs.sh) start with SIGINT ignored. Returns the signals seen."""
    stopping: list[int] = []

    def request_stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)
        if len(stopping) > 1:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stopping


def _config(args: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig(arch=args.arch, depth=args.depth, width=args.width, batch_norm=args.batch_norm,
                      shortcut=args.shortcut, image_size=args.image_size, batch_size=args.batch_size, lr=args.lr,
                      momentum=args.momentum, weight_decay=args.weight_decay, iterations=args.iterations,
                      milestones=tuple(args.milestones), warmup_iterations=args.warmup_iterations,
                      warmup_until_error=args.warmup_until_error,
                      eval_every=args.eval_every, log_every=args.log_every, seed=args.seed, device=args.device)
    return cfg.scaled(args.schedule_scale) if args.schedule_scale != 1.0 else cfg


def _save_state(trainer: Trainer, out: str, resume_path: Path, rank: int) -> None:
    """The run and, atomically, the resume state (rank 0 only)."""
    if rank > 0:
        return
    save_run(trainer.run, out)
    tmp = resume_path.with_suffix(".tmp")
    resume_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(trainer.state_dict(), tmp)
    os.replace(tmp, resume_path)


def _train(trainer: Trainer, stopping: list[int], quiet: bool, save_state: Callable[[], None]) -> None:
    """Every step, the state saved at every evaluation, a progress line every 2 s; a signal seen by any rank stops
    every rank after the same step (one flag, all-reduced)."""
    def should_stop() -> bool:
        if trainer.world_size == 1:
            return bool(stopping)
        flag = torch.tensor([float(bool(stopping))], device=trainer.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return flag.item() > 0

    total, t_last = trainer.cfg.iterations, 0.0
    for m in trainer.steps(should_stop=should_stop):
        if m["test_error"] is not None:
            save_state()
        if not quiet and (time.time() - t_last > 2 or m["done"]):
            t_last = time.time()
            done = m["iteration"] / total
            eta = trainer.wall_seconds / max(done, 1e-9) * (1 - done)
            print(f"\r[{'#' * int(30 * done):<30}] {m['iteration']}/{total} train err {m['train_error']:.3f} "
                  f"lr {m['lr']:.4f} eta {eta / 60:.1f} min", end="", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stopping = _stop_on_signals()
    if args.threads:
        torch.set_num_threads(args.threads)
    rank = _init_distributed(args.device)
    cfg = _config(args)
    if args.resume and _complete(cfg, args.out, args.save):  # the same answer on every rank: one filesystem
        print(f"{args.out} is already complete ({cfg.iterations} iterations): nothing to do", file=sys.stderr)
        return 0
    dataset = cdata.load(args.dataset, args.data_dir)
    command = "python -m resnet_demo.nets.train " + shlex.join(sys.argv[1:] if argv is None else argv)
    trainer = Trainer(cfg, dataset, name=args.name, command=command)
    if args.note:
        trainer.run["note"] = args.note
    resume_path = Path(args.state or (args.save or args.out) + ".resume.pt")
    if args.resume and resume_path.exists():
        trainer.load_state_dict(torch.load(resume_path, weights_only=False))
        print(f"resumed at iteration {trainer.iteration}", file=sys.stderr)
    save_state = functools.partial(_save_state, trainer, args.out, resume_path, rank)
    try:
        _train(trainer, stopping, args.quiet or rank > 0, save_state)  # ranks above 0 never print progress
    except KeyboardInterrupt:  # a second signal: out now, keeping the state of the last evaluation
        print(f"\nstopped at once at iteration {trainer.iteration}; {resume_path} holds the last evaluation's "
              "state", file=sys.stderr)
        return 130
    if trainer.iteration < cfg.iterations:  # stopped by a signal (on this rank or another)
        save_state()
        print(f"\ninterrupted at iteration {trainer.iteration}: saved {args.out} and {resume_path}; "
              "rerun with --resume to continue", file=sys.stderr)
        return 130
    if rank == 0:
        print(file=sys.stderr)
        save_run(trainer.run, args.out)
        if args.save:
            save_checkpoint(trainer.model, args.save, run=trainer.run)
        resume_path.unlink(missing_ok=True)
        print(f"wrote {args.out}" + (f" and {args.save}" if args.save else ""), file=sys.stderr)
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
