"""Reading a finished pipeline run: its config, its NAR, its language models and their scores.

Also what the report says about a run's config: :func:`is_smoke` (budgets of
the ``tiny`` preset or smaller: the scores mean nothing) and
:func:`nar_stepping` (how the NAR's number of steps was chosen).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transnar.evaluation import load_results
from transnar.evaluation.results import restrict_results
from transnar.pipeline.config import RunPipelineConfig
from transnar.pipeline.layout import (
    DATA_DIR,
    DATA_DIRS,
    EVAL_DIR,
    NAR_DIR,
    ModelRun,
    model_runs,
    read_run_config,
)
from transnar.pipeline.records import read_records, sha256_json
from transnar.training.distill import MANIFEST as DISTILL_MANIFEST

METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
NAR_RESULTS = "results.json"
SMOKE_D_MODEL = 64
"""A run whose language models are at most this wide ..."""
SMOKE_NAR_STEPS = 300
"""... and whose NAR trains at most this many steps is a smoke run (the ``tiny``
preset: d_model 64, 300 NAR steps; ``small`` has 128 and 1,500)."""


@dataclass
class ModelResult:
    """One trained and evaluated language model of a run.

    Attributes:
        run: which model (kind and seed).
        summary: its training's ``summary.json``.
        metrics: its training's ``metrics.jsonl`` records.
        results: its evaluation's ``results.json`` (:func:`~transnar.evaluation.load_results`).
        teacher_answers: a student's: the manifest of its teacher's answers
            (``distill-s<seed>/manifest.json``: their agreement with the truth);
            None for the other arms.
        evaluation: its evaluation's directory (``results.json`` and, unless
            left out, ``predictions.jsonl``).
    """

    run: ModelRun
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    results: dict[str, Any]
    teacher_answers: dict[str, Any] | None = None
    evaluation: Path | None = None


@dataclass
class RunData:
    """Everything the report shows of one run directory.

    Attributes:
        directory: the run directory.
        config: its resolved config.
        nar_results: the NAR's ``results.json`` (its CLRS-30 test scores).
        nar_metrics: the NAR's ``metrics.jsonl`` records.
        models: the language models reported, in training order.
        stages: stage name -> its record (``stages/<name>.json``), in the order
            run; without the stages of the arms left out of the report.
        arms: the arms reported (all of ``config.arms`` unless a selection).
        algorithms: the algorithms reported (all of the run's unless a
            selection: the models' results then hold those algorithms only).
        seeds: the language models' seeds reported (all of the run's unless a
            selection).
        nar_steps: how its NAR chose its number of steps (:func:`nar_stepping`).
    """

    directory: Path
    config: RunPipelineConfig
    nar_results: dict[str, Any]
    nar_metrics: list[dict[str, Any]]
    models: list[ModelResult]
    stages: dict[str, dict[str, Any]]
    arms: tuple[str, ...]
    algorithms: tuple[str, ...]
    nar_steps: str
    seeds: tuple[int, ...] = ()

    @property
    def is_smoke(self) -> bool:
        """Whether the run has the ``tiny`` preset's budgets or smaller (:func:`is_smoke`)."""
        return is_smoke(self.config)


