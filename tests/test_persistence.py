"""Saved files (transnar.persistence): one header, atomic writes, weights, clear
errors; models saved before the helper existed still load, with the same numbers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from transnar import clrs
from transnar.lm import DecoderLM
from transnar.model import TransNAR
from transnar.nar.features import Features
from transnar.persistence import (
    CheckpointError,
    FileFormat,
    OutputExistsError,
    atomic_write,
    read_checkpoint,
    read_json,
    read_weights,
    write_checkpoint,
    write_json,
    write_weights,
)
from transnar.training.checkpoint import FORMATS
from transnar.training.nar_checkpoint import save_nar_checkpoint
from transnar.training.nar_config import preset

# Written by transnar at 346dcd7 (tests/fixtures/saved-0.1.0/make.py): a tiny
# TransNAR with open gates, and the logits it gave on a fixed input.
SAVED_0_1_0 = Path(__file__).parent / "fixtures" / "saved-0.1.0"
PROVENANCE = ("transnar_version", "torch_version")

DEMO = FileFormat("transnar.demo", 2, "demo file", remedy="write it again (demo.save)")


def test_a_transnar_saved_before_the_helper_loads_with_the_same_logits():
    model = TransNAR.from_pretrained(SAVED_0_1_0 / "transnar")
    expected = torch.load(SAVED_0_1_0 / "expected.pt", weights_only=True)
    trajectory = clrs.sample("bfs", 4, seed=0, count=1)[0]
    memory = model.graph_memory(Features.from_trajectories([trajectory]))
    logits = model(expected["input_ids"], expected["positions"], memory=memory).logits
    # the same weights give the same logits up to the rounding of this CPU's kernels
    # (the fixture was written on another: 3e-8 apart); a weight read wrongly is far off
    torch.testing.assert_close(logits, expected["logits"], rtol=1e-5, atol=1e-6)
    assert DecoderLM.from_pretrained(SAVED_0_1_0 / "transnar").config == model.config.lm


def test_saving_again_writes_the_files_of_before_and_transnar_weights_as_safetensors(tmp_path):
    """The LM's files: same documents, same key order, same weights. TransNAR's
    weights move from transnar.pt to transnar.safetensors (transnar.model version 2)."""
    pytest.importorskip("safetensors")
    old = SAVED_0_1_0 / "transnar"
    TransNAR.from_pretrained(old).save_pretrained(tmp_path)
    names = {p.name for p in old.iterdir()} - {"transnar.pt"} | {"transnar.safetensors"}
    assert {p.name for p in tmp_path.iterdir()} == names
    for name in ("config.json", "tokenizer.json", "transnar.json"):
        before, after = (json.loads((d / name).read_text()) for d in (old, tmp_path))
        if name == "transnar.json":
            assert (before["version"], after["version"]) == (1, 2)
            assert after.pop("weights") == "transnar.safetensors"
            before.pop("version"), after.pop("version")
        assert list(after) == list(before), name
        for key in PROVENANCE:
            before.pop(key, None), after.pop(key, None)
        assert after == before, name
    for old_name, new_name in [
        ("model.safetensors", "model.safetensors"),
        ("transnar.pt", "transnar.safetensors"),
    ]:
        before, after = read_weights(old / old_name, "w"), read_weights(tmp_path / new_name, "w")
        assert before.keys() == after.keys()
        assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(
        TransNAR.from_pretrained(tmp_path).xattn["0"].attention_gate,
        TransNAR.from_pretrained(old).xattn["0"].attention_gate,
    )


def test_a_transnar_saved_again_over_an_old_one_keeps_no_stale_weights(tmp_path):
    shutil.copytree(SAVED_0_1_0 / "transnar", tmp_path, dirs_exist_ok=True)
    with pytest.raises(OutputExistsError):
        TransNAR.from_pretrained(tmp_path).save_pretrained(tmp_path)
    TransNAR.from_pretrained(tmp_path).save_pretrained(tmp_path, overwrite=True)
    weights = {p.name for p in tmp_path.iterdir()} & {"transnar.pt", "transnar.safetensors"}
    assert len(weights) == 1
    TransNAR.from_pretrained(tmp_path)


def test_the_header_is_checked_with_a_clear_error(tmp_path):
    path = tmp_path / "demo.json"
    write_json(path, {**DEMO.header(), "x": 1})
    assert read_json(path, DEMO) == {"format": "transnar.demo", "version": 2, "x": 1}
    cases = {
        "[1, 2]": "is not a transnar.demo file (demo file): it has no transnar header",
        '{"format": "transnar.lm", "version": 2}': "its format is 'transnar.lm'",
        '{"format": "transnar.demo", "version": 1}': "has transnar.demo format version 1",
        '{"format": "transnar.demo"': "is not valid JSON",
    }
    for text, problem in cases.items():
        path.write_text(text)
        with pytest.raises(CheckpointError) as error:
            read_json(path, DEMO)
        message = str(error.value)
        assert message.startswith(str(path)) and problem in message, message
        assert "write it again (demo.save)" in message


def test_legacy_spellings_are_read():
    legacy = FileFormat("transnar.demo", 1, "demo", remedy="-", legacy_names=("transnar-demo",))
    assert legacy.check({"format": "transnar-demo", "format_version": 1}, "f")
    with pytest.raises(CheckpointError, match="format version 2"):
        legacy.check({"format": "transnar-demo", "format_version": 2}, "f")
    with pytest.raises(CheckpointError, match="format version 99"):  # every stated version
        legacy.check({"format": "transnar.demo", "version": 1, "format_version": 99}, "f")
    with pytest.raises(CheckpointError, match="format version None"):
        legacy.check({"format": "transnar.demo"}, "f")


def test_checkpoints_round_trip_and_another_format_is_refused(tmp_path):
    path = tmp_path / "last.pt"
    write_checkpoint(path, DEMO, {"step": 3, "model": {"w": torch.ones(2)}})
    payload = read_checkpoint(path, DEMO)
    assert payload["format"] == "transnar.demo" and payload["version"] == 2
    assert payload["step"] == 3 and torch.equal(payload["model"]["w"], torch.ones(2))
    assert {"transnar_version", "torch_version"} <= set(payload)
    # a NAR trainer's checkpoint (training.checkpoint.FORMATS) is no demo file
    save_nar_checkpoint(tmp_path / "nar.pt", preset("tiny"), 5, {"w": torch.zeros(1)})
    assert read_checkpoint(tmp_path / "nar.pt", FORMATS["nar"])["step"] == 5
    with pytest.raises(CheckpointError, match=r"its format is 'transnar\.nar_checkpoint'"):
        read_checkpoint(tmp_path / "nar.pt", DEMO)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"is not a readable demo file: .*truncated"):
        read_checkpoint(path, DEMO)
    with pytest.raises(CheckpointError, match="no demo file at"):
        read_checkpoint(tmp_path / "none.pt", DEMO)


@pytest.mark.parametrize("name", ["w.pt", "w.safetensors"])
def test_weights_round_trip_and_truncated_weights_are_clear_errors(tmp_path, name):
    if name.endswith(".safetensors"):
        pytest.importorskip("safetensors")
    path = tmp_path / name
    state = {"a": torch.arange(6.0).view(2, 3), "b": torch.ones(1, dtype=torch.int64)}
    write_weights(path, state, metadata={"format": "transnar.demo"})
    loaded = read_weights(path, "weights file")
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointError, match=f"{name} is not a readable weights file"):
        read_weights(path, "weights file")
    path.unlink()
    with pytest.raises(CheckpointError, match=f"the weights file .*{name} is missing"):
        read_weights(path, "weights file")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(OutputExistsError), atomic_write(path, mode="w") as handle:
        handle.write("new")
    with pytest.raises(RuntimeError), atomic_write(path, overwrite=True, mode="w") as handle:
        handle.write("half")
        raise RuntimeError("crash")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_transnar_weights_that_do_not_fit_the_config_are_a_clear_error(tmp_path):
    shutil.copytree(SAVED_0_1_0 / "transnar", tmp_path, dirs_exist_ok=True)
    document = json.loads((tmp_path / "transnar.json").read_text())
    document["config"]["xattn_every"] = 2  # one cross-attention block instead of two
    (tmp_path / "transnar.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match=r"transnar\.pt: the weights do not match the config"):
        TransNAR.from_pretrained(tmp_path)
