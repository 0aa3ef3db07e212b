"""``transnar lm train``."""

from __future__ import annotations

import json

import pytest

from tests import tiny
from tests.cli.helpers import one_error, run_cli
from tests.training.helpers import losses_of
from transnar._config import PRESET_NAMES
from transnar.cli import _arguments, main
from transnar.model import TransNAR


def baseline_command(out) -> list:
    """``transnar lm train`` of the fast tiny baseline into ``out``."""
    options = ["--preset", "tiny", "--no-nar", "--out", out, "--no-progress"]
    return ["lm", "train", *options, *tiny.LM_TRAIN]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, nar_path):
    """A finished tiny TransNAR run made by the command line."""
    out = tmp_path_factory.mktemp("cli") / "run"
    argv = ["lm", "train", "--preset", "tiny", "--nar", str(nar_path), "--out", str(out)]
    assert main([*argv, "--no-progress", *tiny.LM_TRAIN]) == 0
    return out


def test_help_explains_the_command(capsys):
    for argv in (["lm", "--help"], ["lm", "train", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in ("tiny", "small", "paper", "KEY=VALUE", "--resume", "--no-nar", "d_model"):
        assert text in out
    assert "train" in out and "eval" in out  # the evaluation's subcommands share the group
    assert PRESET_NAMES == _arguments.PRESET_NAMES


def test_train_writes_a_run_directory_and_a_loadable_model(run_dir, nar_path, capsys):
    assert {p.name for p in run_dir.iterdir()} == {
        "config.json",
        "metrics.jsonl",
        "checkpoints",
        "model",
        "summary.json",
        "tensorboard",
        "train.log",
    }
    log = (run_dir / "train.log").read_text().splitlines()
    assert log[0].endswith("starting: transnar, 6 steps, 32 training examples, device cpu")
    assert "step 2: validation loss " in log[1] and log[-1].split(" ", 2)[2].startswith("done: 6")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["nar"]["checkpoint"] == str(nar_path) and config["model"]["use_nar"]
    assert config["train"]["steps"] == 6 and config["data"]["algorithms"] == [
        "bfs",
        "insertion_sort",
    ]
    model = TransNAR.from_pretrained(run_dir / "model")
    assert model.config.use_nar and model.nar is not None and model.tokenizer is not None


def test_the_baseline_and_the_summary_line(tmp_path, capsys):
    argv = ["lm", "train", "--preset", "tiny", "--no-nar", "--out", tmp_path / "b"]
    status, out, _ = run_cli([*argv, "--no-progress", *tiny.LM_TRAIN], capsys)
    assert status == 0
    assert out.startswith("baseline: 6 steps") and "validation loss" in out
    model = TransNAR.from_pretrained(tmp_path / "b" / "model")
    assert not model.config.use_nar


def test_a_run_with_another_config_is_refused_then_forced_and_continued(
    run_dir, nar_path, tmp_path, capsys
):
    argv = ["lm", "train", "--preset", "tiny", "--nar", nar_path, "--no-progress"]
    status, _, err = run_cli([*argv, "--out", run_dir, *tiny.LM_TRAIN, "seed=3"], capsys)
    assert status == 2 and "differs in train.seed" in err and one_error(err)
    assert err.rstrip().endswith("seed=3 --force")
    out = tmp_path / "run"
    assert run_cli([*argv, "--out", out, *tiny.LM_TRAIN, "steps=2"], capsys)[0] == 0
    assert run_cli([*argv, "--out", out, "--force", *tiny.LM_TRAIN], capsys)[0] == 0
    assert [s for s, _ in losses_of(out)] == [1, 2, 3, 4, 5, 6]
    # continuing a finished run changes nothing; --nar may name the same NAR elsewhere
    moved = tiny.write_nar_checkpoint(tmp_path / "moved.pt")
    status, _, _ = run_cli(["lm", "train", "--out", out, "--nar", moved], capsys)
    assert status == 0 and [s for s, _ in losses_of(out)] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["stepz=3"], "unknown config key 'stepz'"),
        (["d_model=33"], "must be divisible"),
        (["--resume", "--force"], "give one"),
        (["--resume"], "nothing to resume"),
        (["--nar", "missing.pt"], "no checkpoint at"),
    ],
)
def test_mistakes_are_one_line_errors(tmp_path, capsys, extra, message):
    argv = ["lm", "train", "--out", tmp_path / "x", "--no-progress", *tiny.LM_TRAIN, *extra]
    if "--resume" not in extra:
        argv[2:2] = ["--preset", "tiny"]
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and message in err and err.startswith("transnar: error:")
    assert err.count("\n") == 1


