"""Helpers of the pipeline and report tests: a pipeline config of a few seconds.

Import them as ``from tests.pipeline_helpers import ...``.
"""

from __future__ import annotations

import json
from pathlib import Path

from transnar.pipeline import apply_overrides, preset, run_pipeline

# The tiny preset made faster: a pipeline of a few seconds on one thread.
FAST = (
    "nar.train.steps=4",
    "nar.train.eval_every=2",
    "nar.data.val_count=4",
    "nar.data.test_count=4",
    "nar.train.eval_batch_size=4",
    "nar.nar.hidden_dim=8",
    "nar.nar.nb_triplet_fts=4",
    "nar.train.threads=1",
    "lm.data.train_count=8",
    "lm.data.val_count=4",
    "lm.data.test_count=2",
    "lm.train.batch_size=4",
    "lm.train.steps=6",
    "lm.optim.warmup_steps=2",
    "lm.train.eval_every=2",
    "lm.train.eval_batch_size=8",
    "lm.train.threads=1",
    "lm.model.lm.d_model=32",
)


def fast_config(*overrides: str):
    """The ``tiny`` preset with :data:`FAST` and ``overrides``."""
    return apply_overrides(preset("tiny"), [*FAST, *overrides])


def run_fast(run_dir: Path, *overrides: str, log=None, **options):
    """Runs the fast pipeline into ``run_dir`` (no progress bars; the stage
    lines to ``log``, default nowhere); its result."""
    log = log or (lambda line: None)
    return run_pipeline(fast_config(*overrides), run_dir, progress=False, log=log, **options)


def statuses(result) -> dict[str, str]:
    """Stage name -> ``skipped``, ``ran`` or ``resumed``."""
    return {o.name: o.status for o in result.outcomes}


def lm_losses(run_dir: Path) -> list[tuple[int, float]]:
    """``(step, loss)`` of every training step of a language model run."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines) if "loss" in r]


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
