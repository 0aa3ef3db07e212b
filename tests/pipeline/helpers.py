"""Helpers of the pipeline and report tests: a pipeline run of a few seconds, its
stages' statuses and scores.

The fast config itself is :func:`tests.tiny.pipeline_config`. Import these as
``from tests.pipeline.helpers import ...``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests import tiny
from transnar.pipeline import run_pipeline


def run_fast(run_dir: Path, *overrides: str, log=None, **options):
    """Runs the fast pipeline (:func:`tests.tiny.pipeline_config` with ``overrides``)
    into ``run_dir`` (no progress bars; the stage lines to ``log``, default
    nowhere); its result."""
    log = log or (lambda line: None)
    config = tiny.pipeline_config(*overrides)
    return run_pipeline(config, run_dir, progress=False, log=log, **options)


def statuses(result) -> dict[str, str]:
    """Stage name -> ``skipped``, ``ran`` or ``resumed``."""
    return {o.name: o.status for o in result.outcomes}


def scores(run_dir: Path) -> dict:
    """The scores that must not depend on how a run was made: the NAR's test
    scores and the evaluations' tables."""
    nar = json.loads((run_dir / "nar" / "results.json").read_text())
    evals = {}
    for directory in sorted((run_dir / "eval").iterdir()):
        document = json.loads((directory / "results.json").read_text())
        evals[directory.name] = {k: v for k, v in document["scores"].items() if k != "source"}
        evals[directory.name]["predictions"] = [s["prediction"] for s in document["samples"]]
    return {"nar": nar["algorithms"], "mean": nar["mean"], "eval": evals}
