"""Where a pipeline run keeps its files, and which language models it trains.

A run directory::

    config.yaml, config.json   the resolved RunPipelineConfig
    stages/<stage>.json        one record per stage (see transnar.pipeline.records)
    data/                      the CLRS-Text train and val splits (transnar data text)
    nar/                       the NAR run (transnar nar train)
    baseline-s<seed>/          the baseline runs (transnar lm train --no-nar)
    control-s<seed>/           the control runs (transnar lm train --nar RUN/nar --control)
    control-blank-s<seed>/     with that arm: the second control (a blank memory)
    transnar-s<seed>/          the TransNAR runs (transnar lm train --nar RUN/nar)
    transnar-<mode>-s<seed>/   with those arms: TransNAR with another memory mode
    data-hints/                with the index-hint arms: the splits with index hints
    baseline-hints-s<seed>/,   with those arms: the baseline and TransNAR on them
    transnar-hints-s<seed>/
    distill-s<seed>/           with the student arm: questions with that TransNAR's
                               answers (transnar distill's data)
    student-s<seed>/           the students trained on them (no NAR)
    distill-wide-s<seed>/,     with the student-wide arm: the same with questions
    student-wide-s<seed>/      at the evaluation sizes too
    student-soft-s<seed>/      with the student-soft arm: a student (no NAR) of the
                               run's data and that TransNAR's distributions
    teacher-answers/<teacher>/ the teacher's answers per cell, shared by its students
                               (each question answered once; kept)
    eval/<model>-s<seed>/      their evaluations (transnar lm eval)
    report.md, report.html     the report (transnar report), its figures in figures/
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transnar.arms import TEACHER, Arm, get_arm
from transnar.pipeline.config import ARMS, RunPipelineConfig, from_mapping

CONFIG_YAML = "config.yaml"
CONFIG_JSON = "config.json"
STAGES_DIR = "stages"
DATA_DIR = "data"
HINTS_DATA_DIR = "data-hints"
SHIFTED_HINTS_DATA_DIR = "data-hints-shifted"
DATA_DIRS = (DATA_DIR, HINTS_DATA_DIR, SHIFTED_HINTS_DATA_DIR)
"""The directories of the run's own training data (the students' are their teacher's answers)."""
TEACHER_ANSWERS_DIR = "teacher-answers"
NAR_DIR = "nar"
EVAL_DIR = "eval"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class ModelRun:
    """One language model of a run: one arm (:data:`ARMS`, defined in
    :data:`transnar.arms.ARMS`) at one training seed.

    Attributes:
        kind: the arm's name: ``baseline``, ``control``, ``control-blank``,
            ``transnar``, ``transnar-<memory mode>``, ``baseline-hints``,
            ``transnar-hints``, their ``-shifted`` variants, ``student``,
            ``student-wide`` or ``student-soft``.
        seed: its ``lm.train.seed``.
    """

    kind: str
    seed: int

    @property
    def arm(self) -> Arm:
        """Its arm: what makes it differ from the run's ``lm`` section."""
        return get_arm(self.kind)

    @property
    def use_nar(self) -> bool:
        """Whether it cross-attends to the NAR (TransNAR, its variants and the controls)."""
        return self.arm.use_nar

    @property
    def index_hints(self) -> bool:
        """Whether it learns and answers CLRS-Text with index hints (``*-hints``)."""
        return self.arm.index_hints

    @property
    def data_dir(self) -> str:
        """The directory of its training data: ``data``, ``data-hints`` (index
        hints), ``data-hints-shifted`` (shifted index hints) or ``distill-s<seed>``
        (a student's)."""
        if self.distill_dir:
            return self.distill_dir
        if self.index_hints:
            return SHIFTED_HINTS_DATA_DIR if self.arm.shift_markers else HINTS_DATA_DIR
        return DATA_DIR

    @property
    def name(self) -> str:
        """Its directory (and stage) name, e.g. ``transnar-s0``."""
        return f"{self.kind}-s{self.seed}"

    @property
    def teacher(self) -> ModelRun | None:
        """The student's teacher, the TransNAR of its seed (None for other arms)."""
        return ModelRun(TEACHER, self.seed) if self.arm.student else None

    @property
    def distill_dir(self) -> str | None:
        """A student's questions with its teacher's answers, ``distill-s<seed>``
        (``distill-wide-s<seed>``: the wide student's; also the name of the
        stage that writes them; None for other arms, and for the student of
        the teacher's distributions, which learns the run's data)."""
        return f"{self.arm.distill}-s{self.seed}" if self.arm.distill else None

    @property
    def teacher_answers_dir(self) -> str | None:
        """Where a student's teacher's answers are kept, per cell, for every
        student of that teacher, ``teacher-answers/<teacher>`` (None for the
        arms without a :attr:`distill_dir`)."""
        if self.distill_dir is None:
            return None
        return f"{TEACHER_ANSWERS_DIR}/{self.teacher.name}"

    @property
    def label(self) -> str:
        """Its label in tables and plots (the seeds of a label are averaged)."""
        return self.arm.label


def read_run_config(run_dir: str | os.PathLike) -> tuple[dict[str, Any], RunPipelineConfig]:
    """A run directory's ``config.json``: as written, and parsed.

    Raises:
        ValueError: not a run directory (no ``config.json``), or one that cannot be read.
    """
    path = Path(run_dir) / CONFIG_JSON
    if not path.is_file():
        raise ValueError(f"{run_dir} is not a transnar run directory (it has no {CONFIG_JSON})")
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    return recorded, from_mapping(recorded, RunPipelineConfig())


def model_runs(config: RunPipelineConfig) -> list[ModelRun]:
    """The arms (``config.arms``) of each seed, in training order."""
    first = config.lm.train.seed
    return [
        ModelRun(kind, seed)
        for seed in range(first, first + config.seeds)
        for kind in ARMS
        if kind in config.arms
    ]


__all__ = [
    "ARMS",
    "CONFIG_JSON",
    "CONFIG_YAML",
    "DATA_DIR",
    "DATA_DIRS",
    "EVAL_DIR",
    "FIGURES_DIR",
    "HINTS_DATA_DIR",
    "NAR_DIR",
    "REPORT_HTML",
    "REPORT_MD",
    "SHIFTED_HINTS_DATA_DIR",
    "STAGES_DIR",
    "ModelRun",
    "model_runs",
    "read_run_config",
]
