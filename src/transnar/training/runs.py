"""Run directories, logs, device, threads and precision, shared by both trainers.

A run directory holds a resolved ``config.json``, a ``metrics.jsonl`` (one JSON
record per line, each with a ``step``), and checkpoints written atomically.
These helpers prepare such a directory, log metrics (:class:`MetricsLog`, also
as TensorBoard events when ``tensorboard`` is installed) and truncate them on
resume, write the human-readable ``train.log`` (:class:`ProgressLog`, also on
standard error when it is not a terminal), and pick the device, torch's thread
count and the precision (bf16 autocast on CUDA, :func:`autocast_context`).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TextIO

import torch

from transnar.persistence import OutputExistsError, atomic_write


def resolve_device(name: str) -> torch.device:
    """``torch.device(name)``, checking that CUDA is there when asked for.

    Raises:
        ValueError: not a device's name, or CUDA asked for where there is none.
    """
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"device {name!r}: {error}") from None
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
            f"run directory {run_dir} is not empty and no run is continued there: use "
            "another --out, or --force to start a new run there"
        )
    if used:
        for name in files:
            (run_dir / name).unlink(missing_ok=True)
        for name in directories:
            shutil.rmtree(run_dir / name, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)


TENSORBOARD_DIR = "tensorboard"
"""Where :class:`MetricsLog` writes TensorBoard event files, in the run directory."""


class MetricsLog:
    """A run's metrics: one JSON record per line in ``metrics.jsonl`` and, when
    ``tensorboard`` is installed, the same numbers as TensorBoard scalars in
    ``RUN/tensorboard`` (nested keys joined by ``/``: ``loss/bfs``, ``val/bfs``).

    Use as a context manager. With ``enabled=False`` (processes other than rank
    0 in data-parallel training) nothing is written.

    Args:
        path: the ``metrics.jsonl`` file (appended to).
        resume_step: the step a resumed run continues from: TensorBoard events
            of later steps, logged before the interruption, are dropped as the
            JSONL records are (:func:`truncate_metrics`).
        enabled: write at all.
    """

    def __init__(self, path: Path, resume_step: int | None = None, enabled: bool = True):
        self.path = Path(path)
        self.resume_step = resume_step
        self.enabled = enabled
        self._handle: IO[str] | None = None
        self._writer: Any = None

    def __enter__(self) -> MetricsLog:
        if self.enabled:
            self._handle = open(self.path, "a")
            self._writer = _tensorboard_writer(self.path.parent / TENSORBOARD_DIR, self.resume_step)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._writer is not None:
            self._writer.close()
        self._handle = self._writer = None

    def log(self, record: dict) -> None:
        """Appends ``record`` (with a ``step``) as a line, and its numbers as scalars."""
        if self._handle is None:
            return
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        if self._writer is not None:
            step = record["step"]
            for key, value in _scalars(record):
                if key != "step":
                    self._writer.add_scalar(key, value, step)
            self._writer.flush()


def _tensorboard_writer(directory: Path, resume_step: int | None) -> Any:
    """A TensorBoard ``SummaryWriter`` for ``directory``, or None without ``tensorboard``."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional
        return None
    purge_step = None if resume_step is None else resume_step + 1
    return SummaryWriter(str(directory), purge_step=purge_step)


def _scalars(record: dict, prefix: str = "") -> Iterator[tuple[str, float]]:
    """The numbers of a (nested) record, as ``(key/sub, value)``."""
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _scalars(value, name + "/")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield name, float(value)


TRAIN_LOG = "train.log"
"""A run directory's log: start, resume, progress, validations, end (:class:`ProgressLog`)."""

PROGRESS_SECONDS = 30.0
"""How often :class:`ProgressLog` writes a progress line."""


