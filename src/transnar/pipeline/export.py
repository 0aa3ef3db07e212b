"""Copying a pipeline run without its bulk (``transnar export``).

A run directory holds the results (the stage records, the evaluations with
every question's answer, the training logs and metrics, the report) beside
files that are far larger and that a reader of the results does not need: the
CLRS-Text splits, the weights, the trainers' checkpoints, the TensorBoard
events. :func:`export_run` copies the first kind, so that a run's results can
be published (committed beside a results page) or moved; ``transnar report``
reads the copy as it reads the run.

With ``resumable``, the copy also holds what ``transnar run --out COPY`` needs
to go on where the run is: the finished stages' outputs (the NAR's checkpoint,
the models' weights) so that they are skipped, the teachers' answers, and the
interrupted stages' state (a trainer's checkpoints) so that they resume. Data
are left out even then, when they can be written again in seconds: the
CLRS-Text splits (by the data stages) and the students' datasets (by the
distillation stages, from the teachers' kept answers, without asking the
teacher again); their records' hashes check that they are the same bytes, so
nothing that reads them runs again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from transnar.persistence import OutputExistsError
from transnar.pipeline.config import RunPipelineConfig
from transnar.pipeline.layout import (
    CONFIG_JSON,
    DATA_DIR,
    HINTS_DATA_DIR,
    NAR_DIR,
    TEACHER_ANSWERS_DIR,
    model_runs,
    read_run_config,
)
from transnar.pipeline.records import read_records
from transnar.training.checkpoint import BEST, CHECKPOINTS
from transnar.training.distill import MANIFEST as DISTILL_MANIFEST
from transnar.training.lm import MODEL_DIR
from transnar.training.runs import TENSORBOARD_DIR


@dataclass(frozen=True)
class ExportSummary:
    """What :func:`export_run` copied.

    Attributes:
        out: the copy.
        files: how many files it holds.
        bytes: their total size.
        left_out: the bytes of the run that were not copied.
    """

    out: Path
    files: int
    bytes: int
    left_out: int


def export_run(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    resumable: bool = False,
    overwrite: bool = False,
) -> ExportSummary:
    """Copies a run directory's results into ``out`` (see the module docstring).

    The copy is made beside ``out`` and renamed onto it at the end: an
    interrupted export leaves no half copy, and with ``overwrite`` an existing
    ``out`` is replaced only once the new copy is complete.

    Args:
        run_dir: a ``transnar run`` directory.
        out: the copy (a new directory).
        resumable: copy also the finished stages' outputs and the interrupted
            stages' state, so that ``transnar run --out OUT`` goes on there.
        overwrite: replace an existing ``out``.

    Raises:
        ValueError: ``run_dir`` is not a run directory, ``out`` is inside it or
            holds it, or ``out`` is a directory of something else than a run.
        OutputExistsError: ``out`` exists and not ``overwrite``.
    """
    run_dir, out = Path(run_dir), Path(out)
    _, config = read_run_config(run_dir)
    if out.resolve().is_relative_to(run_dir.resolve()):
        raise ValueError(f"the copy {out} cannot be inside the run directory {run_dir}")
    if run_dir.resolve().is_relative_to(out.resolve()):
        raise ValueError(f"the copy {out} would replace the run directory {run_dir}")
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"{out} already exists (pass --force / overwrite=True to replace it)"
        )
    if out.exists() and not (out / CONFIG_JSON).is_file() and any(out.iterdir()):
        raise ValueError(f"{out} holds no transnar run or export: not replaced, even with --force")
    keep = _Selection(run_dir, config, resumable)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    files = size = left_out = 0
    try:
        for path in _files(run_dir):
            relative = path.relative_to(run_dir)
            if not keep(relative):
                left_out += path.stat().st_size
                continue
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            files, size = files + 1, size + path.stat().st_size
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(out, files, size, left_out)


class _Selection:
    """Which files of a run an export copies (paths relative to the run directory)."""

    def __init__(self, run_dir: Path, config: RunPipelineConfig, resumable: bool):
        runs = model_runs(config)
        records = read_records(run_dir)
        self.resumable = resumable
        self.trainers = {NAR_DIR, *(model.name for model in runs)}
        self.distill_dirs = {model.distill_dir for model in runs if model.distill_dir}
        self.interrupted = {
            name for name, record in records.items() if record.get("status") == "running"
        }

    def __call__(self, relative: Path) -> bool:
        parts = relative.parts
        top = parts[0]
        if top in (DATA_DIR, HINTS_DATA_DIR) or TENSORBOARD_DIR in parts:
            return False
        if top in self.distill_dirs:  # the students' data: written again from the answers
            return parts[-1] == DISTILL_MANIFEST
        if top == TEACHER_ANSWERS_DIR:  # each teacher's answers, per cell (so far)
            return self.resumable
        if top in self.trainers and len(parts) > 2 and parts[1] == CHECKPOINTS:
            if not self.resumable:
                return False
            # a finished NAR's output is its best checkpoint; an interrupted
            # trainer resumes from its checkpoints
            return top in self.interrupted or (top == NAR_DIR and parts[-1] == BEST)
        if top in self.trainers and len(parts) > 2 and parts[1] == MODEL_DIR:
            return self.resumable
        return True


def _files(directory: Path) -> Iterator[Path]:
    """Every file below ``directory``, in a stable order (not the temporary files
    and directories of a writer at work)."""
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(name for name in dirs if not name.endswith(".tmp"))
        for name in sorted(names):
            if not name.endswith(".tmp"):
                yield Path(root) / name


def _replace(staging: Path, out: Path) -> None:
    """Renames ``staging`` onto ``out``, an existing ``out`` removed only after."""
    if not out.exists():
        os.replace(staging, out)
        return
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old)


__all__ = ["ExportSummary", "export_run"]
