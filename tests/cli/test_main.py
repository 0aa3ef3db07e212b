"""The ``transnar`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.helpers import one_error, run_cli
from transnar.cli import main
from transnar.clrs.io import load_trajectories


def test_help_explains_every_command(capsys):
    for argv in (["--help"], ["data", "--help"], ["data", "graph", "--help"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
    assert "--truncate-decimals" in capsys.readouterr().out


def test_run_help_names_every_arm():
    import re

    from transnar.arms import ARM_NAMES

    run = next(parser for name, parser in _parsers() if name == "transnar run")
    named = set(re.findall(r"[a-z]+(?:-[a-z]+)*", run.format_help()))
    assert not [arm for arm in ARM_NAMES if arm not in named]


def _parsers():
    """``(command, parser)`` for ``transnar`` and each of its (sub)commands."""
    import argparse

    from transnar.cli import build_parser

    def walk(parser, name):
        yield name, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, child in action.choices.items():
                    yield from walk(child, f"{name} {sub}")

    return list(walk(build_parser(), "transnar"))


@pytest.mark.parametrize(("name", "parser"), _parsers(), ids=lambda v: str(v).split(" ")[-1])
def test_every_help_has_examples_plain_text_and_wrapped_descriptions(name, parser):
    text = parser.format_help()
    assert "\nexamples:\n" in text and f"  {name} " in text.split("\nexamples:\n")[1], name
    assert "``" not in text, name  # no reStructuredText markup
    assert all(len(line) <= 80 for line in (parser.description or "").splitlines()), name
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{name} {action.option_strings[0]} has no help text"


def test_data_graph_writes_trajectories(tmp_path, capsys):
    out = tmp_path / "bfs.npz"
    argv = ["data", "graph", "--algorithm", "bfs", "--size", "6", "--count", "5", "--seed", "2"]
    assert main([*argv, "--out", str(out), "--no-progress"]) == 0
    trajectories, meta = load_trajectories(out)
    assert len(trajectories) == 5 and meta["seed"] == 2 and meta["size"] == 6
    assert "wrote 5 bfs trajectories" in capsys.readouterr().out


def test_several_algorithms_go_to_a_directory(tmp_path):
    argv = ["data", "graph", "--algorithm", "minimum,dfs", "--size", "5", "--count", "2"]
    assert main([*argv, "--seed", "0", "--out", str(tmp_path / "d"), "--no-progress"]) == 0
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["dfs.npz", "minimum.npz"]


def test_sampler_options_and_truncation(tmp_path):
    out = tmp_path / "m.npz"
    argv = ["data", "graph", "--algorithm", "naive_string_matcher", "--size", "20", "--count"]
    argv += ["4", "--seed", "0", "--sampler-option", "length_needle=-8", "--out", str(out)]
    assert main([*argv, "--no-progress", "--truncate-decimals", "3"]) == 0
    assert load_trajectories(out)[1]["sampler_options"] == {"length_needle": -8}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--algorithm", "bfz"], "did you mean 'bfs'"),
        (["--algorithm", "bfs", "--size", "0"], "size of bfs must be"),
        (["--algorithm", "bfs", "--sampler-option", "q=1"], "unknown sampler option"),
        (["--algorithm", "bfs", "--sampler-option", "p"], "KEY=VALUE"),
        (["--algorithm", "bfs", "--count", "0"], "--count must be at least 1"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path, extra, message):
    argv = ["data", "graph", "--size", "4", "--count", "2", "--seed", "0"]
    argv += ["--out", str(tmp_path / "x.npz"), *extra]
    result = subprocess.run(
        [sys.executable, "-m", "transnar.cli", *argv], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.npz").exists()


def test_existing_output_is_kept(tmp_path):
    out = tmp_path / "x.npz"
    out.write_bytes(b"precious")
    argv = ["data", "graph", "--algorithm", "bfs", "--size", "4", "--count", "1", "--seed", "0"]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--out", str(out)])
    assert exit_info.value.code == 2
    assert out.read_bytes() == b"precious"


def test_a_file_system_error_is_one_line_and_status_1(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    argv = ["data", "graph", "--algorithm", "bfs", "--size", "4", "--count", "1", "--seed", "0"]
    status, _, err = run_cli([*argv, "--out", blocker / "sub" / "x.npz"], capsys)
    assert status == 1 and one_error(err) and str(blocker) in err
    assert blocker.read_text() == "not a directory"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nar", "eval", "ckpt", "--sizes", "4", "--device", "gpu"], "device 'gpu'"),
        (["lm", "eval", "model", "--device", "gpu"], "device 'gpu'"),
        (["lm", "eval", "model", "--threads", "-1"], "--threads: must be >= 0, got -1"),
        (["nar", "eval", "ckpt", "--sizes", "4", "--threads", "x"], "not an integer: 'x'"),
    ],
)
def test_bad_devices_and_threads_are_one_line_errors(tmp_path, capsys, argv, message):
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and message in err and "Traceback" not in err


def test_the_command_lines_copies_of_library_constants_are_the_librarys():
    # copied so that --help does not load torch
    from transnar.cli import _arguments, nar
    from transnar.evaluation.significance import RESAMPLES
    from transnar.lm.generation import POSITION_KINDS
    from transnar.nar.stepping import STEP_MODES

    assert _arguments.RESAMPLES == RESAMPLES
    assert sorted(_arguments.POSITION_KINDS) == sorted(POSITION_KINDS)
    assert sorted(nar.STEP_MODES) == sorted(STEP_MODES)