class ProgressLog:
    """A trainer's human-readable log: ``RUN/train.log``, and its progress lines
    on standard error too when that is not a terminal (where no progress bar
    shows: ``nohup``, a redirection, a pipeline stage's log file).

    Events (start, resume, validation, end) go to the file at once; a progress
    line (step, loss, throughput, ETA) at most every ``interval`` seconds, the
    first ``interval`` seconds after the start. Use as a context manager; with
    ``enabled=False`` (processes other than rank 0) nothing is written.

    Args:
        path: the log file (appended to).
        total: the steps of the whole run.
        start_step: the step this process starts from (the resumed step, or 0):
            the ETA is extrapolated from the steps done since.
        enabled: write at all.
        interval: seconds between progress lines.
        console: where else the progress lines go (default standard error when
            it is not a terminal, else nowhere).
    """

    def __init__(
        self,
        path: Path,
        total: int,
        start_step: int = 0,
        enabled: bool = True,
        interval: float = PROGRESS_SECONDS,
        console: TextIO | None = None,
    ):
        self.path, self.total, self.start_step = Path(path), total, start_step
        self.enabled, self.interval = enabled, interval
        if console is None and enabled and not _is_terminal(sys.stderr):
            console = sys.stderr
        self.console = console
        self._handle: IO[str] | None = None
        self._started = self._last = time.monotonic()

    def __enter__(self) -> ProgressLog:
        if self.enabled:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8")
        self._started = self._last = time.monotonic()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._handle is not None:
            self._handle.close()
        self._handle = None

    def event(self, text: str) -> None:
        """Writes a line to the file now."""
        if self._handle is not None:
            self._handle.write(f"{_now()} {text}\n")
            self._handle.flush()

    def step(self, step: int, text: str, force: bool = False) -> None:
        """A progress line for ``step`` (``text``: the loss and throughput),
        written if ``interval`` seconds passed since the last; ``force``: to
        the file in any case (e.g. the last step)."""
        now = time.monotonic()
        due = now - self._last >= self.interval
        if not self.enabled or not (due or force):
            return
        self._last = now
        line = f"step {step:,}/{self.total:,} ({100 * step / max(self.total, 1):.0f}%) {text}"
        done, elapsed = step - self.start_step, now - self._started
        if done > 0 and step < self.total:
            line += f", ETA {duration(elapsed / done * (self.total - step))}"
        self.event(line)
        if self.console is not None and due:
            print(f"{self.path.parent.name}: {line}", file=self.console, flush=True)


@contextlib.contextmanager
def log_interruption(
    log: ProgressLog, step: Callable[[], int], checkpoint: Callable[[], int | None]
) -> Iterator[None]:
    """Writes to the log why the block stopped early: an interruption (Ctrl-C,
    SIGTERM) or an error, at which step, and the step of the last checkpoint
    (where a resumed run continues)."""
    try:
        yield
    except BaseException as error:
        saved = checkpoint()
        where = "no checkpoint yet" if saved is None else f"last checkpoint at step {saved:,}"
        if isinstance(error, KeyboardInterrupt):
            log.event(f"interrupted at step {step():,} ({where})")
        else:
            reason = " ".join(str(error).split())[:300]
            log.event(f"failed at step {step():,} ({where}): {type(error).__name__}: {reason}")
        raise


def _is_terminal(stream: Any) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _now() -> str:
    return datetime.now().isoformat(sep=" ", timespec="seconds")


def duration(seconds: float) -> str:
    """``4.2 s``, ``3 min 12 s`` or ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


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


def autocast_context(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA (``auto`` or ``bf16``) or anywhere (``bf16``); else none."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def check_finite(loss: float, what: str, step: int) -> None:
    """A ``FloatingPointError`` for a NaN or infinite loss (the last checkpoint stays)."""
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"the loss of {what} is {loss} at step {step}; lower learning_rate or check grad_clip"
        )


__all__ = [
    "PROGRESS_SECONDS",
    "TRAIN_LOG",
    "MetricsLog",
    "ProgressLog",
    "autocast_context",
    "check_finite",
    "duration",
    "log_interruption",
    "prepare_run_dir",
    "resolve_device",
    "torch_threads",
    "truncate_metrics",
]
