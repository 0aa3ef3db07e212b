"""The reference oracle (DeepMind's dm-clrs) for parity tests.

The reference needs JAX and TensorFlow, so it lives in its own virtual
environment; ``TRANSNAR_REFERENCE_PYTHON`` names that environment's Python (see
the README, "Parity with the reference"). Tests marked ``reference`` skip, saying
why, when it is unset. Dumps are cached in pytest's cache directory, keyed by the
jobs, the dump script and the interpreter, so reruns are fast.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from transnar.clrs import Trajectory

REFERENCE_PYTHON = os.environ.get("TRANSNAR_REFERENCE_PYTHON")
ORACLE_DIR = Path(__file__).parent / "oracle"

requires_reference = pytest.mark.skipif(
    not REFERENCE_PYTHON,
    reason="TRANSNAR_REFERENCE_PYTHON is not set: no reference dm-clrs interpreter "
    "(see README, 'Parity with the reference')",
)


def job_name(job: dict) -> str:
    """A stable file name for one dump job."""
    return hashlib.sha1(json.dumps(job, sort_keys=True).encode()).hexdigest()[:16]


def run_reference(
    script: str, jobs: list[dict], cache_dir: Path, suffix: str = ".npz"
) -> dict[str, Path]:
    """Runs ``script`` of ``tests/oracle`` under the reference interpreter for the
    jobs not yet in ``cache_dir``; returns job name -> output path (``suffix``
    is the extension the script writes).

    One process at a time fills the cache (the test workers of ``pytest -n`` share
    it): the others wait, then find the dumps there.
    """
    script_path = ORACLE_DIR / script
    salt = hashlib.sha1(script_path.read_bytes() + str(REFERENCE_PYTHON).encode()).hexdigest()[:8]
    paths = {job_name(job): cache_dir / f"{job_name(job)}-{salt}{suffix}" for job in jobs}
    with open(cache_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        todo = [
            {**job, "name": f"{job_name(job)}-{salt}"}
            for job in jobs
            if not paths[job_name(job)].exists()
        ]
        if todo:
            _dump(script_path, todo, cache_dir)
    return paths


def _dump(script_path: Path, todo: list[dict], cache_dir: Path) -> None:
    """Runs the jobs ``todo`` under the reference interpreter, one process per core
    (cold caches are slow: each job compiles JAX code)."""
    workers = min(len(todo), os.cpu_count() or 1)
    running = []
    for share in (todo[i::workers] for i in range(workers)):
        jobs_file = cache_dir / f"jobs-{job_name({'jobs': share})}.json"
        jobs_file.write_text(json.dumps(share))
        log = jobs_file.with_suffix(".log")
        command = [REFERENCE_PYTHON, str(script_path), str(jobs_file), str(cache_dir)]
        with log.open("w") as stderr:  # a file, not a pipe: nothing blocks on it
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
        running.append((process, log))
    for process, log in running:
        if process.wait() != 0:
            sys.stderr.write(log.read_text()[-5000:])
            raise RuntimeError(f"reference dump failed (exit {process.returncode})")


def load_dump(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def reference_sample(dump: dict[str, np.ndarray], index: int):
    """The ``index``-th sample of a reference dump: (inputs, outputs, hints, length)."""
    length = int(dump["lengths"][index])
    inputs, outputs, hints = {}, {}, {}
    for key, value in dump.items():
        stage, _, name = key.partition("/")
        if stage == "input":
            inputs[name] = value[index]
        elif stage == "output":
            outputs[name] = value[index]
        elif stage == "hint":
            hints[name] = value[:length, index]
    return inputs, outputs, hints, length


def assert_matches_reference(ours: Trajectory, dump: dict[str, np.ndarray], index: int) -> None:
    """Asserts that a trajectory equals the reference sample element for element.

    Inputs and outputs must also have the reference dtype; hints are compared
    by value, since the reference casts every batched hint to float64.
    """
    inputs, outputs, hints, length = reference_sample(dump, index)
    where = f"{ours.algorithm} sample {index}"
    assert ours.length == length, f"{where}: length {ours.length} != reference {length}"
    for stage, theirs, mine in (
        ("input", inputs, ours.inputs),
        ("output", outputs, ours.outputs),
        ("hint", hints, ours.hints),
    ):
        assert list(mine) == list(theirs), f"{where}: {stage} probes {list(mine)} != {list(theirs)}"
        for name, expected in theirs.items():
            actual = mine[name]
            assert actual.shape == expected.shape, (
                f"{where}: {stage} {name!r} shape {actual.shape} != reference {expected.shape}"
            )
            if stage != "hint":
                assert actual.dtype == expected.dtype, (
                    f"{where}: {stage} {name!r} dtype {actual.dtype} != reference {expected.dtype}"
                )
            if not np.array_equal(actual, expected):
                bad = np.argwhere(actual != expected)[:5].tolist()
                raise AssertionError(
                    f"{where}: {stage} {name!r} differs from the reference at {bad}"
                )