def load_run(
    directory: str | Path,
    arms: Sequence[str] | None = None,
    algorithms: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
) -> RunData:
    """Reads a run directory of ``transnar run``.

    Args:
        directory: the run directory.
        arms: report only these of the run's arms (e.g. the ones of one
            question, in a run that trained more); their models must be
            finished, the others' need not be. Default: all of them.
        algorithms: report only these of the run's algorithms: each model's
            results restricted to them (:func:`~transnar.evaluation.results.restrict_results`).
            Default: all of them.
        seeds: report only the language models of these seeds (e.g. those
            finished while the others train); the others need not be finished.
            Default: all of them.

    Raises:
        ValueError: not a run directory, an arm, algorithm or seed the run does
            not have, or a run whose NAR, or a reported model's training or
            evaluation, is not finished (the message says which).
    """
    directory = Path(directory)
    recorded, config = read_run_config(directory)
    arms = tuple(config.arms if arms is None else dict.fromkeys(arms))
    missing = [arm for arm in arms if arm not in config.arms]
    if missing:
        raise ValueError(
            f"the run in {directory} has no arm {', '.join(missing)} "
            f"(its arms: {', '.join(config.arms)})"
        )
    algorithms = tuple(
        config.lm.data.algorithms if algorithms is None else dict.fromkeys(algorithms)
    )
    unknown = [name for name in algorithms if name not in config.lm.data.algorithms]
    if unknown:
        raise ValueError(
            f"the run in {directory} has no algorithm {', '.join(unknown)} "
            f"(its algorithms: {', '.join(config.lm.data.algorithms)})"
        )
    first = config.lm.train.seed
    run_seeds = tuple(range(first, first + config.seeds))
    seeds = run_seeds if seeds is None else tuple(dict.fromkeys(seeds))
    absent = [str(seed) for seed in seeds if seed not in run_seeds]
    if absent:
        raise ValueError(
            f"the run in {directory} has no seed {', '.join(absent)} "
            f"(its seeds: {', '.join(map(str, run_seeds))})"
        )
    reported_models = [m for m in model_runs(config) if m.kind in arms and m.seed in seeds]
    left_out = {
        name
        for model in model_runs(config)
        if model not in reported_models
        for name in (model.name, f"eval-{model.name}", model.distill_dir)
    }
    reported = {ModelRun(arm, 0).data_dir for arm in arms}  # the hinted data the arms read
    left_out |= {name for name in DATA_DIRS if name != DATA_DIR and name not in reported}
    records = read_records(directory)
    models = [_model_result(directory, config, run, records, algorithms) for run in reported_models]
    return RunData(
        directory,
        config,
        _read_json(_finished(directory, directory / NAR_DIR / NAR_RESULTS)),
        read_metrics(directory / NAR_DIR / METRICS),
        models,
        {name: r for name, r in records.items() if name not in left_out},
        arms,
        algorithms,
        nar_stepping(recorded),
        seeds,
    )


def _model_result(
    directory: Path,
    config: RunPipelineConfig,
    run: ModelRun,
    records: Mapping[str, dict],
    algorithms: Sequence[str],
) -> ModelResult:
    summary = _read_json(_finished(directory, directory / run.name / SUMMARY))
    evaluation = _evaluated(directory, config, run, records)
    return ModelResult(
        run,
        summary,
        read_metrics(directory / run.name / METRICS),
        _results(evaluation, algorithms),
        _read_json(directory / run.distill_dir / DISTILL_MANIFEST) if run.distill_dir else None,
        evaluation,
    )


def _results(path: Path, algorithms: Sequence[str]) -> dict[str, Any]:
    """An evaluation's results, restricted to ``algorithms`` when they are not all of its."""
    document = load_results(path)
    if list(algorithms) == list(document["settings"]["algorithms"]):
        return document
    return restrict_results(document, algorithms)


def is_smoke(config: RunPipelineConfig) -> bool:
    """Whether a config has the ``tiny`` preset's budgets or smaller: language
    models of ``d_model <= 64`` and a NAR of at most 300 training steps. Such a
    run only shows that the pipeline works; its scores mean nothing. (A run's
    config does not record the name of its preset, hence this rule.)"""
    return config.lm.model.lm.d_model <= SMOKE_D_MODEL and config.nar.train.steps <= SMOKE_NAR_STEPS


def nar_stepping(recorded: Mapping[str, Any]) -> str:
    """How a run's language models' NAR chose its number of steps
    (``lm.model.nar_steps``: ``learned``, ``budget`` or ``oracle``), from the run's
    ``config.json`` as written: ``oracle`` for a run from before the option (its
    config has no such key; parsed, it would get today's default)."""
    return str(recorded.get("lm", {}).get("model", {}).get("nar_steps") or "oracle")


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` (none if it is missing); a line cut
    short by an interruption is left out."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def _evaluated(
    run_dir: Path, config: RunPipelineConfig, model: ModelRun, records: Mapping[str, dict]
) -> Path:
    """A model's evaluation directory, checked to be finished with the run's
    settings (not left by a run interrupted after a change of them)."""
    path = _finished(run_dir, run_dir / EVAL_DIR / model.name)
    record = records.get(f"eval-{model.name}") or {}
    settings = config.model_eval_settings(model.index_hints).to_dict()
    if record.get("status") != "done" or record.get("config_sha256") != sha256_json(settings):
        raise ValueError(
            f"the run in {run_dir} is not finished: {path.relative_to(run_dir)} was not "
            "evaluated with the settings of its config (an interrupted run after a change of "
            f"them?); finish it with: transnar run --out {run_dir}"
        )
    return path


def _finished(run_dir: Path, path: Path) -> Path:
    if not path.exists():
        raise ValueError(
            f"the run in {run_dir} is not finished: it has no {path.relative_to(run_dir)} "
            f"(finish it with: transnar run --out {run_dir})"
        )
    return path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None


__all__ = ["ModelResult", "RunData", "is_smoke", "load_run", "nar_stepping", "read_metrics"]
