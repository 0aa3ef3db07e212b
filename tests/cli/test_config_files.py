"""``--config`` of ``nar train``, ``lm train`` and ``distill``: JSON or YAML, and a
``transnar run`` config gives its section."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli.helpers import run_cli
from transnar.pipeline.config import preset as run_preset
from transnar.training.lm_config import LMTrainConfig
from transnar.training.nar_config import NARTrainConfig

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def dry_run(command, config, tmp_path, capsys):
    argv = [command, "train", "--config", str(config), "--out", str(tmp_path / "r"), "--dry-run"]
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    return json.loads(out)


def test_a_run_config_yaml_gives_its_lm_and_nar_sections(tmp_path, capsys):
    small = run_preset("small")
    lm = dry_run("lm", CONFIGS / "small.yaml", tmp_path, capsys)
    assert LMTrainConfig.from_dict(lm) == small.lm
    nar = dry_run("nar", CONFIGS / "small.yaml", tmp_path, capsys)
    assert NARTrainConfig.from_dict(nar) == small.nar


def test_a_run_config_json_gives_its_sections_too(tmp_path, capsys):
    small = run_preset("small")
    path = tmp_path / "config.json"  # a pipeline run's RUN/config.json
    path.write_text(json.dumps(small.to_dict()))
    assert LMTrainConfig.from_dict(dry_run("lm", path, tmp_path, capsys)) == small.lm
    assert NARTrainConfig.from_dict(dry_run("nar", path, tmp_path, capsys)) == small.nar


def test_a_trainer_config_in_yaml_reads_as_its_json(tmp_path, capsys):
    config = run_preset("tiny").lm
    path = tmp_path / "lm.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    assert LMTrainConfig.from_dict(dry_run("lm", path, tmp_path, capsys)) == config


def test_a_bad_config_file_is_one_error_naming_it(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    argv = ["lm", "train", "--config", str(bad), "--out", str(tmp_path / "r"), "--dry-run"]
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and str(bad) in err and err.count("\n") == 1
    broken = tmp_path / "bad.json"
    broken.write_text("{not json")
    argv[3] = str(broken)
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and "bad.json is not a valid lm config" in err
