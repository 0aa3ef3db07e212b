"""A copy of a run without some stages' outputs (``export.json``): they count as
done until a stage that must run needs them, and are made again then."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.test_stages import Recorder, run
from transnar.pipeline.left_out import EXPORT_JSON, read_left_out
from transnar.pipeline.records import read_record
from transnar.pipeline.stages import AGAIN_HINT, LeftOutError, PipelineStage

SKIPPED_LEFT_OUT = "skipped (done; its outputs were left out of this copy of the run"


def stages_of(recorder: Recorder) -> list[PipelineStage]:
    """``data``; ``model`` reads it; ``eval`` reads ``model``; ``report`` has
    ``model`` and ``eval`` as inputs but opens only ``eval``'s output."""
    report = recorder.stage("report", 4, ("eval",))
    return [
        recorder.stage("data", 1),
        recorder.stage("model", 2, ("data",)),
        recorder.stage("eval", 3, ("model",)),
        PipelineStage(**{**report.__dict__, "inputs": ("model", "eval"), "needs": ("eval",)}),
    ]


def leave_out(run_dir, *names: str) -> None:
    """Makes ``run_dir`` a copy that lacks ``names``' outputs, as an export does."""
    hashes = {name: read_record(run_dir, name)["output_sha256"] for name in names}
    for name in names:
        (run_dir / f"{name}.txt").unlink()
    (run_dir / EXPORT_JSON).write_text(json.dumps({"left_out": hashes}))


@pytest.fixture
def copy(tmp_path):
    """A run of :func:`stages_of` whose ``data`` and ``model`` outputs are left out."""
    recorder = Recorder(tmp_path)
    assert set(run(tmp_path, stages_of(recorder))[0].values()) == {"ran"}
    leave_out(tmp_path, "data", "model")
    return recorder


def test_left_out_stages_are_skipped_while_nothing_that_runs_needs_them(tmp_path, copy):
    statuses, lines = run(tmp_path, stages_of(copy))
    assert set(statuses.values()) == {"skipped"} and len(copy.calls) == 4
    assert lines[0].startswith(f"[1/4] data: {SKIPPED_LEFT_OUT}")
    assert lines[2:] == ["[3/4] eval: skipped (up to date)", "[4/4] report: skipped (up to date)"]
    (tmp_path / "stages" / "report.json").unlink()  # the report runs: it needs no left-out output
    assert run(tmp_path, stages_of(copy))[0]["report"] == "ran"
    assert not (tmp_path / "model.txt").exists()


def test_a_stage_that_must_run_makes_what_it_needs_again_first(tmp_path, copy):
    (tmp_path / "stages" / "eval.json").unlink()
    statuses, lines = run(tmp_path, stages_of(copy))
    # eval needs the model, which needs the data; the same bytes again, so the report is kept
    assert statuses == {"data": "ran", "model": "ran", "eval": "ran", "report": "skipped"}
    assert lines[0] == (
        "[1/4] data: starting again, because its outputs were left out of this copy of "
        "the run, and stage model needs them: make data"
    )
    assert (tmp_path / "model.txt").read_text() == "2|1|"
    assert set(run(tmp_path, stages_of(copy))[0].values()) == {"skipped"}


def test_outputs_missing_since_the_export_are_made_again(tmp_path, copy):
    (tmp_path / "eval.txt").unlink()  # not left out by the export: missing, so made again
    statuses, lines = run(tmp_path, stages_of(copy))
    assert statuses == {"data": "ran", "model": "ran", "eval": "ran", "report": "skipped"}
    assert "[3/4] eval: starting again, because eval.txt is missing: make eval" in lines
    # an export.json whose hash is not the record's (a stage made again since) does not apply
    leave_out(tmp_path, "data")
    (tmp_path / EXPORT_JSON).write_text(json.dumps({"left_out": {"data": "0" * 64}}))
    assert run(tmp_path, stages_of(copy))[0]["data"] == "ran"


