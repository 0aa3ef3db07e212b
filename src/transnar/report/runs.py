"""Reading a finished pipeline run: its config, its NAR, its language models and their scores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transnar.evaluation import load_results
from transnar.pipeline.config import RunPipelineConfig, from_mapping
from transnar.pipeline.layout import CONFIG_JSON, EVAL_DIR, NAR_DIR, ModelRun, model_runs
from transnar.pipeline.stages import read_records

METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
NAR_RESULTS = "results.json"


@dataclass
class ModelResult:
    """One trained and evaluated language model of a run.

    Attributes:
        run: which model (kind and seed).
        summary: its training's ``summary.json``.
        metrics: its training's ``metrics.jsonl`` records.
        results: its evaluation's ``results.json`` (:func:`~transnar.evaluation.load_results`).
    """

    run: ModelRun
    summary: dict[str, Any]
    metrics: list[dict[str, Any]]
    results: dict[str, Any]


@dataclass
class RunData:
    """Everything the report shows of one run directory.

    Attributes:
        directory: the run directory.
        config: its resolved config.
        nar_results: the NAR's ``results.json`` (its CLRS-30 test scores).
        nar_metrics: the NAR's ``metrics.jsonl`` records.
        models: the language models, in training order.
        stages: stage name -> its record (``stages/<name>.json``), in the order run.
    """

    directory: Path
    config: RunPipelineConfig
    nar_results: dict[str, Any]
    nar_metrics: list[dict[str, Any]]
    models: list[ModelResult]
    stages: dict[str, dict[str, Any]]


def load_run(directory: str | Path) -> RunData:
    """Reads a run directory of ``transnar run``.

    Raises:
        ValueError: not a run directory, or one whose NAR, training or
            evaluation is not finished (the message says which).
    """
    directory = Path(directory)
    config_path = directory / CONFIG_JSON
    if not config_path.is_file():
        raise ValueError(f"{directory} is not a transnar run directory (it has no {CONFIG_JSON})")
    config = from_mapping(_read_json(config_path), RunPipelineConfig())
    models = [
        ModelResult(
            run,
            _read_json(_finished(directory, directory / run.name / SUMMARY)),
            read_metrics(directory / run.name / METRICS),
            load_results(_finished(directory, directory / EVAL_DIR / run.name)),
        )
        for run in model_runs(config)
    ]
    return RunData(
        directory,
        config,
        _read_json(_finished(directory, directory / NAR_DIR / NAR_RESULTS)),
        read_metrics(directory / NAR_DIR / METRICS),
        models,
        read_records(directory),
    )


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


def _finished(run_dir: Path, path: Path) -> Path:
    if not path.exists():
        raise ValueError(
            f"the run in {run_dir} is not finished: it has no {path.relative_to(run_dir)} "
            f"(finish it with: transnar run --config {run_dir / 'config.yaml'} --out {run_dir})"
        )
    return path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None


__all__ = ["ModelResult", "RunData", "load_run", "read_metrics"]
