"""Where a pipeline run keeps its files, and which language models it trains.

A run directory::

    config.yaml, config.json   the resolved RunPipelineConfig
    stages/<stage>.json        one record per stage (see transnar.pipeline.stages)
    data/                      the CLRS-Text train and val splits (transnar data text)
    nar/                       the NAR run (transnar nar train)
    baseline-s<seed>/          the baseline runs (transnar lm train --no-nar)
    transnar-s<seed>/          the TransNAR runs (transnar lm train --nar RUN/nar)
    eval/<model>-s<seed>/      their evaluations (transnar lm eval)
    report.md, report.html     the report (transnar report), its figures in figures/
"""

from __future__ import annotations

from dataclasses import dataclass

from transnar.pipeline.config import RunPipelineConfig

CONFIG_YAML = "config.yaml"
CONFIG_JSON = "config.json"
STAGES_DIR = "stages"
DATA_DIR = "data"
NAR_DIR = "nar"
EVAL_DIR = "eval"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
FIGURES_DIR = "figures"


@dataclass(frozen=True)
class ModelRun:
    """One language model of a run: the baseline or TransNAR, at one training seed.

    Attributes:
        kind: ``baseline`` or ``transnar``.
        seed: its ``lm.train.seed``.
    """

    kind: str
    seed: int

    @property
    def use_nar(self) -> bool:
        return self.kind == "transnar"

    @property
    def name(self) -> str:
        """Its directory (and stage) name, e.g. ``transnar-s0``."""
        return f"{self.kind}-s{self.seed}"

    @property
    def label(self) -> str:
        """Its label in tables and plots (the seeds of a label are averaged)."""
        return "TransNAR" if self.use_nar else "baseline"


def model_runs(config: RunPipelineConfig) -> list[ModelRun]:
    """The baseline and TransNAR of each seed, in training order."""
    first = config.lm.train.seed
    return [
        ModelRun(kind, seed)
        for seed in range(first, first + config.seeds)
        for kind in ("baseline", "transnar")
    ]


__all__ = [
    "CONFIG_JSON",
    "CONFIG_YAML",
    "DATA_DIR",
    "EVAL_DIR",
    "FIGURES_DIR",
    "NAR_DIR",
    "REPORT_HTML",
    "REPORT_MD",
    "STAGES_DIR",
    "ModelRun",
    "model_runs",
]