def test_only_makes_a_left_out_stage_it_is_asked_for_and_refuses_one_it_lacks(tmp_path, copy):
    (tmp_path / "stages" / "eval.json").unlink()
    with pytest.raises(LeftOutError) as error:
        run(tmp_path, stages_of(copy), only="eval")
    assert str(error.value) == (
        "stage eval must run, and needs the outputs of model, which this copy of the run "
        "lacks (`transnar export` left them out): make them first, with transnar run "
        "--only model"
    )
    with pytest.raises(LeftOutError, match=r"with transnar run --only data$"):
        run(tmp_path, stages_of(copy), only="model")
    statuses, lines = run(tmp_path, stages_of(copy), only="data")
    assert statuses == {"data": "ran"} and lines[0] == (
        "[1/4] data: starting again, because its outputs were left out of this copy of "
        "the run, and --only asks for them: make data"
    )
    assert run(tmp_path, stages_of(copy), only="model")[0] == {"model": "ran"}
    assert run(tmp_path, stages_of(copy), only="eval")[0] == {"eval": "ran"}


def test_a_need_that_appears_during_the_run_is_an_error_then_met_by_the_next_run(tmp_path):
    """``model`` made again makes other bytes: ``eval``, done, must then run too,
    and needs ``other``, which the copy lacks and nothing asked for before."""
    made = iter(range(100))
    recorder = Recorder(tmp_path)

    def stages():
        model = recorder.stage("model", 2)

        def varying(resume: bool) -> None:
            (tmp_path / "model.txt").write_text(f"model {next(made)}")

        return [
            recorder.stage("other", 1),
            PipelineStage(**{**model.__dict__, "run": varying}),
            recorder.stage("eval", 3, ("model", "other")),
            recorder.stage("check", 4, ("model",)),
        ]

    run(tmp_path, stages())
    leave_out(tmp_path, "other", "model")
    (tmp_path / "stages" / "check.json").unlink()
    with pytest.raises(LeftOutError, match=AGAIN_HINT):
        run(tmp_path, stages())
    statuses, _ = run(tmp_path, stages())
    assert statuses == {"other": "ran", "model": "skipped", "eval": "ran", "check": "ran"}


def test_read_left_out_reads_only_what_it_understands(tmp_path):
    assert read_left_out(tmp_path) == {}
    (tmp_path / EXPORT_JSON).write_text("{broken")
    assert read_left_out(tmp_path) == {}
    (tmp_path / EXPORT_JSON).write_text(json.dumps({"left_out": {"a": "ab", "b": 3}}))
    assert read_left_out(tmp_path) == {"a": "ab"}


def test_with_jobs_each_stage_s_process_makes_the_left_out_stage_it_is_given(tmp_path):
    """Under ``--jobs``, a stage's process is ``--only STAGE``: a left-out stage the
    scheduler plans to make again is made there, not skipped."""
    from tests.pipeline import test_jobs as jobs

    jobs.write_spec(tmp_path, a={}, b={"inputs": ["a"]}, e={"inputs": ["b"]}, c={})
    launched: list[str] = []
    launch = jobs.thread_launcher(tmp_path, launched)
    assert set(jobs.run(tmp_path, launch)[0].values()) == {"ran"}
    leave_out(tmp_path, "a", "b")
    statuses, lines = jobs.run(tmp_path, launch)
    assert set(statuses.values()) == {"skipped"}
    assert lines[0].startswith(f"[1/4] a: {SKIPPED_LEFT_OUT}")
    (tmp_path / "stages" / "e.json").unlink()
    launched.clear()
    statuses, _ = jobs.run(tmp_path, launch)
    assert statuses == {"a": "ran", "b": "ran", "c": "skipped", "e": "ran"}
    assert launched == ["a", "b", "e"] and jobs.output(tmp_path, "b")["inputs"]["a"]
