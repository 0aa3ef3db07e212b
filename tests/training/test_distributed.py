"""Data-parallel training: 2 processes (gloo, CPU) make the updates of 1 process.

The 2-process runs are started with ``torch.multiprocessing`` and the
``torchrun`` environment variables, all in one pair of processes; each test
compares the loss curves (and validation) of a 2-process run with those of a
1-process run of the same config and global batch.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from tests import tiny
from tests.training.helpers import losses_of, records, val_losses_of
from transnar.training import distributed
from transnar.training import lm as lm_training
from transnar.training import nar as nar_training
from transnar.training.distributed import World

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="this torch build has no torch.distributed"
)

# bfs and minimum: no Gumbel noise or teacher forcing, so 2 processes can match 1 exactly;
# a batch of 6 splits into two
NAR_OVERRIDES = ("algorithms=bfs,minimum", "batch_size=6", "eval_every=3", "test_sizes=6")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, size: int, port: int, jobs: list[tuple[str, tuple]]) -> None:
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    distributed.init_from_env()
    try:
        for job, args in jobs:
            train = nar_training.train_nar if job == "nar" else lm_training.train_lm
            train(*args, progress=False)
        distributed.leave_together()
    finally:
        distributed.shutdown()


def run_in_processes(size: int, jobs: list[tuple[str, tuple]]) -> None:
    """The ``jobs`` (``("nar" or "lm", training arguments)``), one after the other,
    in ``size`` processes."""
    mp.start_processes(_worker, args=(size, _free_port(), jobs), nprocs=size, start_method="spawn")


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory, nar_path) -> dict[str, tuple]:
    """Job name -> (config, run directory) of the runs made by 2 processes: the
    NAR's, TransNAR's with 1 and with 2 micro-batches. One pair of processes
    makes them all: starting processes costs more than these runs."""
    root = tmp_path_factory.mktemp("two-processes")
    runs = {"nar": (tiny.nar_train_config(*NAR_OVERRIDES), root / "nar")}
    for grad_accum in (1, 2):
        # batch 4: each process takes 2 rows of one micro-batch, or 1 row of each of 2
        config = tiny.lm_train_config(nar_path, f"grad_accum={grad_accum}")
        runs[f"lm-{grad_accum}"] = (config, root / f"lm-{grad_accum}")
    run_in_processes(2, [(name.split("-")[0], run) for name, run in runs.items()])
    return runs


def _close(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> None:
    assert [step for step, _ in a] == [step for step, _ in b]
    assert torch.allclose(
        torch.tensor([v for _, v in a], dtype=torch.float64),
        torch.tensor([v for _, v in b], dtype=torch.float64),
        rtol=1e-5,
        atol=1e-6,
    ), (a, b)


def nar_losses(run_dir: Path) -> list[tuple[int, float]]:
    return [(r["step"], sum(r["loss"].values())) for r in records(run_dir) if "loss" in r]


def test_two_processes_train_the_nar_as_one(two_processes, tmp_path):
    config, two = two_processes["nar"]
    one = tmp_path / "one"
    nar_training.train_nar(config, one, progress=False)

    assert len(nar_losses(one)) == 6
    _close(nar_losses(one), nar_losses(two))
    # the same validation scores, so the same best step and tested weights
    vals = [[r["val_mean"] for r in records(d) if "val_mean" in r] for d in (one, two)]
    assert vals[0] == pytest.approx(vals[1], abs=1e-6)
    results = [json.loads((d / "results.json").read_text()) for d in (one, two)]
    assert results[0]["best_step"] == results[1]["best_step"]
    assert results[0]["mean"] == pytest.approx(results[1]["mean"], abs=1e-6)
    # only rank 0 wrote the run: one line per step and validation
    assert len(records(two)) == len(records(one))


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_two_processes_train_transnar_as_one(two_processes, tmp_path, grad_accum):
    config, two = two_processes[f"lm-{grad_accum}"]
    one = tmp_path / "one"
    lm_training.train_lm(config, one, progress=False)

    assert len(losses_of(one)) == 6
    _close(losses_of(one), losses_of(two))
    _close(val_losses_of(one), val_losses_of(two))
    tokens = [[r["tokens"] for r in records(d) if "tokens" in r] for d in (one, two)]
    assert tokens[0] == tokens[1]  # every process counts the global batch
    summaries = [json.loads((d / "summary.json").read_text()) for d in (one, two)]
    assert summaries[0]["tokens"] == summaries[1]["tokens"]


def test_a_two_process_checkpoint_resumes_only_with_two(two_processes, tmp_path):
    config, two = two_processes["lm-1"]
    run_dir = shutil.copytree(two, tmp_path / "run")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert len(checkpoint["train_state"]["rng_processes"]) == 2
    with pytest.raises(lm_training.CheckpointError, match="same number of processes"):
        lm_training.train_lm(config, run_dir, resume=True, progress=False)


def test_a_micro_batch_smaller_than_the_processes_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(lm_training, "world", lambda: World(0, 5))
    with pytest.raises(ValueError, match=r"a micro-batch of 4 .* cannot be shared by 5 processes"):
        lm_training.train_lm(tiny.lm_train_config(None), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_one_process_helpers_are_the_identity():
    assert distributed.world() == World(0, 1, 0)
    assert list(World(1, 3).shard(8)) == [1, 4, 7]
    values = torch.tensor([1.0, 2.0])
    assert distributed.all_reduce_sum(values) is values
    assert distributed.sum_floats([0.5, 2.0]) == [0.5, 2.0]
    assert distributed.gather_objects({"a": 1}) == [{"a": 1}]
    assert distributed.init_from_env() == World()  # WORLD_SIZE unset


def test_a_bad_torchrun_environment_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(ValueError, match=r"RANK, MASTER_ADDR.* not set: start the processes"):
        distributed.init_from_env()


@pytest.mark.slow
def test_torchrun_runs_the_whole_pipeline(tmp_path):
    """``torchrun --nproc-per-node 2 -m transnar run --preset tiny`` (about 3 minutes)."""
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        "-m",
        "transnar",
        "run",
        "--preset",
        "tiny",
        "--out",
        str(out),
        "--no-progress",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "report.md").is_file()
    assert done.stdout.count("report.md") == 1  # rank 0 alone prints
