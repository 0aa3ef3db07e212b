"""The stage machinery of the pipeline: skipping, resuming, refusing, forcing."""

from __future__ import annotations

import json

import pytest

from transnar.pipeline.stages import (
    Stage,
    StageConfigError,
    differences,
    duration,
    outputs_sha256,
    read_record,
    read_records,
    run_stages,
)


class Recorder:
    """Stages that write ``<name>.txt`` (their config and inputs' text), recording
    each call's ``resume`` flag."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.calls: list[tuple[str, bool]] = []

    def stage(self, name: str, value, inputs=(), fail_at: int | None = None) -> Stage:
        def run(resume: bool) -> None:
            self.calls.append((name, resume))
            if fail_at is not None and len(self.calls) == fail_at:
                raise KeyboardInterrupt
            text = f"{value}|" + "|".join((self.run_dir / f"{i}.txt").read_text() for i in inputs)
            (self.run_dir / f"{name}.txt").write_text(text)

        return Stage(name, f"make {name}", {"value": value}, (f"{name}.txt",), run, tuple(inputs))

    def chain(self, a=1, b=2, c=3, fail_b_at: int | None = None) -> list[Stage]:
        """``a``; ``b`` reads ``a`` (and raises at the ``fail_b_at``-th call); ``c``
        reads nothing."""
        return [
            self.stage("a", a),
            self.stage("b", b, ("a",), fail_at=fail_b_at),
            self.stage("c", c),
        ]


def run(run_dir, stages, **options):
    lines: list[str] = []
    outcomes = run_stages(run_dir, stages, log=lines.append, **options)
    return {o.name: o.status for o in outcomes}, lines


def test_stages_run_once_then_are_skipped(tmp_path):
    recorder = Recorder(tmp_path)
    statuses, lines = run(tmp_path, recorder.chain())
    assert statuses == {"a": "ran", "b": "ran", "c": "ran"}
    assert lines[0] == "[1/3] a: running: make a" and lines[1].startswith("[1/3] a: done in ")
    assert (tmp_path / "b.txt").read_text() == "2|1|"
    record = read_record(tmp_path, "b")
    assert record["status"] == "done" and record["config"] == {"value": 2}
    assert record["inputs"] == {"a": outputs_sha256(tmp_path, ["a.txt"])}
    assert list(read_records(tmp_path)) == ["a", "b", "c"]

    statuses, lines = run(tmp_path, recorder.chain())
    assert statuses == {"a": "skipped", "b": "skipped", "c": "skipped"}
    assert lines == [f"[{k}/3] {n}: skipped (up to date)" for k, n in enumerate("abc", 1)]
    assert len(recorder.calls) == 3


def test_a_changed_config_is_refused_before_anything_runs(tmp_path):
    recorder = Recorder(tmp_path)
    run(tmp_path, recorder.chain())
    before = (tmp_path / "stages" / "a.json").read_text()
    with pytest.raises(StageConfigError, match=r"stage a \(value: 1 -> 5\).*--force"):
        run(tmp_path, recorder.chain(a=5))
    assert len(recorder.calls) == 3
    assert (tmp_path / "stages" / "a.json").read_text() == before


def test_force_reruns_the_changed_stage_and_its_dependents_only(tmp_path):
    recorder = Recorder(tmp_path)
    run(tmp_path, recorder.chain())
    statuses, _ = run(tmp_path, recorder.chain(a=5), force=True)
    assert statuses == {"a": "ran", "b": "ran", "c": "skipped"}
    assert (tmp_path / "b.txt").read_text() == "2|5|"


def test_an_interrupted_stage_is_resumed_and_the_next_ones_run(tmp_path):
    recorder = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, recorder.chain(fail_b_at=2))
    assert read_record(tmp_path, "a")["status"] == "done"
    assert read_record(tmp_path, "b")["status"] == "running"
    assert read_record(tmp_path, "c") is None
    statuses, lines = run(tmp_path, recorder.chain())
    assert statuses == {"a": "skipped", "b": "resumed", "c": "ran"}
    assert recorder.calls[-2:] == [("b", True), ("c", False)]
    assert "[2/3] b: resuming: make b" in lines


def test_missing_or_modified_outputs_are_made_again(tmp_path):
    recorder = Recorder(tmp_path)
    run(tmp_path, recorder.chain())
    (tmp_path / "a.txt").write_text("edited")
    (tmp_path / "c.txt").unlink()
    statuses, _ = run(tmp_path, recorder.chain())
    assert statuses == {"a": "ran", "b": "skipped", "c": "ran"}  # a's output is the same again


def test_stop_after_and_its_errors(tmp_path):
    recorder = Recorder(tmp_path)
    statuses, _ = run(tmp_path, recorder.chain(), stop_after="a")
    assert statuses == {"a": "ran"}
    with pytest.raises(ValueError, match="no stage 'x' to stop after"):
        run(tmp_path, recorder.chain(), stop_after="x")


def test_a_stage_that_writes_nothing_is_an_error(tmp_path):
    stage = Stage("n", "nothing", {}, ("missing.txt",), lambda resume: None)
    with pytest.raises(RuntimeError, match=r"did not write missing\.txt"):
        run_stages(tmp_path, [stage], log=lambda _: None)
    assert json.loads((tmp_path / "stages" / "n.json").read_text())["status"] == "running"


def test_helpers():
    assert differences({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}) == "a.c: 2 -> 3"
    assert differences({"x": 1, "y": 1, "z": 1}, {}, limit=2).endswith("and 1 more")
    assert [duration(s) for s in (4.25, 192, 3720)] == ["4.2 s", "3 min 12 s", "1 h 02 min"]
