"""The one config system (:mod:`transnar._config`): presets defined once as packaged
YAML, the trainers' presets as their sections, and keys that moved between sections
still read from command lines, saved configs and the pipeline's stage records."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from transnar._config import PRESET_NAMES, flatten, moved_keys, preset_path, unflatten
from transnar.pipeline import RunPipelineConfig, apply_overrides, from_mapping, preset
from transnar.pipeline.run import build_stages
from transnar.training import LMTrainConfig
from transnar.training import apply_overrides as lm_overrides
from transnar.training import preset as lm_preset
from transnar.training.nar_config import NARTrainConfig
from transnar.training.nar_config import apply_overrides as nar_overrides
from transnar.training.nar_config import preset as nar_preset

REPOSITORY = Path(__file__).resolve().parents[1]


def test_configs_is_the_packaged_presets_directory():
    packaged = preset_path("tiny").parent
    assert (REPOSITORY / "configs").resolve() == packaged.resolve()
    assert sorted(p.stem for p in packaged.glob("*.yaml")) == sorted(PRESET_NAMES)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_each_preset_file_names_every_key(name):
    """A complete file: no key falls back to a dataclass default unseen."""
    written = flatten(yaml.safe_load(preset_path(name).read_text(encoding="utf-8")))
    assert written.keys() == flatten(preset(name).to_dict()).keys()


def test_unknown_presets_are_one_error_naming_the_known_ones():
    for make in (preset, nar_preset, lm_preset):
        with pytest.raises(ValueError, match="unknown preset 'huge' \\(choose from tiny, small"):
            make("huge")


def _as_before_the_move(data: dict, cls: type) -> dict:
    """A config's mapping written as transnar 0.1 wrote it: moved keys at their
    old places (and, for a NAR, no precision)."""
    back = {new: old for old, new in moved_keys(cls).items()}
    flat = {back.get(k, k): v for k, v in flatten(data).items()}
    return unflatten({k: v for k, v in flat.items() if k != "nar.train.precision"})


def test_moved_keys_are_listed_with_their_new_places():
    moved = moved_keys(RunPipelineConfig)
    assert moved["lm.optim.steps"] == "lm.train.steps"
    assert moved["lm.optim.batch_size"] == "lm.train.batch_size"
    assert moved["nar.train.train_sizes"] == "nar.data.train_sizes"
    assert moved["nar.train.test_steps"] == "nar.data.test_steps"


def test_moved_keys_still_work_as_overrides():
    lm = lm_overrides(lm_preset("tiny"), ["optim.steps=5", "optim.learning_rate=0.01"])
    assert lm.train.steps == 5 and lm.train.learning_rate == 0.01
    nar = nar_overrides(nar_preset("tiny"), ["train.train_sizes=4,5", "train.val_count=3"])
    assert nar.data.train_sizes == (4, 5) and nar.data.val_count == 3
    run = apply_overrides(preset("tiny"), ["lm.optim.batch_size=4", "nar.train.test_count=2"])
    assert run.lm.train.batch_size == 4 and run.nar.data.test_count == 2


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_a_config_saved_before_the_move_reads_the_same(name):
    config = preset(name)
    old_nar = _as_before_the_move({"nar": config.nar.to_dict()}, RunPipelineConfig)["nar"]
    assert "train_sizes" in old_nar["train"] and "precision" not in old_nar["train"]
    assert NARTrainConfig.from_dict(old_nar) == config.nar
    old_lm = _as_before_the_move(config.lm.to_dict(), LMTrainConfig)
    assert "steps" in old_lm["optim"] and "steps" not in old_lm["train"]
    assert LMTrainConfig.from_dict(old_lm) == config.lm
    old_run = _as_before_the_move(config.to_dict(), RunPipelineConfig)
    other = preset("paper" if name == "tiny" else "tiny")
    assert from_mapping(old_run, other) == config


def test_a_stage_recorded_before_the_move_is_up_to_date(tmp_path):
    """A run directory made by transnar 0.1 is not re-run for the moved keys."""
    config = apply_overrides(preset("tiny"), ["nar.train.precision=fp32"])
    stages = {s.name: s for s in build_stages(config, tmp_path)}
    for name in ("nar", "baseline-s0", "transnar-s0"):
        stage = stages[name]
        old = {
            key: value
            for key, value in _old_flat_keys(stage.config).items()
            if key != "nar.train.precision"
        }
        record = {"config": old, "config_sha256": "made by another version"}
        assert old != dict(stage.config) and stage.config_matches(record), name
        changed = {**old, next(k for k in old if k.endswith(".seed")): 12345}
        assert not stage.config_matches({"config": changed, "config_sha256": "x"}), name


def _old_flat_keys(flat: dict) -> dict:
    back = {new: old for old, new in moved_keys(RunPipelineConfig).items()}
    return {back.get(key, key): value for key, value in flat.items()}
