"""The pipeline's config: presets, the YAML files, overrides and their errors, the CLI's
handling of them (``transnar run --dry-run``, one-line errors)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import yaml

from tests.cli.helpers import run_cli
from transnar.cli import main
from transnar.clrs import CLRS30_ALGORITHMS
from transnar.pipeline import (
    PRESET_NAMES,
    RunPipelineConfig,
    apply_overrides,
    from_mapping,
    load_yaml,
    preset,
    to_yaml,
)
from transnar.pipeline.estimate import text_cells
from transnar.pipeline.layout import model_runs
from transnar.training import preset as lm_preset
from transnar.training.nar_config import preset as nar_preset

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_the_yaml_files_equal_the_presets(name):
    other = "paper" if name == "tiny" else "tiny"  # a complete file whatever the base
    assert from_mapping(load_yaml(CONFIGS / f"{name}.yaml"), preset(other)) == preset(name)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_to_yaml_round_trips(name):
    text = to_yaml(preset(name), "a header\nof two lines")
    assert text.startswith("# a header\n# of two lines\nseeds: ")
    assert from_mapping(yaml.safe_load(text), RunPipelineConfig()) == preset(name)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_the_trainer_presets_are_the_sections_of_the_run_presets(name):
    assert preset(name).nar == nar_preset(name) and preset(name).lm == lm_preset(name)


def test_the_presets():
    assert preset("tiny") == RunPipelineConfig()
    small, paper = preset("small"), preset("paper")
    assert small.nar.train.steps == 1500 and small.nar.nar.hidden_dim == 64
    assert small.nar.train.threads == small.lm.train.threads == 1  # CPU presets: one thread
    assert paper.nar.train.threads == paper.lm.train.threads == 0
    assert small.lm.data.test_sizes == (8, 10, 12) and small.lm.data.test_count == 100
    assert paper.nar.nar.hidden_dim == 128 and paper.seeds == 4
    names = [m.name for m in model_runs(paper)]
    kinds = ("baseline", "control", "transnar")
    assert names == [f"{kind}-s{seed}" for seed in range(4) for kind in kinds]
    assert small.seeds == 3 and small.arms == kinds
    assert small.lm.model.nar_steps == "learned"  # leak-free by default
    regimes = paper.eval_settings().regimes()
    assert regimes == {10: "ood-interpolation", 12: "in-distribution", 14: "ood-extrapolation"}


def test_the_clrs30_preset_is_the_papers_protocol_on_a_cpu_budget():
    clrs30, small = preset("clrs30"), preset("small")
    assert clrs30.nar.nar.algorithms == clrs30.lm.data.algorithms == CLRS30_ALGORITHMS
    assert clrs30.nar.nar.hidden_dim == small.nar.nar.hidden_dim  # the small NAR
    assert clrs30.lm.model.lm == dataclasses.replace(small.lm.model.lm, max_position=2048)
    assert clrs30.lm.data.train_sizes == preset("paper").lm.data.train_sizes
    assert clrs30.eval_settings().regimes() == preset("paper").eval_settings().regimes()
    assert clrs30.arms == ("baseline", "control", "transnar") and clrs30.seeds == 1
    assert clrs30.lm.model.nar_steps == "learned"
    assert clrs30.nar.train.threads == clrs30.lm.train.threads == 1
    # the longest questions and answers (floyd_warshall at 14) fit the positions
    (cell,) = text_cells(["floyd_warshall"], [14], 1, samples=2)
    assert cell.mean_budget < clrs30.lm.model.lm.max_position


def test_overrides_by_path_and_tail():
    config = apply_overrides(
        preset("tiny"),
        ["nar.train.steps=7", "lm.train.steps=9", "d_model=48", "seeds=2", "eval.batch_size=5"],
    )
    assert (config.nar.train.steps, config.lm.train.steps, config.seeds) == (7, 9, 2)
    assert config.lm.model.lm.d_model == 48 and config.eval.batch_size == 5
    assert [m.seed for m in model_runs(config)] == [0, 0, 0, 1, 1, 1]
    two = apply_overrides(config, ["arms=baseline,transnar"])
    assert [m.name for m in model_runs(two)] == [
        "baseline-s0",
        "transnar-s0",
        "baseline-s1",
        "transnar-s1",
    ]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("steps=3", "'steps' is ambiguous: write one of nar.train.steps, lm.train.steps"),
        ("lm.train.stepz=3", "unknown config key 'lm.train.stepz' (did you mean lm.train.steps?)"),
        (
            "learning_rat=1",
            "(did you mean nar.train.learning_rate or lm.train.learning_rate or "
            "lm.optim.min_learning_rate?)",
        ),
        ("lr=1", "unknown config key 'lr': name a key of one of the sections distill, eval,"),
        ("lm.optim.foo=1", "(known: lm.optim.min_learning_rate, lm.optim.warmup_steps,"),
        ("hidden_dim=abc", "nar.nar.hidden_dim must be an integer, got 'abc'"),
        ("seeds=0", "seeds must be an integer >= 1"),
        ("eval.positions=sideways", "eval.positions must be one of"),
        ("lm.data.algorithms=bfs,dfs", "lm.data.algorithms has dfs, which the NAR is not"),
        ("lm.nar.checkpoint=x.pt", "lm.nar.checkpoint must be none"),
        ("lm.data.path=data", "lm.data.path must be none"),
        ("lm.model.use_nar=false", "lm.model.use_nar must be true"),
        ("lm.data.test_seed=0", "train and test both draw bfs at size 5 with seed 0"),
    ],
)
def test_bad_overrides_are_errors_naming_the_key(override, message):
    with pytest.raises(ValueError) as error:
        apply_overrides(preset("tiny"), [override])
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["lm.optim.stepz=3"], "unknown config key 'lm.optim.stepz'"),
        (["seeds=many"], "seeds must be an integer"),
        (["--algorithms", "bfs,nope"], "nope"),
        (["--stop-after", "nowhere"], "no stage 'nowhere' to stop after"),
        (["--only", "nowhere"], "no stage 'nowhere' to run"),
        (["--restart", "data,nowhere"], "no stage 'nowhere' to restart (stages: data, nar,"),
    ],
)
def test_the_command_line_gives_one_line_errors(tmp_path, capsys, argv, message):
    status, out, err = run_cli(["run", "--out", tmp_path / "run", *argv], capsys)
    assert status == 2 and out == ""
    assert err.startswith("transnar: error: ") and err.count("\n") == 1 and message in err
    assert not (tmp_path / "run").exists()  # checked before anything is written


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_missing_gpu_is_an_error_before_anything_is_written(tmp_path, capsys):
    status, _, err = run_cli(["run", "--out", tmp_path / "run", "--device", "cuda"], capsys)
    assert status == 2 and "CUDA is not available" in err and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


def test_a_bad_yaml_file_is_an_error_naming_the_file_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lm:\n  optim:\n    stepz: 3\n")
    status, _, err = run_cli(["run", "--config", bad, "--dry-run"], capsys)
    assert status == 2 and f"{bad}: unknown config key 'lm.optim.stepz'" in err
    bad.write_text("lm: [1, 2\n")
    status, _, err = run_cli(["run", "--config", bad, "--dry-run"], capsys)
    assert status == 2 and "is not valid YAML" in err and err.count("\n") == 1
    bad.write_text("- a list\n")
    status, _, err = run_cli(["run", "--config", bad, "--dry-run"], capsys)
    assert status == 2 and "must hold a mapping" in err
    bad.write_bytes(bytes(range(256)))
    status, _, err = run_cli(["run", "--config", bad, "--dry-run"], capsys)
    assert status == 2 and err.count("\n") == 1
    assert f"{bad} is not a YAML text file (byte 128 is not UTF-8)" in err
    status, _, err = run_cli(["run", "--config", tmp_path, "--dry-run"], capsys)
    assert status == 2 and f"{tmp_path} is a directory; the config is a YAML file" in err


def test_dry_run_prints_the_resolved_config(tmp_path, capsys):
    small = CONFIGS / "small.yaml"
    argv = ["run", "--config", small, "--device", "cpu", "--threads", "1", "lm.train.steps=5"]
    status, out, _ = run_cli([*argv, "--dry-run"], capsys)
    assert status == 0
    expected = apply_overrides(preset("small"), ["nar.train.threads=1", "lm.train.threads=1"])
    assert from_mapping(yaml.safe_load(out), preset("tiny")) == apply_overrides(
        expected, ["lm.train.steps=5"]
    )
    status, out, _ = run_cli(["run", "--algorithms", "bfs", "--dry-run"], capsys)
    config = from_mapping(yaml.safe_load(out), preset("tiny"))
    assert config.nar.nar.algorithms == config.lm.data.algorithms == ("bfs",)


def test_help_explains_presets_stages_and_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for text in ("tiny", "small", "paper", "--force", "KEY=VALUE", "eval-<model>", "examples:"):
        assert text in out


def test_the_small_dry_run_shows_the_protocol(capsys):
    """Three seeds, three arms, and leak-free stepping, in the header and the config."""
    status, out, _ = run_cli(["run", "--preset", "small", "--dry-run"], capsys)
    assert status == 0
    header = [line for line in out.splitlines() if line.startswith("#")]
    assert header[0] == "# 3 seed(s) x arms baseline, control, transnar"
    assert "learned" in header[1] and "(leak-free)" in header[1]
    config = yaml.safe_load(out)
    assert config["seeds"] == 3 and config["arms"] == ["baseline", "control", "transnar"]
    assert config["lm"]["model"]["nar_steps"] == "learned"
