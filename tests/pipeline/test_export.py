"""``transnar export``: a run's results without its bulk, and its resumable state."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.pipeline.helpers import run_fast, scores, statuses
from transnar.cli import main
from transnar.persistence import OutputExistsError
from transnar.pipeline.export import export_run
from transnar.pipeline.records import read_record
from transnar.pipeline.report import write_report

MODELS = ("baseline-s0", "control-s0", "transnar-s0")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A fast run, finished up to its report (the report is written in the tests)."""
    run_dir = tmp_path_factory.mktemp("export") / "run"
    run_fast(run_dir, stop_after="eval-transnar-s0")
    return run_dir


def files(directory):
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def test_the_copy_holds_the_results_and_none_of_the_bulk(finished, tmp_path):
    summary = export_run(finished, tmp_path / "copy")
    copied = files(tmp_path / "copy")
    assert summary.files == len(copied) and summary.left_out > 10 * summary.bytes
    for name in MODELS:
        assert {
            f"{name}/summary.json",
            f"{name}/metrics.jsonl",
            f"eval/{name}/results.json",
        } <= copied
        assert (tmp_path / "copy" / f"eval/{name}/results.json").read_bytes() == (
            finished / f"eval/{name}/results.json"
        ).read_bytes()
    assert {"config.json", "config.yaml", "stages/transnar-s0.json", "nar/results.json"} <= copied
    bulky = ("data/", "/model/", "/checkpoints/", "/tensorboard/")
    assert not [path for path in copied if any(part in f"/{path}" for part in bulky)]
    assert copied - {"export.json"} < files(finished)
    record = json.loads((tmp_path / "copy" / "export.json").read_text())
    assert record["run"] == str(finished.resolve()) and record["resumable"] is False
    # the done stages whose outputs the copy lacks, with the hashes of their records
    assert record["left_out"] == {
        name: read_record(finished, name)["output_sha256"] for name in ("data", "nar", *MODELS)
    }
    assert summary.left_out_stages == ("data", "nar", *MODELS)


def test_the_report_of_the_copy_is_the_report_of_the_run(finished, tmp_path, placeholder_figures):
    copy = export_run(finished, tmp_path / "copy").out
    write_report([finished], tmp_path / "of-run")
    write_report([copy], tmp_path / "of-copy")
    of_run = json.loads((tmp_path / "of-run" / "comparison.json").read_text())
    of_copy = json.loads((tmp_path / "of-copy" / "comparison.json").read_text())
    assert of_copy.pop("files") != of_run.pop("files")  # where the models are: elsewhere
    assert of_copy == of_run and of_run["by_algorithm_size"][0]["differences"]


def test_a_resumable_copy_goes_on_where_the_run_is(finished, tmp_path):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    record = read_record(run_dir, "transnar-s0")  # as if killed after its last checkpoint
    (run_dir / "stages" / "transnar-s0.json").write_text(
        json.dumps({**record, "status": "running"})
    )
    (run_dir / "stages" / "eval-control-s0.json").unlink()  # as if not evaluated yet
    plain = files(export_run(run_dir, tmp_path / "plain").out)
    copy = export_run(run_dir, tmp_path / "copy", resumable=True).out
    resumable = files(copy)
    assert "transnar-s0/checkpoints/last.pt" in resumable  # interrupted: resumes from it
    assert "baseline-s0/checkpoints/last.pt" not in resumable  # finished
    # the NAR's checkpoint for the TransNAR to train, the weights of the model to evaluate
    assert {"nar/checkpoints/best.pt", "control-s0/model/config.json"} <= resumable
    # the baseline's weights: its evaluation is done, no stage to run needs them
    assert not [path for path in resumable if path.startswith("baseline-s0/model/")]
    assert not plain & {"transnar-s0/checkpoints/last.pt", "nar/checkpoints/best.pt"}
    assert not [path for path in resumable if path.startswith("data/")]
    left_out = json.loads((copy / "export.json").read_text())["left_out"]
    assert sorted(left_out) == ["baseline-s0", "data"]

    lines = []
    result = run_fast(copy, stop_after="eval-transnar-s0", log=lines.append)
    assert statuses(result) == {
        "data": "ran",  # for the TransNAR to resume: the same bytes, so nothing else runs
        "nar": "skipped",
        "baseline-s0": "skipped",  # without its weights
        "control-s0": "skipped",
        "transnar-s0": "resumed",
        "eval-baseline-s0": "skipped",
        "eval-control-s0": "ran",
        "eval-transnar-s0": "skipped",
    }
    assert "stage transnar-s0 needs them" in lines[0]
    assert [line for line in lines if line.startswith("[3/9] baseline-s0: skipped (done; its")]
    assert scores(copy) == scores(finished)


def test_mistakes_are_refused_before_anything_is_written(finished, tmp_path):
    with pytest.raises(ValueError, match="is not a transnar run directory"):
        export_run(tmp_path, tmp_path / "copy")
    with pytest.raises(ValueError, match="cannot be inside the run directory"):
        export_run(finished, finished / "copy")
    with pytest.raises(ValueError, match="would replace the run directory"):
        export_run(finished, finished.parent, overwrite=True)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "mine.txt").write_text("kept")
    with pytest.raises(OutputExistsError):
        export_run(finished, tmp_path / "copy")
    with pytest.raises(ValueError, match="holds no transnar run or export: not replaced"):
        export_run(finished, tmp_path / "copy", overwrite=True)
    assert files(tmp_path / "copy") == {"mine.txt"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy"]  # no staging left behind
    export_run(finished, tmp_path / "export")
    (tmp_path / "export" / "stale.txt").write_text("of an earlier export")
    export_run(finished, tmp_path / "export", overwrite=True)
    assert "stale.txt" not in files(tmp_path / "export")
    assert files(tmp_path / "export") == files(export_run(finished, tmp_path / "again").out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again", "copy", "export"]


def test_the_command_says_what_it_wrote(finished, tmp_path, capsys):
    out = tmp_path / "copy"
    assert main(["export", str(finished), "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert (
        line.startswith(f"wrote {out}: {len(files(out)):,} files, ")
        and "of the run left out; 5 finished stage(s) without their outputs, listed in "
        f"{out / 'export.json'})"
        in line
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(finished), "--out", str(out)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "already exists" in err


def test_the_temporary_files_of_a_writer_at_work_are_left_out(finished, tmp_path):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    (run_dir / "eval" / ".results.json.x1.tmp").write_text("half written")
    (run_dir / "baseline-s0" / ".model.x2.tmp").mkdir()
    (run_dir / "baseline-s0" / ".model.x2.tmp" / "config.json").write_text("{}")
    copied = files(export_run(run_dir, tmp_path / "copy").out)
    assert not [path for path in copied if ".tmp" in path]
    assert copied == files(export_run(finished, tmp_path / "of-finished").out)
