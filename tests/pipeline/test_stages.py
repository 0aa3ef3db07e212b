"""The stage machinery of the pipeline: skipping, resuming, refusing, forcing."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest

from transnar.pipeline.records import differences, outputs_sha256, read_record, read_records
from transnar.pipeline.schedule import run_stages
from transnar.pipeline.stages import PipelineStage, StageConfigError
from transnar.pipeline.time_left import estimated_seconds, longest_chains, time_left
from transnar.training.runs import duration


class Recorder:
    """Stages that write ``<name>.txt`` (their config and inputs' text), recording
    each call's ``resume`` flag."""

    def __init__(self, run_dir):
        self.run_dir = run_dir
        self.calls: list[tuple[str, bool]] = []

    def stage(
        self, name: str, value, inputs=(), fail_at: int | None = None, resumable=None
    ) -> PipelineStage:
        def run(resume: bool) -> None:
            self.calls.append((name, resume))
            if fail_at is not None and len(self.calls) == fail_at:
                raise KeyboardInterrupt
            text = f"{value}|" + "|".join((self.run_dir / f"{i}.txt").read_text() for i in inputs)
            (self.run_dir / f"{name}.txt").write_text(text)

        return PipelineStage(
            name,
            f"make {name}",
            {"value": value},
            (f"{name}.txt",),
            run,
            tuple(inputs),
            resumable=resumable,
        )

    def chain(self, a=1, b=2, c=3, fail_b_at: int | None = None) -> list[PipelineStage]:
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


def test_an_interrupted_stage_with_nothing_to_resume_from_starts_again(tmp_path):
    recorder = Recorder(tmp_path)
    stages = [recorder.stage("a", 1, fail_at=1, resumable=lambda: False)]
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, stages)
    stages = [recorder.stage("a", 1, resumable=lambda: False)]
    statuses, lines = run(tmp_path, stages)
    assert statuses == {"a": "ran"} and recorder.calls[-1] == ("a", False)
    assert lines[0] == (
        "[1/1] a: starting again, because it was interrupted before saving anything to "
        "resume from: make a"
    )
    assert read_record(tmp_path, "a")["resumed"] is False


def test_missing_or_modified_outputs_are_made_again_saying_why(tmp_path):
    recorder = Recorder(tmp_path)
    run(tmp_path, recorder.chain())
    (tmp_path / "a.txt").write_text("edited")
    (tmp_path / "c.txt").unlink()
    statuses, lines = run(tmp_path, recorder.chain())
    assert statuses == {"a": "ran", "b": "skipped", "c": "ran"}  # a's output is the same again
    assert lines[0] == (
        "[1/3] a: starting again, because a.txt changed since it was done (modified, "
        "truncated or corrupted): make a"
    )
    assert "[3/3] c: starting again, because c.txt is missing: make c" in lines


def test_a_damaged_stage_runs_again_saying_why(tmp_path):
    recorder = Recorder(tmp_path)
    run(tmp_path, recorder.chain())
    damage = {"reason": ""}
    stages = recorder.chain()
    stages[0] = dataclasses.replace(stages[0], damaged=lambda: damage["reason"])
    statuses, _ = run(tmp_path, stages)
    assert set(statuses.values()) == {"skipped"}
    damage["reason"] = "its data file is truncated"
    statuses, lines = run(tmp_path, stages)
    assert statuses == {"a": "ran", "b": "skipped", "c": "skipped"}  # a's output is the same
    assert lines[0] == "[1/3] a: starting again, because its data file is truncated: make a"


def test_restart_runs_a_stage_from_its_start(tmp_path):
    recorder = Recorder(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, recorder.chain(fail_b_at=2))
    statuses, lines = run(tmp_path, recorder.chain(), restart=["b"])
    assert statuses == {"a": "skipped", "b": "ran", "c": "ran"}
    assert recorder.calls[-2] == ("b", False)  # not resumed
    assert "[2/3] b: starting again, because --restart asked for it: make b" in lines
    statuses, _ = run(tmp_path, recorder.chain(), restart=["a"])
    assert statuses == {"a": "ran", "b": "skipped", "c": "skipped"}  # the same output again
    with pytest.raises(ValueError, match=r"no stage 'x' to restart \(stages: a, b, c\)"):
        run(tmp_path, recorder.chain(), restart=["x"])


def test_stop_after_and_its_errors(tmp_path):
    recorder = Recorder(tmp_path)
    statuses, _ = run(tmp_path, recorder.chain(), stop_after="a")
    assert statuses == {"a": "ran"}
    with pytest.raises(ValueError, match="no stage 'x' to stop after"):
        run(tmp_path, recorder.chain(), stop_after="x")


def test_a_stage_that_writes_nothing_is_an_error(tmp_path):
    stage = PipelineStage("n", "nothing", {}, ("missing.txt",), lambda resume: None)
    with pytest.raises(RuntimeError, match=r"did not write missing\.txt"):
        run_stages(tmp_path, [stage], log=lambda _: None)
    assert json.loads((tmp_path / "stages" / "n.json").read_text())["status"] == "running"


def test_only_runs_one_stage_once_its_inputs_are_done(tmp_path):
    recorder = Recorder(tmp_path)
    with pytest.raises(ValueError, match=r"stage b needs its input stages done first: a \(not"):
        run(tmp_path, recorder.chain(), only="b")
    assert recorder.calls == [] and read_record(tmp_path, "b") is None
    statuses, lines = run(tmp_path, recorder.chain(), only="a")
    assert statuses == {"a": "ran"} and lines[0] == "[1/3] a: running: make a"
    assert run(tmp_path, recorder.chain(), only="b")[0] == {"b": "ran"}
    assert run(tmp_path, recorder.chain(), only="b")[0] == {"b": "skipped"}
    (tmp_path / "a.txt").write_text("edited")  # a is out of date, and so b's input
    with pytest.raises(ValueError, match=r"a \(out of date\)"):
        run(tmp_path, recorder.chain(), only="b")
    with pytest.raises(ValueError, match="no stage 'x' to run"):
        run(tmp_path, recorder.chain(), only="x")


