"""``transnar nar train`` and ``transnar nar eval``."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests import tiny
from tests.cli.helpers import one_error, run_cli
from transnar._config import PRESET_NAMES
from transnar.cli import _arguments, main


def train_command(out) -> list[str]:
    """``transnar nar train`` of the fast tiny NAR run into ``out``."""
    return ["nar", "train", "--preset", "tiny", "--out", str(out), "--no-progress", *tiny.NAR_TRAIN]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished tiny run made by the command line."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(train_command(out)) == 0
    return out


def test_help_explains_the_commands(capsys):
    for argv in (["nar", "--help"], ["nar", "train", "--help"], ["nar", "eval", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in ("tiny", "small", "paper", "KEY=VALUE", "--resume", "hidden_dim", "--sizes"):
        assert text in out
    assert PRESET_NAMES == _arguments.PRESET_NAMES


def test_the_command_line_starts_without_torch():
    code = "import sys, transnar.cli; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_train_writes_a_run_directory(run_dir):
    assert {p.name for p in run_dir.iterdir()} == {
        "config.json",
        "metrics.jsonl",
        "checkpoints",
        "results.json",
        "results.md",
        "tensorboard",
        "train.log",
    }
    log = (run_dir / "train.log").read_text()
    assert "starting: NAR (triplet_gmpnn, hidden 8) on 2 algorithm(s), 6 steps" in log
    assert "step 6: validation score " in log and "training done at step 6" in log
    config = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["steps"] == 6 and config["nar"]["algorithms"] == [
        "bfs",
        "insertion_sort",
    ]


def test_train_again_continues_the_run_and_refuses_another_config(run_dir, tmp_path, capsys):
    argv = train_command(run_dir)
    status, _, err = run_cli([*argv, "seed=5"], capsys)
    assert status == 2 and "differs in train.seed" in err and err.count("\n") == 1
    assert err.rstrip().endswith(" seed=5 --force")  # how to start over
    assert json.loads((run_dir / "results.json").read_text())["steps"] == 6  # kept
    assert run_cli(argv, capsys)[0] == 0  # the same config: the finished run continues
    assert "resuming from step 6" in (run_dir / "train.log").read_text()
    assert json.loads((run_dir / "results.json").read_text())["steps"] == 6

    other = tmp_path / "other"
    argv = train_command(other)
    assert run_cli(argv, capsys)[0] == 0
    status, out, _ = run_cli([*argv, "--force", "--algorithms", "bfs"], capsys)
    assert status == 0 and re.search(r"\| bfs +\|", out) and "insertion_sort" not in out
    assert json.loads((other / "config.json").read_text())["nar"]["algorithms"] == ["bfs"]

    again = ["nar", "train", "--out", str(other), "--no-progress", "steps=7"]
    status, out, err = run_cli(again, capsys)
    assert f"continuing with the config of {other / 'config.json'}" in err
    assert status == 0 and "at step" in out
    assert json.loads((other / "results.json").read_text())["steps"] == 7


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["stepz=2"], "unknown config key 'stepz'"),
        (["hidden_dim=big"], "nar.hidden_dim must be an integer"),
        (["--algorithms", "bfz"], "did you mean 'bfs'"),
        (["--resume"], "nothing to resume"),
        (["--resume", "--force"], "give one"),
        (["--processor", "lstm"], "processor must be one of"),
    ],
)
def test_train_mistakes_are_one_line_errors(tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    argv = ["nar", "train", "--preset", "tiny", "--out", str(out), "--no-progress", *extra]
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_resume_with_another_config_is_refused(run_dir, capsys):
    argv = ["nar", "train", "--out", str(run_dir), "--resume", "--no-progress", "seed=5"]
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and "train.seed" in err and one_error(err)


def test_dry_run_prints_the_resolved_config(capsys, tmp_path):
    argv = ["nar", "train", "--preset", "paper", "--out", str(tmp_path / "r"), "--dry-run"]
    status, out, _ = run_cli([*argv, "--algorithms", "bfs", "steps=7"], capsys)
    config = json.loads(out)
    assert status == 0 and config["train"]["steps"] == 7 and config["nar"]["algorithms"] == ["bfs"]
    assert config["nar"]["hidden_dim"] == 128 and not (tmp_path / "r").exists()


def test_eval_scores_a_checkpoint(run_dir, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["nar", "eval", str(run_dir), "--sizes", "5", "9", "--count", "3", "--no-progress"]
    status, text, _ = run_cli([*argv, "--algorithms", "bfs", "--out", str(out)], capsys)
    assert status == 0 and re.search(r"\| bfs +\| graphs +\|", text)
    assert "n=5*" in text and re.search(r"n=9 +\|", text)
    results = json.loads((out / "eval.json").read_text())
    assert results["algorithms"]["bfs"]["test"]["9"]["count"] == 3
    assert (out / "eval.md").read_text() == text.split("wrote ")[0]
    status, _, err = run_cli([*argv, "--out", str(out)], capsys)
    assert status == 2 and "already exist" in err
    status, text, _ = run_cli([*argv, "--algorithms", "all"], capsys)  # all the NAR's
    assert status == 0 and "| bfs " in text and "| insertion_sort " in text
    best = run_dir / "checkpoints" / "best.pt"
    assert (
        run_cli(
            ["nar", "eval", str(best), "--sizes", "4", "--count", "2", "--no-progress"], capsys
        )[0]
        == 0
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"garbage", "not a readable transnar NAR checkpoint"), (None, "no checkpoint at")],
)
def test_eval_of_a_bad_checkpoint_is_one_line(tmp_path, content, message):
    path = tmp_path / "model.pt"
    if content is not None:
        path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "transnar.cli", "nar", "eval", str(path), "--sizes", "8"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and message in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_a_corrupt_checkpoint_says_how_to_start_over(run_dir, tmp_path, capsys):
    import shutil

    out = shutil.copytree(run_dir, tmp_path / "run")
    last = out / "checkpoints" / "last.pt"
    last.write_bytes(b"")
    status, _, err = run_cli(["nar", "train", "--out", out, "--resume"], capsys)
    assert status == 2 and one_error(err)
    assert f"{last} is not a readable transnar NAR checkpoint: the file is truncated or" in err
    again = f"transnar nar train --out {out} --force"
    assert err.rstrip().endswith(again)
    assert run_cli([*again.split()[1:], "--no-progress"], capsys)[0] == 0
    assert json.loads((out / "config.json").read_text()) == json.loads(
        (run_dir / "config.json").read_text()
    )
