"""The whole TransNAR pipeline in one command (``transnar run``).

- :mod:`~transnar.pipeline.config`: :class:`RunPipelineConfig` (the NAR, the
  language models, the evaluation, the seeds), presets ``tiny``, ``small``,
  ``clrs30`` and ``paper``, ``key=value`` overrides and YAML files;
- :mod:`~transnar.pipeline.run`: :func:`run_pipeline`: data, NAR, baseline and
  TransNAR, evaluation, report, each stage skipped when done and resumed when
  interrupted;
- :mod:`~transnar.pipeline.stages`: a stage, and whether it is skipped, resumed or run;
- :mod:`~transnar.pipeline.schedule`: :func:`run_stages`, in order or ``--jobs`` at once;
- :mod:`~transnar.pipeline.time_left`: how long a run has left (each stage's ``done`` line);
- :mod:`~transnar.pipeline.plan`: :func:`plan_run`, what a run would do (``--plan``);
- :mod:`~transnar.pipeline.records`: the stage records and their hashes;
- :mod:`~transnar.pipeline.resources`: a stage's peak memory;
- :mod:`~transnar.pipeline.estimate`: what a run will cost (``--estimate``);
- :mod:`~transnar.pipeline.layout`: the files of a run directory;
- :mod:`~transnar.pipeline.report`: the report of one or several runs
  (``transnar report``), written by the pipeline's last stage;
- :mod:`~transnar.pipeline.export`: :func:`export_run`, a run's results (or its
  resumable state) without its data and weights (``transnar export``);
- :mod:`~transnar.pipeline.left_out`: the stages whose outputs such a copy lacks
  (``export.json``), skipped until a stage that runs needs them.

The package imports the models, the trainers and the evaluation, never the
command line (``transnar.cli``).

Example:
    >>> from transnar.pipeline import apply_overrides, preset, run_pipeline
    >>> config = apply_overrides(preset("tiny"), ["lm.train.steps=20"])
    >>> result = run_pipeline(config, "runs/tiny")  # doctest: +SKIP
"""

from transnar.pipeline.config import (
    PRESET_NAMES,
    EvalOptions,
    RunPipelineConfig,
    apply_overrides,
    from_mapping,
    load_yaml,
    preset,
    to_yaml,
)
from transnar.pipeline.export import ExportSummary, export_run
from transnar.pipeline.plan import RunPlan, plan_run
from transnar.pipeline.run import PipelineResult, run_pipeline
from transnar.pipeline.stages import LeftOutError, StageConfigError, StageFailedError

__all__ = [
    "PRESET_NAMES",
    "EvalOptions",
    "ExportSummary",
    "LeftOutError",
    "PipelineResult",
    "RunPipelineConfig",
    "RunPlan",
    "StageConfigError",
    "StageFailedError",
    "apply_overrides",
    "export_run",
    "from_mapping",
    "load_yaml",
    "plan_run",
    "preset",
    "run_pipeline",
    "to_yaml",
]
