"""Run directories, shared by the NAR and the LM training loops.

A run directory holds a resolved ``config.json``, a ``metrics.jsonl`` (one JSON
record per line, each with a ``step``), and checkpoints written atomically.
These helpers prepare such a directory, log and truncate metrics, pick the
device and torch's thread count, and read checkpoint files safely.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import torch

from transnar._files import CheckpointError, OutputExistsError, atomic_write


def resolve_device(name: str) -> torch.device:
    """``torch.device(name)``, checking that CUDA is there when asked for."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
    return device


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Torch's CPU threads set to ``threads`` (0: unchanged) inside the block."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def prepare_run_dir(
    run_dir: Path, overwrite: bool, files: Iterable[str], directories: Iterable[str] = ()
) -> None:
    """An empty (or absent) run directory.

    Args:
        run_dir: the directory.
        overwrite: start afresh in a used directory: the run's ``files`` and
            ``directories`` (names relative to it) are deleted first.
        files: the run's files.
        directories: the run's directories.

    Raises:
        OutputExistsError: ``run_dir`` is used (and not ``overwrite``) or is a file.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputExistsError(f"{run_dir} exists and is not a directory")
    used = run_dir.is_dir() and any(run_dir.iterdir())
    if used and not overwrite:
        raise OutputExistsError(
            f"run directory {run_dir} is not empty (pass --resume to continue its run, "
            "or --force to start a new one there)"
        )
    if used:
        for name in files:
            (run_dir / name).unlink(missing_ok=True)
        for name in directories:
            shutil.rmtree(run_dir / name, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)


def log_record(handle: IO[str], record: dict) -> None:
    """Appends one JSON record (a line) to an open ``metrics.jsonl``."""
    handle.write(json.dumps(record) + "\n")
    handle.flush()


def truncate_metrics(path: Path, step: int) -> None:
    """Drops the records of steps after ``step`` (logged after the checkpoint
    a run resumes from), and any line cut short by the interruption."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines(keepends=True):
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    with atomic_write(path, overwrite=True, mode="w") as handle:
        handle.writelines(kept)


def write_json(path: Path, data: Any) -> None:
    """Writes ``data`` as indented JSON, atomically (replacing the file)."""
    with atomic_write(path, overwrite=True, mode="w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")


def check_finite(loss: float, what: str, step: int) -> None:
    """A ``FloatingPointError`` for a NaN or infinite loss (the last checkpoint stays)."""
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"the loss of {what} is {loss} at step {step}; lower learning_rate or check grad_clip"
        )


def read_torch_file(path: Path, what: str, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: plain values and tensors only.

    Raises:
        CheckpointError: no file there, or one that is not a readable torch file
            of plain values (``what`` names the expected kind in the message).
    """
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many kinds for a bad file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path} is not a readable {what} ({reason[:200]})") from None


__all__ = [
    "check_finite",
    "log_record",
    "prepare_run_dir",
    "read_torch_file",
    "resolve_device",
    "torch_threads",
    "truncate_metrics",
    "write_json",
]
