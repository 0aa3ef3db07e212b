"""Training checkpoints: the persistence header, the earlier spelling, one kind per trainer."""

from __future__ import annotations

import pytest
import torch

from transnar import __version__
from transnar.persistence import CheckpointError
from transnar.training.checkpoint import FORMATS, read_checkpoint, save_checkpoint


def identity(config: dict) -> dict:
    return config


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_a_checkpoint_carries_its_format_and_who_wrote_it(tmp_path, kind):
    path = tmp_path / "last.pt"
    save_checkpoint(path, kind, {"lr": 0.1}, 3, {"w": torch.ones(2)}, {"state": {}}, {"k": 1})
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == f"transnar.{kind}_checkpoint" and raw["version"] == 1
    assert raw["transnar_version"] == __version__ and raw["torch_version"] == torch.__version__
    read = read_checkpoint(path, kind, identity)
    assert read["config"] == {"lr": 0.1} and read["step"] == 3 and read["path"] == path
    assert torch.equal(read["model"]["w"], torch.ones(2)) and read["train_state"] == {"k": 1}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_checkpoints_of_the_earlier_spelling_still_read(tmp_path, kind):
    """Runs started before checkpoints went through transnar.persistence resume."""
    path = tmp_path / "last.pt"
    legacy = {"format": f"transnar-{kind}-checkpoint", "format_version": 1,
              "transnar_version": "0.1.0", "torch_version": "2.13.0",
              "config": {"lr": 0.1}, "step": 5, "model": {"w": torch.zeros(1)}}  # fmt: skip
    torch.save(legacy, path)
    read = read_checkpoint(path, kind, identity)
    assert read["step"] == 5 and read["config"] == {"lr": 0.1}


def test_one_trainers_checkpoint_is_not_the_others(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, "nar", {}, 1, {})
    with pytest.raises(CheckpointError, match=r"is not a transnar\.lm_checkpoint file"):
        read_checkpoint(path, "lm", identity)
    with pytest.raises(CheckpointError, match="nothing to resume: no checkpoint at"):
        read_checkpoint(tmp_path / "none.pt", "lm", identity, missing="nothing to resume: ")
    with pytest.raises(ValueError, match="unknown checkpoint kind 'gan'"):
        save_checkpoint(path, "gan", {}, 1, {})
