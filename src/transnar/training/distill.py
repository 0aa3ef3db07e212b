"""Distillation: a text-only student trained on TransNAR's answers.

TransNAR needs the graph of every question (and a NAR) at inference; a
student that learns from its answers needs only the text. The teacher needs
no labels, so the student's questions may come from the training sizes and
from sizes beyond them (the paper's third future-work direction; issue 17).

Sequence-level distillation (Kim and Rush 2016): the teacher answers every
question greedily, exactly as in its evaluation (leak-free NAR, the per-question
decoding budget and positions: :func:`~transnar.evaluation.evaluate`), and its
answers replace the true ones in a CLRS-Text dataset that the student trains
on like any other (:func:`~transnar.training.lm.train_lm` with ``data.path``).
The questions come from their own sampler seed (:data:`DISTILL_SEED`, not a
training or evaluation seed), so the student is evaluated on questions neither
model has seen.

A distillation directory holds::

    data/train.jsonl, data/val.jsonl   the questions with the teacher's answers
                                       (``answer``), the true answers
                                       (``true_answer``) and whether the teacher
                                       stopped within its budget
    data/manifest.json                 the teacher, the sizes, seeds and counts,
                                       the teacher's agreement with the truth
    student/                           the student's training run
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn
from tqdm import tqdm

from transnar import __version__
from transnar._config import not_int
from transnar.evaluation.evaluate import EvalSettings, evaluate
from transnar.evaluation.samples import EvalSample, aggregate_samples
from transnar.persistence import atomic_write, write_json
from transnar.training.lm import LMTrainResult, train_lm
from transnar.training.lm_config import LMTrainConfig
from transnar.training.lm_data import DataConfig
from transnar.training.lm_model import state_sha256

DISTILL_SEED = 3
"""Sampler seed of the training questions (0 and 1 train and validate the
models, 2 is the test split); the validation questions use ``seed + 1``."""
DATA_DIR = "data"
STUDENT_DIR = "student"
MANIFEST = "manifest.json"
CELLS_DIR = "cells"
"""Inside a teacher dataset's directory while it is written: each cell's answers
(unless they go to a shared ``answers`` directory: :func:`teacher_dataset`)."""
CELLS_KEY = "key.json"


@dataclass(frozen=True)
class DistillConfig:
    """Which questions the teacher answers. What is left empty or 0 is the
    student's data's (:meth:`resolved`).

    Attributes:
        algorithms: the algorithms (none: those :meth:`resolved` is given: the
            teacher's NAR's in :func:`distill`, the run's data's in a pipeline run).
        sizes: question sizes: the training sizes and, for a student that is
            to go beyond them, larger ones (empty: the student's training sizes).
        count: training questions per algorithm and size (0: the student's
            ``data.train_count``).
        val_count: validation questions per algorithm and size (0: its
            ``data.val_count``).
        seed: the training questions' sampler seed (validation: ``seed + 1``).
        batch_size: questions the teacher answers at once.
    """

    algorithms: tuple[str, ...] | None = None
    sizes: tuple[int, ...] = ()
    count: int = 0
    val_count: int = 0
    seed: int = DISTILL_SEED
    batch_size: int = 50

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(int(n) for n in self.sizes))
        if self.algorithms is not None:
            object.__setattr__(self, "algorithms", tuple(self.algorithms))
        for name in ("count", "val_count"):
            if not_int(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(
                    f"distill.{name} must be an integer >= 0 (0: the student's), got "
                    f"{getattr(self, name)!r}"
                )
        if not_int(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"distill.batch_size must be an integer >= 1, got {self.batch_size}")
        if any(n < 2 for n in self.sizes):
            raise ValueError(f"distill.sizes must be integers >= 2, got {list(self.sizes)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable (lists for tuples)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def resolved(self, data: DataConfig, algorithms: Sequence[str]) -> DistillConfig:
        """This config with what it leaves to the student's ``data`` filled in
        from it (``algorithms``: when it names none)."""
        return dataclasses.replace(
            self,
            algorithms=tuple(self.algorithms or algorithms),
            sizes=self.sizes or data.train_sizes,
            count=self.count or data.train_count,
            val_count=self.val_count or data.val_count,
        )


def teacher_dataset(
    teacher: nn.Module,
    config: DistillConfig,
    out: str | os.PathLike,
    teacher_path: str | None = None,
    progress: bool | None = False,
    resume: bool = False,
    answers: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Writes the questions with the teacher's answers to ``OUT`` (``train.jsonl``,
    ``val.jsonl``, ``manifest.json``) and returns the manifest.

    The teacher's answer keeps its closing blank line; one cut at its budget
    gets one, so that every row is a complete CLRS-Text example. The answers
    of each cell (questions of one sampler seed, count, algorithm and size) are
    kept as soon as they are done, and read back instead of asked again, so an
    interrupted run loses at most one cell; the rows are the same either way.
    They are kept in ``OUT/cells/`` (removed at the end; with ``resume`` only,
    and only when they are the same teacher's, its weights, for the same
    questions), or in ``answers``: a directory shared by the datasets of one
    teacher (e.g. a pipeline's students of one seed, whose questions overlap),
    kept at the end, whose answers are reused whenever they are the same
    teacher's (emptied when they are another's), so that each cell is answered
    once; two datasets writing one ``answers`` at once take turns (a lock
    file ``<answers>.lock`` beside it).

    Raises:
        ValueError: a ``config`` not :meth:`~DistillConfig.resolved` (no sizes or counts).
    """
    if not (config.algorithms and config.sizes and config.count and config.val_count):
        raise ValueError("the distillation config names no algorithms, sizes or counts: resolve it")
    out = Path(out)
    identity = _identity(teacher)  # hashes every weight: once
    if answers is None:
        cells = _cells_dir(out / CELLS_DIR, {"config": config.to_dict(), **identity}, resume)
        return _dataset(teacher, config, out, teacher_path, progress, cells, identity, True)
    with _exclusive(Path(f"{answers}.lock")):  # two datasets of one teacher take turns
        # the answers of a cell depend on the teacher and the batch beyond its name
        cells = _cells_dir(Path(answers), {**identity, "batch_size": config.batch_size}, True)
        return _dataset(teacher, config, out, teacher_path, progress, cells, identity, False)


def _dataset(
    teacher: nn.Module,
    config: DistillConfig,
    out: Path,
    teacher_path: str | None,
    progress: bool | None,
    cells: Path,
    identity: dict[str, str],
    own_cells: bool,
) -> dict[str, Any]:
    """:func:`teacher_dataset`'s dataset, its answers kept in ``cells`` (removed
    at the end when they are the dataset's ``own_cells``)."""
    splits, agreement = {}, {}
    total = len(config.algorithms) * len(config.sizes) * (config.count + config.val_count)
    disable = None if progress is None else not progress
    with tqdm(total=total, desc="teacher answering", unit="question", disable=disable) as bar:
        for split, seed, count in (
            ("train", config.seed, config.count),
            ("val", config.seed + 1, config.val_count),
        ):
            samples = []
            for algorithm in config.algorithms:
                for size in config.sizes:
                    path = cells / f"s{seed}-n{count}-{algorithm}-{size}.jsonl"
                    samples += _answered(teacher, config, path, algorithm, size, seed, count)
                    bar.update(count)
            rows = [_row(sample, seed) for sample in samples]
            with atomic_write(out / f"{split}.jsonl", overwrite=True, mode="w") as handle:
                handle.writelines(json.dumps(row) + "\n" for row in rows)
            splits[split] = {"seed": seed, "count": count, "rows": len(rows)}
            agreement[split] = _agreement(samples, rows)
    manifest = {
        "transnar_version": __version__,
        "kind": "distillation",
        "teacher": teacher_path,
        **identity,
        "algorithms": list(config.algorithms),
        "sizes": list(config.sizes),
        "config": config.to_dict(),
        "splits": splits,
        "teacher_vs_truth": agreement,
    }
    write_json(out / MANIFEST, manifest)
    if own_cells:
        shutil.rmtree(cells)
    return manifest


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on the file ``path`` (created) while the block
    runs, so that two processes (e.g. two pipeline stages of one teacher's
    students, run at once) that write one teacher's shared answers take turns:
    the second then reads the cells the first answered. Where the platform has
    no ``fcntl`` (Windows), no lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - POSIX everywhere the tests run
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _identity(teacher: nn.Module) -> dict[str, str]:
    """What identifies the teacher's answers: its weights."""
    return {"teacher_sha256": state_sha256(teacher)}


def _cells_dir(cells: Path, key: dict[str, Any], resume: bool) -> Path:
    """``cells``, emptied unless ``resume`` and it holds the answers of ``key``."""
    key_path = cells / CELLS_KEY
    try:
        kept = resume and json.loads(key_path.read_text(encoding="utf-8")) == key
    except (OSError, ValueError):  # none yet, or unreadable
        kept = False
    if not kept:
        shutil.rmtree(cells, ignore_errors=True)
        cells.mkdir(parents=True, exist_ok=True)
        write_json(key_path, key)
    return cells


def _answered(
    teacher: nn.Module,
    config: DistillConfig,
    path: Path,
    algorithm: str,
    size: int,
    seed: int,
    count: int,
) -> list[EvalSample]:
    """The teacher's answers (evaluation samples) to one cell's questions: read
    from ``path`` when it was answered before, else answered and written there."""
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        return [EvalSample.from_dict(json.loads(line)) for line in lines]
    settings = EvalSettings(
        algorithms=(algorithm,),
        sizes=(size,),
        seeds=(seed,),
        count=count,
        batch_size=config.batch_size,
        training_seeds=(),
        train_sizes=None,
    )
    samples = evaluate(teacher, settings).samples
    with atomic_write(path, overwrite=True, mode="w") as handle:
        handle.writelines(json.dumps(sample.to_dict()) + "\n" for sample in samples)
    return samples


def _agreement(samples: Sequence[EvalSample], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How the teacher's answers (``samples``, and their dataset ``rows``) agree
    with the truth: the share exactly right, the CLRS score (as :func:`evaluate`
    reports it), the share it stopped within its budget; and the first two per
    size (``by_size``: ``{size: {"exact", "clrs"}}``)."""

    def exact(kept: Sequence[dict[str, Any]]) -> float:
        return sum(r["answer"] == r["true_answer"] for r in kept) / len(kept)

    report = aggregate_samples(samples)
    return {
        "exact": exact(rows),
        "clrs": report.overall.clrs,
        "stopped": sum(r["teacher_stopped"] for r in rows) / len(rows),
        "by_size": {
            str(size): {"exact": exact([r for r in rows if r["length"] == size]), "clrs": s.clrs}
            for size, s in report.by_size.items()
        },
    }


def _row(sample: EvalSample, seed: int) -> dict[str, Any]:
    answer = sample.prediction
    if not answer.endswith("\n\n"):
        answer = answer.rstrip("\n") + "\n\n"
    return {
        "algo_name": sample.algorithm,
        "length": sample.size,
        "seed": seed,
        "index": sample.index,
        "question": sample.question,
        "answer": answer,
        "true_answer": sample.answer,
        "teacher_stopped": sample.stopped,
        "use_hints": False,
    }


def student_config(base: LMTrainConfig, data: str | os.PathLike, algorithms: Sequence[str]):
    """The student's training config: ``base`` (e.g. the baseline's) with no
    NAR and the distilled dataset as its data."""
    model = dataclasses.replace(base.model, use_nar=False)
    data_config = dataclasses.replace(
        base.data, path=str(Path(data).resolve()), algorithms=tuple(algorithms)
    )
    return dataclasses.replace(base, model=model, data=data_config)


def distill(
    teacher: nn.Module,
    base: LMTrainConfig,
    config: DistillConfig,
    out: str | os.PathLike,
    teacher_path: str | None = None,
    progress: bool | None = None,
) -> tuple[dict[str, Any], LMTrainResult]:
    """The teacher's dataset (``OUT/data``, kept if already written for the same
    questions by the same teacher: its weights), then the student trained on it
    (``OUT/student``, resumed if interrupted, started again when the dataset was
    written again); the manifest and the student's training result. What
    ``config`` leaves empty is ``base``'s data's (the teacher's NAR's algorithms)."""
    out = Path(out)
    config = config.resolved(base.data, teacher.nar.config.algorithms)
    data = out / DATA_DIR
    manifest_path = data / MANIFEST
    wanted = {"config": config.to_dict(), "teacher": teacher_path, **_identity(teacher)}
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    kept = manifest is not None and all(manifest.get(k) == v for k, v in wanted.items())
    if not kept:
        manifest = teacher_dataset(teacher, config, data, teacher_path, progress, resume=True)
    student = student_config(base, data, manifest["algorithms"])
    resume = kept and (out / STUDENT_DIR / "checkpoints" / "last.pt").is_file()
    result = train_lm(
        student, out / STUDENT_DIR, resume=resume, overwrite=not resume, progress=progress
    )
    return manifest, result


__all__ = [
    "DATA_DIR",
    "DISTILL_SEED",
    "STUDENT_DIR",
    "DistillConfig",
    "distill",
    "student_config",
    "teacher_dataset",
]
