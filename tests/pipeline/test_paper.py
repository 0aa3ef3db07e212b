"""The ``paper`` preset end to end on a CPU, its widths and counts shrunk by
overrides: all 30 algorithms, every stage, the real language-model sizes (4-8
and 12; evaluation at 10, 12 and 14). Slow (minutes): ``pytest -m slow``."""

from __future__ import annotations

import json

import pytest

from transnar.clrs import CLRS30_ALGORITHMS
from transnar.pipeline import run_pipeline
from transnar.pipeline.config import apply_overrides, preset

SHRUNK = (
    "seeds=1",
    "nar.train.steps=2",
    "nar.nar.hidden_dim=16",
    "nar.train.batch_size=4",
    "nar.data.val_count=4",
    "nar.data.test_count=4",
    "nar.data.eval_multipliers=false",
    "nar.data.test_sizes=[20]",  # the paper's 64 makes sorting run ~2,000 NAR steps
    "nar.train.threads=1",
    "lm.model.lm.d_model=32",
    "lm.model.lm.n_layers=1",
    "lm.model.lm.n_heads=2",
    "lm.data.train_count=2",
    "lm.data.val_count=1",
    "lm.data.test_count=2",
    "lm.train.batch_size=16",
    "lm.optim.epochs=1",
    "lm.optim.warmup_steps=2",
    "lm.train.threads=1",
    "lm.train.eval_every=100",
)


@pytest.mark.slow
def test_the_paper_preset_runs_end_to_end_shrunk(tmp_path):
    config = apply_overrides(preset("paper"), list(SHRUNK))
    run_dir = tmp_path / "paper"
    result = run_pipeline(config, run_dir, progress=False)
    assert {o.status for o in result.outcomes} == {"ran"}
    assert (run_dir / "report.md").is_file() and (run_dir / "report.html").is_file()
    for arm in config.arms:
        document = json.loads((run_dir / "eval" / f"{arm}-s0" / "results.json").read_text())
        cells = {(r["algorithm"], r["size"]) for r in document["scores"]["by_algorithm_size"]}
        assert cells == {(a, n) for a in CLRS30_ALGORITHMS for n in (10, 12, 14)}
    nar = json.loads((run_dir / "nar" / "results.json").read_text())
    assert set(nar["algorithms"]) == set(CLRS30_ALGORITHMS)
    report = (run_dir / "report.md").read_text()
    assert all(algorithm in report for algorithm in CLRS30_ALGORITHMS)
