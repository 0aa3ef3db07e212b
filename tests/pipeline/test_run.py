"""``transnar run``: the whole pipeline, its stage caching and its resumption."""

from __future__ import annotations

import json
import shutil

import pytest

from tests import tiny
from tests.pipeline.helpers import run_fast, scores, statuses
from tests.training.helpers import losses_of
from transnar.cli import main
from transnar.model import TransNAR
from transnar.pipeline import StageConfigError, from_mapping, load_yaml, preset
from transnar.pipeline.records import read_record

STAGES = [
    "data",
    "nar",
    "baseline-s0",
    "control-s0",
    "transnar-s0",
    "eval-baseline-s0",
    "eval-control-s0",
    "eval-transnar-s0",
    "report",
]
TRAINED = 5  # data, nar and the three language models


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished fast run, made without interruption."""
    run_dir = tmp_path_factory.mktemp("pipeline") / "run"
    result = run_fast(run_dir)
    assert statuses(result) == dict.fromkeys(STAGES, "ran")
    return run_dir


def test_the_pipeline_writes_every_stage_output_and_the_report(finished):
    names = {p.name for p in finished.iterdir()}
    assert names >= {"config.yaml", "config.json", "stages", "data", "nar", "eval", "figures"}
    assert names >= {"baseline-s0", "control-s0", "transnar-s0", "report.md", "report.html"}
    assert (
        from_mapping(load_yaml(finished / "config.yaml"), preset("paper")) == tiny.pipeline_config()
    )
    assert {p.stem for p in (finished / "stages").iterdir()} == set(STAGES)
    assert all(read_record(finished, name)["status"] == "done" for name in STAGES)
    # the same data, steps and seed for the three models; each LM read the run's data
    base, control, tn = (
        json.loads((finished / m / "config.json").read_text()) for m in STAGES[2:TRAINED]
    )
    assert base["data"]["path"] == tn["data"]["path"] == str((finished / "data").resolve())
    assert (base["model"]["use_nar"], control["model"]["use_nar"], tn["model"]["use_nar"]) == (
        False,
        True,
        True,
    )
    assert (control["model"]["memory_source"], tn["model"]["memory_source"]) == (
        "decoy",
        "question",
    )
    assert control["model"]["nar_steps"] == tn["model"]["nar_steps"] == "learned"
    assert (
        tn["nar"]["checkpoint"] == control["nar"]["checkpoint"] == str((finished / "nar").resolve())
    )
    for section in ("data", "optim"):
        assert base[section] == tn[section] == control[section]
    assert base["train"]["seed"] == tn["train"]["seed"] == control["train"]["seed"] == 0
    assert [len(losses_of(finished / m)) for m in STAGES[2:TRAINED]] == [6, 6, 6]
    assert TransNAR.from_pretrained(finished / "transnar-s0" / "model").nar is not None
    assert TransNAR.from_pretrained(finished / "control-s0" / "model").config.kind == "control"
    for model in ("baseline-s0", "control-s0", "transnar-s0"):
        results = json.loads((finished / "eval" / model / "results.json").read_text())
        assert results["settings"]["sizes"] == [5, 7] and results["settings"]["count"] == 2
    report = (finished / "report.md").read_text()
    assert "baseline CLRS" in report and "TransNAR CLRS" in report
    assert "## The NAR on CLRS-30" in report and "figures/lm_loss.png" in report
    # each stage's peak memory, in its record and in the report's stage line
    for name in STAGES[:-1]:
        assert read_record(finished, name)["peak_memory"]["rss_bytes"] > 10 * 2**20
    assert "nar " in report and " MiB)" in report


def test_a_second_invocation_skips_every_stage(finished):
    before = {p: p.stat().st_mtime_ns for p in finished.rglob("*") if p.is_file()}
    lines: list[str] = []
    result = run_fast(finished, log=lines.append)
    assert statuses(result) == dict.fromkeys(STAGES, "skipped")
    assert lines == [f"[{k}/9] {n}: skipped (up to date)" for k, n in enumerate(STAGES, 1)]
    changed = [p for p, t in before.items() if p.stat().st_mtime_ns != t]
    assert {p.name for p in changed} <= {"config.yaml", "config.json"}


def test_device_and_threads_may_change(finished, tmp_path):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    result = run_fast(run_dir, "nar.train.threads=0", "lm.train.threads=0", "lm.train.device=cpu")
    assert set(statuses(result).values()) == {"skipped"}


def test_a_damaged_data_split_is_written_again_and_nothing_else_runs(finished, tmp_path):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    train = run_dir / "data" / "train.jsonl"
    before = train.read_bytes()
    train.write_bytes(before[: len(before) // 2])  # truncated; its manifest is untouched
    lines: list[str] = []
    result = run_fast(run_dir, log=lines.append)
    assert statuses(result) == {**dict.fromkeys(STAGES, "skipped"), "data": "ran"}
    assert lines[0].startswith(f"[1/9] data: starting again, because its train split {train}")
    assert "changed since it was written" in lines[0] and train.read_bytes() == before


def test_a_changed_key_is_refused_and_forced_reruns_only_what_depends_on_it(
    finished, tmp_path, placeholder_figures
):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    config_before = (run_dir / "config.yaml").read_text()
    with pytest.raises(StageConfigError) as error:
        run_fast(run_dir, "lm.data.test_count=3")
    message = str(error.value)
    assert "stage eval-baseline-s0 (count: 2 -> 3)" in message and "--force" in message
    assert "stage nar" not in message and "stage baseline-s0" not in message
    assert (run_dir / "config.yaml").read_text() == config_before  # nothing written

    result = run_fast(run_dir, "lm.data.test_count=3", force=True)
    assert statuses(result) == {
        **dict.fromkeys(STAGES[:TRAINED], "skipped"),
        **dict.fromkeys(STAGES[TRAINED:], "ran"),
    }
    # a new NAR: TransNAR and the control are trained again, the baseline is kept
    result = run_fast(run_dir, "lm.data.test_count=3", "nar.train.seed=7", force=True)
    assert statuses(result) == {
        "data": "skipped",
        "nar": "ran",
        "baseline-s0": "skipped",
        "control-s0": "ran",
        "transnar-s0": "ran",
        "eval-baseline-s0": "skipped",
        "eval-control-s0": "ran",
        "eval-transnar-s0": "ran",
        "report": "ran",
    }
    assert losses_of(run_dir / "baseline-s0") == losses_of(finished / "baseline-s0")


def test_an_interrupted_run_finishes_as_an_uninterrupted_one(
    finished, tmp_path, monkeypatch, placeholder_figures
):
    run_dir = tmp_path / "run"
    result = run_fast(run_dir, stop_after="nar")
    assert statuses(result) == {"data": "ran", "nar": "ran"}
    assert read_record(run_dir, "baseline-s0") is None

    # kill TransNAR's training at step 5 (after its checkpoint of step 4)
    import transnar.training.lm as loop

    real_step, calls = loop.lm_train_step, []

    def train_step(model, *args, **kwargs):
        if model.config.kind == "transnar":
            calls.append(1)
            if len(calls) == 5:
                raise KeyboardInterrupt
        return real_step(model, *args, **kwargs)

    monkeypatch.setattr(loop, "lm_train_step", train_step)
    with pytest.raises(KeyboardInterrupt):
        run_fast(run_dir)
    assert read_record(run_dir, "baseline-s0")["status"] == "done"
    assert read_record(run_dir, "control-s0")["status"] == "done"
    assert read_record(run_dir, "transnar-s0")["status"] == "running"
    monkeypatch.setattr(loop, "lm_train_step", real_step)

    result = run_fast(run_dir)
    assert statuses(result) == {
        **dict.fromkeys(STAGES[: TRAINED - 1], "skipped"),
        "transnar-s0": "resumed",
        **dict.fromkeys(STAGES[TRAINED:], "ran"),
    }
    for model in ("baseline-s0", "control-s0", "transnar-s0"):
        assert losses_of(run_dir / model) == losses_of(finished / model)
    assert scores(run_dir) == scores(finished)


def test_a_foreign_directory_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    try:
        status = main(["run", "--out", str(tmp_path), "--no-progress", *tiny.PIPELINE])
    except SystemExit as exit_info:
        status = exit_info.code
    err = capsys.readouterr().err
    assert status == 2 and "holds no transnar run" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_the_command_line_continues_a_run_with_its_own_config(finished, capsys):
    assert main(["run", "--out", str(finished), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert f"continuing with the config of {finished / 'config.yaml'}" in captured.err
    assert "0 stage(s) run" in captured.err and "9 skipped" in captured.err
    assert captured.out == f"report: {finished / 'report.md'}\nreport: {finished / 'report.html'}\n"


def test_a_corrupt_checkpoint_says_how_to_restart_the_stage(finished, tmp_path, capsys):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    record = read_record(run_dir, "transnar-s0")  # as if killed after a checkpoint
    (run_dir / "stages" / "transnar-s0.json").write_text(
        json.dumps({**record, "status": "running"})
    )
    last = run_dir / "transnar-s0" / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    argv = ["run", "--out", str(run_dir), "--no-progress"]
    for extra in ([], ["--force"]):
        try:
            status = main([*argv, *extra])
        except SystemExit as exit_info:
            status = exit_info.code
        err = capsys.readouterr().err
        message = err.strip().splitlines()[-1]
        assert status == 2 and message.startswith("transnar: error: stage transnar-s0 cannot ")
        assert f"{last} is not a readable transnar LM training checkpoint: the file is " in message
        assert message.endswith(f"transnar run --out {run_dir} --restart transnar-s0")
        assert "[5/9] transnar-s0: resuming: train TransNAR" in err

    assert main([*argv, "--restart", "transnar-s0"]) == 0
    err = capsys.readouterr().err
    assert "transnar-s0: starting again, because --restart asked for it: train" in err
    assert "0 stage(s) run" not in err and "1 stage(s) run" in err  # the same model again
    assert losses_of(run_dir / "transnar-s0") == losses_of(finished / "transnar-s0")

    weights = next((run_dir / "baseline-s0" / "model").glob("model.*"))
    weights.write_bytes(b"")  # a corrupt model: its stage is trained again, saying why
    lines: list[str] = []
    result = run_fast(run_dir, log=lines.append, stop_after="baseline-s0")
    assert statuses(result)["baseline-s0"] == "ran"
    assert lines[2] == (
        "[3/9] baseline-s0: starting again, because baseline-s0/model changed since it "
        "was done (modified, truncated or corrupted): train baseline (seed 0, 6 steps)"
    )


def test_an_interrupted_command_says_how_to_continue(tmp_path, capsys, monkeypatch):
    import transnar.training.nar as nar_training

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nar_training, "nar_train_step", interrupted)
    run_dir = tmp_path / "run"
    try:
        status = main(["run", "--out", str(run_dir), "--no-progress", *tiny.PIPELINE])
    except SystemExit as exit_info:
        status = exit_info.code
    err = capsys.readouterr().err
    assert status == 130 and "[2/9] nar: running: pre-train the NAR" in err
    assert err.endswith(
        f"transnar: interrupted; to continue: transnar run --out {run_dir} --no-progress\n"
    )
    assert (
        "interrupted at step 0 (no checkpoint yet)" in (run_dir / "nar" / "train.log").read_text()
    )
    # a forced run continues forced: the stages it has not reached hold the old config
    try:
        status = main(["run", "--out", str(run_dir), "--force", "--no-progress", *tiny.PIPELINE])
    except SystemExit as exit_info:
        status = exit_info.code
    err = capsys.readouterr().err
    assert status == 130 and err.endswith(
        f"to continue: transnar run --out {run_dir} --force --no-progress\n"
    )
    monkeypatch.undo()
    lines: list[str] = []
    result = run_fast(run_dir, log=lines.append, stop_after="nar")
    assert statuses(result) == {"data": "skipped", "nar": "ran"}
    assert lines[1] == (
        "[2/9] nar: starting again, because it was interrupted before saving anything to "
        "resume from: pre-train the NAR on 2 CLRS-30 algorithm(s), 6 steps"
    )


def _tree(directory):
    """Every file below ``directory`` with its size and modification time."""
    return {
        path: (path.stat().st_size, path.stat().st_mtime_ns)
        for path in directory.rglob("*")
        if path.is_file()
    }


def test_the_plan_says_what_the_run_then_does(finished, tmp_path, placeholder_figures):
    from transnar.pipeline.plan import plan_run

    run_dir = shutil.copytree(finished, tmp_path / "run")
    assert plan_run(tiny.pipeline_config(), run_dir).lines()[-1] == (
        "nothing to run: every stage is up to date"
    )
    (run_dir / "data" / "manifest.json").unlink()  # written again: the same bytes
    changed = tiny.pipeline_config("lm.data.test_count=3")  # the evaluations change
    with pytest.raises(StageConfigError):
        plan_run(changed, run_dir)
    before = _tree(run_dir)
    plan = plan_run(changed, run_dir, force=True, jobs=2)
    assert _tree(run_dir) == before  # nothing written
    assert plan.to_run() == ["data", *STAGES[TRAINED:]]
    lines = plan.lines()
    assert len(lines) == len(STAGES) + 1
    assert lines[0].startswith("[1/9] data: run again, because data/manifest.json is missing: ")
    assert lines[1] == "[2/9] nar: skip (up to date)"
    assert lines[5].startswith(
        "[6/9] eval-baseline-s0: run again, because its config changed (count: 2 -> 3): "
    )
    assert lines[-1].startswith("about ") and lines[-1].endswith("left (5 stage(s) to run)")
    result = run_fast(run_dir, "lm.data.test_count=3", force=True)
    assert [name for name, s in statuses(result).items() if s != "skipped"] == plan.to_run()


def test_the_command_line_plan_writes_nothing(finished, tmp_path, capsys):
    before = _tree(finished)
    assert main(["run", "--out", str(finished), "--plan"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "[1/9] data: skip (up to date)" and out[-1].startswith("nothing to run")
    assert _tree(finished) == before
    new = tmp_path / "new"
    assert main(["run", "--out", str(new), "--plan", "seeds=2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0].startswith("[1/15] data: run: ") and out[-1] == "15 stage(s) to run, none timed yet"
    )
    assert not new.exists()
