"""MetricsLog: metrics.jsonl and TensorBoard scalars, resumed without duplicates."""

from __future__ import annotations

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests import tiny
from tests.training.helpers import records
from transnar.training import train_lm
from transnar.training.runs import TENSORBOARD_DIR, MetricsLog


def scalars(run_dir, tag: str) -> list[tuple[int, float]]:
    events = EventAccumulator(str(run_dir / TENSORBOARD_DIR))
    events.Reload()
    return [(e.step, pytest.approx(e.value)) for e in events.Scalars(tag)]


def test_records_become_lines_and_scalars(tmp_path):
    with MetricsLog(tmp_path / "metrics.jsonl") as log:
        log.log({"step": 1, "loss": {"bfs": 0.5, "dfs": 1.5}, "lr": 0.1, "best": True})
        log.log({"step": 2, "loss": {"bfs": 0.25, "dfs": 1.0}, "lr": 0.2, "note": "x"})
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines[1] == {"step": 2, "loss": {"bfs": 0.25, "dfs": 1.0}, "lr": 0.2, "note": "x"}
    assert scalars(tmp_path, "loss/bfs") == [(1, 0.5), (2, 0.25)]
    assert scalars(tmp_path, "lr") == [(1, 0.1), (2, 0.2)]
    tags = EventAccumulator(str(tmp_path / TENSORBOARD_DIR)).Reload().Tags()["scalars"]
    assert sorted(tags) == ["loss/bfs", "loss/dfs", "lr"]  # no step, bool or text


def test_a_resumed_log_replaces_the_steps_after_the_checkpoint(tmp_path):
    with MetricsLog(tmp_path / "metrics.jsonl") as log:
        for step in range(1, 5):
            log.log({"step": step, "loss": float(step)})
    # the run resumes from a checkpoint at step 2: steps 3 and 4 are logged again
    with MetricsLog(tmp_path / "metrics.jsonl", resume_step=2) as log:
        for step in (3, 4):
            log.log({"step": step, "loss": 10.0 * step})
    assert scalars(tmp_path, "loss") == [(1, 1.0), (2, 2.0), (3, 30.0), (4, 40.0)]


def test_a_disabled_log_writes_nothing(tmp_path):
    with MetricsLog(tmp_path / "metrics.jsonl", enabled=False) as log:
        log.log({"step": 1, "loss": 1.0})
    assert list(tmp_path.iterdir()) == []


def test_training_writes_tensorboard_events(tmp_path):
    train_lm(tiny.lm_train_config(None), tmp_path / "run", progress=False)
    losses = [
        (r["step"], pytest.approx(r["loss"])) for r in records(tmp_path / "run") if "loss" in r
    ]
    assert scalars(tmp_path / "run", "loss") == losses
    assert [step for step, _ in scalars(tmp_path / "run", "val/bfs")] == [2, 4, 6]


def test_progress_log_writes_events_and_periodic_lines_with_an_eta(tmp_path, monkeypatch):
    import io

    from transnar.training import runs

    clock = [100.0]
    monkeypatch.setattr(runs.time, "monotonic", lambda: clock[0])
    console = io.StringIO()
    path = tmp_path / "run" / "train.log"
    with runs.ProgressLog(path, total=100, start_step=20, interval=30, console=console) as log:
        log.event("starting")
        clock[0] += 10
        log.step(30, "loss 1.5")  # 10 s after the start: not yet
        clock[0] += 30
        log.step(40, "loss 1.2")  # 40 s for 20 steps: the 60 left take 120 s
        clock[0] += 5
        log.step(41, "loss 1.1", force=True)  # the file only
    lines = path.read_text().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "starting",
        "step 40/100 (40%) loss 1.2, ETA 2 min 00 s",
        "step 41/100 (41%) loss 1.1, ETA 2 min 06 s",
    ]
    assert console.getvalue() == "run: step 40/100 (40%) loss 1.2, ETA 2 min 00 s\n"
    with runs.ProgressLog(path, total=100, enabled=False, interval=0) as log:
        log.event("nothing")
        log.step(1, "x")
    assert len(path.read_text().splitlines()) == 3


def test_progress_lines_go_to_stderr_only_when_it_is_not_a_terminal(tmp_path, monkeypatch):
    import sys

    from transnar.training import runs

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert runs.ProgressLog(tmp_path / "a.log", 10).console is None
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert runs.ProgressLog(tmp_path / "a.log", 10).console is sys.stderr