def test_resume_with_another_config_is_refused(run_dir, capsys):
    status, _, err = run_cli(["lm", "train", "--out", run_dir, "lr=1"], capsys)
    assert status == 2 and "unknown config key 'lr'" in err
    argv = ["lm", "train", "--out", run_dir, "learning_rate=0.5"]
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and "differs in train.learning_rate" in err


def test_dry_run_prints_the_resolved_config(tmp_path, capsys):
    argv = ["lm", "train", "--preset", "small", "--no-nar", "--dry-run", "--out", tmp_path]
    status, out, _ = run_cli([*argv, "d_model=64", "--device", "cpu"], capsys)
    config = json.loads(out)
    assert status == 0 and not config["model"]["use_nar"] and config["model"]["lm"]["d_model"] == 64
    assert not list(tmp_path.iterdir())
    # a config file as the base
    path = tmp_path / "base.json"
    path.write_text(out)
    status, again, _ = run_cli(["lm", "train", "--config", path, "--dry-run", "steps=5"], capsys)
    assert status == 0 and json.loads(again)["train"]["steps"] == 5
    assert json.loads(again)["model"] == config["model"]


def test_an_interruption_says_how_to_continue(tmp_path, capsys, monkeypatch):
    import transnar.training.lm as loop

    real_step, calls = loop.lm_train_step, []

    def train_step(*args, **kwargs):
        calls.append(1)
        if len(calls) in (1, 4):  # before the first checkpoint, after the one of step 2
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "lm_train_step", train_step)
    out = tmp_path / "run"
    argv = baseline_command(out)
    status, _, err = run_cli(argv, capsys)
    assert status == 130
    again = " ".join(map(str, argv))
    hint = f"transnar {again} --force (no checkpoint yet: it starts over)"
    assert err == f"transnar: interrupted; to continue: {hint}\n"
    assert "interrupted at step 0 (no checkpoint yet)" in (out / "train.log").read_text()
    status, _, err = run_cli([*argv, "--force"], capsys)
    assert status == 130
    assert err == f"transnar: interrupted; to continue: transnar lm train --out {out}\n"
    log = (out / "train.log").read_text()
    assert "interrupted at step 2 (last checkpoint at step 2)" in log
    monkeypatch.setattr(loop, "lm_train_step", real_step)
    assert run_cli(["lm", "train", "--out", out, "--no-progress"], capsys)[0] == 0
    log = (out / "train.log").read_text()
    assert "resuming from step 2: baseline, 6 steps" in log and "done: 6 steps" in log


def test_a_corrupt_checkpoint_says_how_to_start_over(tmp_path, capsys):
    out = tmp_path / "run"
    argv = baseline_command(out)
    assert run_cli(argv, capsys)[0] == 0
    last = out / "checkpoints" / "last.pt"
    last.write_bytes(last.read_bytes()[:100])
    status, _, err = run_cli(["lm", "train", "--out", out, "--resume"], capsys)
    assert status == 2 and one_error(err)
    assert f"{last} is not a readable transnar LM training checkpoint: the file is truncated" in err
    again = f"transnar lm train --out {out} --force"
    assert err.rstrip().endswith(again)
    status, out_text, _ = run_cli([*again.split()[1:], "--no-progress"], capsys)
    assert status == 0 and out_text.startswith("baseline: 6 steps")


def test_a_config_directory_is_named_as_such(tmp_path, capsys):
    argv = ["lm", "train", "--config", tmp_path, "--out", tmp_path / "x", "--dry-run"]
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and f"{tmp_path} is a directory; the config is a JSON or YAML file" in err