def test_only_resumes_an_interrupted_stage_and_checks_inputs_recursively(tmp_path):
    recorder = Recorder(tmp_path)
    stages = [*recorder.chain(fail_b_at=2), recorder.stage("d", 4, ("b",))]
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, stages)
    with pytest.raises(ValueError, match=r"b \(interrupted\)"):
        run(tmp_path, stages, only="d")
    assert run(tmp_path, stages, only="b")[0] == {"b": "resumed"}
    assert run(tmp_path, stages, only="d")[0] == {"d": "ran"}
    (tmp_path / "a.txt").write_text("edited")
    with pytest.raises(ValueError, match=r"b \(out of date\)"):  # made from the old a
        run(tmp_path, stages, only="d")


def test_records_are_replaced_atomically(tmp_path):
    """Readers never see a half-written record while others write (``write_json``)."""
    from transnar.persistence import write_json

    path = tmp_path / "stages" / "s.json"
    write_json(path, {"n": -1})
    stop, seen = threading.Event(), []

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(json.loads(path.read_text())["n"])
            except ValueError as error:  # a partial file
                seen.append(error)

    def write(k: int) -> None:
        for _ in range(20):
            write_json(path, {"n": k, "pad": "x" * 50_000})

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    stop.set()
    reader.join()
    assert seen and set(seen) <= {-1, 0, 1, 2, 3}
    assert [p.name for p in path.parent.iterdir()] == ["s.json"]  # no temporary file left


def test_helpers():
    assert differences({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}) == "a.c: 2 -> 3"
    assert differences({"x": 1, "y": 1, "z": 1}, {}, limit=2).endswith("and 1 more")
    assert [duration(s) for s in (4.25, 192, 3720)] == ["4.2 s", "3 min 12 s", "1 h 02 min"]


def test_time_left_is_estimated_from_stages_of_the_same_kind_or_group():
    def stage(name, group=None):
        return PipelineStage(name, name, {}, (), lambda resume: None, group=group)

    stages = [stage("train-s1", "lm"), stage("other-s1", "lm"), stage("eval-s1"), stage("report")]
    groups = {s.name: s.group for s in stages}
    seconds = {"train-s0": 60.0, "train-s2": 120.0, "eval-s0": 10.0}
    # train-s1: 90 (its kind); other-s1: 90 (its group, lm); eval-s1: 10; report: unknown
    groups.update({"train-s0": "lm", "train-s2": "lm"})
    assert time_left(stages, seconds, groups) == (
        "about 3 min 10 s left (4 stage(s) to run, 1 of them not estimated yet)"
    )
    assert time_left(stages[:3], seconds, groups, jobs=2, spent={"train-s1": 30.0}) == (
        "about 1 min 20 s left (3 stage(s) to run)"
    )
    assert time_left(stages[3:], seconds, groups) is None
    assert time_left([], seconds, groups) is None


def test_the_longest_chain_from_each_stage_to_the_end():
    def stage(name, *inputs):
        return PipelineStage(name, name, {}, (), lambda resume: None, inputs=inputs)

    stages = [
        stage("data"),
        stage("t-s0", "data"),
        stage("u-s0", "data"),
        stage("v-s0", "u-s0"),
        stage("eval-t-s0", "t-s0"),
        stage("report", "t-s0", "u-s0", "v-s0", "eval-t-s0"),
    ]
    seconds = {"t-s1": 100.0, "u-s1": 30.0, "v-s1": 90.0, "eval-t-s1": 1.0}
    estimates = estimated_seconds([s.name for s in stages], seconds, {})
    assert estimates == {"data": None, "t-s0": 100.0, "u-s0": 30.0, "v-s0": 90.0,
                         "eval-t-s0": 1.0, "report": None}  # fmt: skip
    assert longest_chains(stages, estimates) == {
        "report": 0.0, "eval-t-s0": 1.0, "v-s0": 90.0, "u-s0": 120.0, "t-s0": 101.0,
        "data": 120.0,
    }  # fmt: skip


def test_the_done_line_says_how_long_is_left(tmp_path):
    recorder = Recorder(tmp_path)
    stages = [recorder.stage("m-s0", 1), recorder.stage("m-s1", 2), recorder.stage("r", 3)]
    _, lines = run(tmp_path, stages)
    assert lines[1].startswith("[1/3] m-s0: done in ") and lines[1].endswith(
        "; about 0.0 s left (2 stage(s) to run, 1 of them not estimated yet)"
    )
    assert lines[3].startswith("[2/3] m-s1: done in ") and "left" not in lines[3]


def test_a_stage_made_again_with_the_same_bytes_leaves_its_readers_out_of_the_estimate(tmp_path):
    recorder = Recorder(tmp_path)
    run(tmp_path, recorder.chain())
    (tmp_path / "a.txt").unlink()
    statuses, lines = run(tmp_path, recorder.chain())
    assert statuses == {"a": "ran", "b": "skipped", "c": "skipped"}
    assert lines[1].startswith("[1/3] a: done in ") and "left" not in lines[1]
    (tmp_path / "a.txt").write_text("edited")
    (tmp_path / "stages" / "c.json").unlink()
    statuses, lines = run(tmp_path, recorder.chain(a=5), force=True)  # a new a: b reads it
    assert statuses == {"a": "ran", "b": "ran", "c": "ran"}
    assert "left (2 stage(s) to run" in lines[1]
