"""Copying a pipeline run without its bulk (``transnar export``).

A run directory holds the results (the stage records, the evaluations with
every question's answer, the training logs and metrics, the report) beside
files that are far larger and that a reader of the results does not need: the
CLRS-Text splits, the weights, the trainers' checkpoints, the TensorBoard
events. :func:`export_run` copies the first kind, so that a run's results can
be published (committed beside a results page) or moved; ``transnar report``
reads the copy as it reads the run.

With ``resumable``, the copy also holds what ``transnar run --out COPY`` needs
to go on where the run is: the interrupted stages' state (a trainer's
checkpoints, the teachers' answers so far) so that they resume, and the
outputs of the finished stages that a stage still to run needs (the NAR's
checkpoint while a TransNAR is to be trained, a model's weights while its
evaluation or a student of it is to come). The rest is left out even then:
the weights nothing still to run needs, and data that can be written again in
seconds (the CLRS-Text splits, the students' datasets, from the teachers' kept
answers).

Either copy records, in ``export.json`` (:mod:`~transnar.pipeline.left_out`),
the finished stages whose outputs it lacks: ``transnar run`` on the copy skips
them, and makes one again only when a stage that must run needs its outputs
(the data stages for a trainer that resumes, say), so nothing runs again
because of what the export left out.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from transnar import __version__
from transnar.persistence import OutputExistsError, write_json
from transnar.pipeline.config import RunPipelineConfig
from transnar.pipeline.layout import (
    CONFIG_JSON,
    DATA_DIRS,
    NAR_DIR,
    TEACHER_ANSWERS_DIR,
    model_runs,
    read_run_config,
)
from transnar.pipeline.left_out import EXPORT_JSON
from transnar.pipeline.records import now, read_records
from transnar.pipeline.run import build_stages
from transnar.pipeline.stages import PipelineStage
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
        left_out_stages: the finished stages whose outputs the copy lacks
            (listed in its ``export.json``).
    """

    out: Path
    files: int
    bytes: int
    left_out: int
    left_out_stages: tuple[str, ...] = ()


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
        resumable: copy also the interrupted stages' state and the finished
            stages' outputs that a stage still to run needs, so that
            ``transnar run --out OUT`` goes on there.
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
        stages = keep.left_out(staging)
        record = {
            "transnar_version": __version__,
            "exported": now(),
            "run": str(run_dir.resolve()),
            "resumable": resumable,
            "left_out": stages,
        }
        write_json(staging / EXPORT_JSON, record)
        files, size = files + 1, size + (staging / EXPORT_JSON).stat().st_size
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ExportSummary(out, files, size, left_out, tuple(stages))


class _Selection:
    """Which files of a run an export copies (paths relative to the run directory)."""

    def __init__(self, run_dir: Path, config: RunPipelineConfig, resumable: bool):
        runs = model_runs(config)
        self.stages = build_stages(config, run_dir)
        self.records = records = read_records(run_dir)
        self.resumable = resumable
        self.trainers = {NAR_DIR, *(model.name for model in runs)}
        self.distill_dirs = {model.distill_dir for model in runs if model.distill_dir}
        self.interrupted = {
            name for name, record in records.items() if record.get("status") == "running"
        }
        self.needed = needed_later(self.stages, records)
        # each teacher's answers, while one of its students' datasets is to be written
        self.answers = {
            model.teacher_answers_dir
            for model in runs
            if model.distill_dir
            and (model.distill_dir in self.needed or _not_done(records, model.distill_dir))
        }

    def __call__(self, relative: Path) -> bool:
        parts = relative.parts
        top = parts[0]
        if relative == Path(EXPORT_JSON):  # a copy's own: the new copy writes its own
            return False
        if top in DATA_DIRS or TENSORBOARD_DIR in parts:
            return False
        if top in self.distill_dirs:  # the students' data: written again from the answers
            return parts[-1] == DISTILL_MANIFEST
        if top == TEACHER_ANSWERS_DIR:  # each teacher's answers, per cell (so far)
            return self.resumable and "/".join(parts[:2]) in self.answers
        if top in self.trainers and len(parts) > 2 and parts[1] == CHECKPOINTS:
            if not self.resumable:
                return False
            # a finished NAR's output is its best checkpoint; an interrupted
            # trainer resumes from its checkpoints
            return top in self.interrupted or (top in self.needed and parts[-1] == BEST)
        if top in self.trainers and len(parts) > 2 and parts[1] == MODEL_DIR:
            return self.resumable and top in self.needed
        return True

    def left_out(self, copy: Path) -> dict[str, str]:
        """The done stages whose outputs ``copy`` lacks, with their recorded hash."""
        return {
            stage.name: self.records[stage.name]["output_sha256"]
            for stage in self.stages
            if not _not_done(self.records, stage.name)
            and self.records[stage.name].get("output_sha256")
            and not all((copy / name).exists() for name in stage.outputs)
        }


def needed_later(stages: Sequence[PipelineStage], records: Mapping[str, dict]) -> set[str]:
    """The done stages whose outputs a stage not done yet needs
    (:meth:`PipelineStage.needed_inputs`), directly or through other done stages
    that it needs (made again, they need theirs)."""
    by_name = {stage.name: stage for stage in stages}
    needed: set[str] = set()
    todo = [stage for stage in stages if _not_done(records, stage.name)]
    while todo:
        for name in todo.pop().needed_inputs():
            if not _not_done(records, name) and name not in needed:
                needed.add(name)
                todo.append(by_name[name])
    return needed


def _not_done(records: Mapping[str, dict], name: str) -> bool:
    return (records.get(name) or {}).get("status") != "done"


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
