"""Data-parallel training under torchrun (CPU processes, gloo, loopback): the same weights as one process with
the same global batch, and a stopped two-process run resumes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, free_port

from resnet_demo.nets import runs
from resnet_demo.nets.cifar import cifar_net, load_checkpoint

pytestmark = pytest.mark.slow

# BN off: with BN on, each rank normalises over its own share of the batch (as the paper's two-GPU training
# did), so the weights differ from a one-process run by design; without it they must agree.
ARGS = ["--arch", "plain", "--depth", "8", "--width", "8", "--no-bn", "--dataset", "bundled", "--lr", "0.02",
        "--batch-size", "64", "--iterations", "6", "--milestones", "4", "--eval-every", "3", "--log-every", "1",
        "--threads", "1", "--quiet"]


def torchrun(*args: str, nproc: int = 2, timeout: float = 240, **popen) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={nproc}",
           "--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "resnet_demo.nets.train", *args]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env, **popen)


def test_two_processes_train_the_weights_of_one(tmp_path):
    one = subprocess.run([sys.executable, "-m", "resnet_demo.nets.train", *ARGS, "--out", str(tmp_path / "one.json"),
                          "--save", str(tmp_path / "one.pt")], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert one.returncode == 0, one.stderr[-3000:]
    two = torchrun(*ARGS, "--out", str(tmp_path / "two.json"), "--save", str(tmp_path / "two.pt"))
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = runs.load_run(tmp_path / "one.json"), runs.load_run(tmp_path / "two.json")
    assert a["world_size"] == 1 and b["world_size"] == 2
    assert b["train_error"] == pytest.approx(a["train_error"], abs=1e-4)  # every batch's error, global
    assert b["test_error"] == a["test_error"]
    wa, wb = load_checkpoint(tmp_path / "one.pt")[0].state_dict(), load_checkpoint(tmp_path / "two.pt")[0].state_dict()
    start = cifar_net(8, residual=False, batch_norm=False, width=8, generator=torch.Generator().manual_seed(0))
    moved = max((wa[n] - w).abs().max().item() for n, w in start.state_dict().items())
    assert moved > 1e-3  # training moved the weights, so agreeing below is not agreeing at initialisation
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=1e-4, atol=1e-6, msg=name)


def test_a_stopped_two_process_run_resumes(tmp_path):
    out, state = tmp_path / "run.json", tmp_path / "run.pt"
    args = [*ARGS[:ARGS.index("--iterations")], "--iterations", "400", "--milestones", "300", "--eval-every", "5",
            "--log-every", "5", "--threads", "1", "--quiet", "--out", str(out), "--state", str(state)]
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
                             "--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "resnet_demo.nets.train",
                             *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"), start_new_session=True)
    deadline = time.monotonic() + 180
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert state.exists(), proc.communicate(timeout=60)[1][-3000:]
    os.killpg(proc.pid, signal.SIGTERM)  # as a scheduler or Ctrl-C stops the whole job
    proc.communicate(timeout=120)
    stopped = runs.load_run(out)["iterations"][-1]
    assert 5 <= stopped < 400
    done = torchrun(*args, "--resume", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed at iteration" in done.stderr
    run = runs.load_run(out)
    assert run["iterations"][-1] == 400 and run["world_size"] == 2 and not state.exists()
    its = run["iterations"]
    assert its == sorted(set(its))  # one curve, no repeated stretch after the resume
