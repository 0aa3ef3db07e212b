"""Training TransNAR and the baseline: schedule, optimizer, frozen NAR, closed gates,
run directory, exact resume, config."""

from __future__ import annotations

import itertools
import json
import math
import shutil

import numpy as np
import pytest
import torch

from tests import tiny
from tests.training.helpers import interrupted_in_step_5, losses_of, records, val_losses_of
from transnar._config import PRESET_NAMES
from transnar.clrs.text.dataset_files import write_dataset
from transnar.lm import CharTokenizer
from transnar.model import TransNAR
from transnar.persistence import CheckpointError, OutputExistsError
from transnar.training import (
    LMTrainConfig,
    OptimConfig,
    TrainOptions,
    apply_overrides,
    build_model,
    learning_rate,
    lm_model,
    lm_train_step,
    make_optimizer,
    preset,
    read_lm_checkpoint,
    state_sha256,
    train_lm,
)
from transnar.training import lm as loop_module
from transnar.training.lm_data import build_dataset
from transnar.training.lm_step import batch_positions
from transnar.training.nar_checkpoint import load_nar


@pytest.fixture(scope="module")
def finished(tmp_path_factory, nar_path):
    """A finished tiny TransNAR run."""
    run_dir = tmp_path_factory.mktemp("lm") / "run"
    return train_lm(tiny.lm_train_config(nar_path), run_dir, progress=False)


# --- schedule and optimizer -------------------------------------------------------


def test_learning_rate_warms_up_linearly_then_decays_along_a_cosine():
    optim = LMTrainConfig(
        optim=OptimConfig(min_learning_rate=0.1, warmup_steps=4),
        train=TrainOptions(learning_rate=1.0),
    )
    total = 14
    rates = [learning_rate(step, optim, total) for step in range(total + 3)]
    assert rates[:4] == [0.25, 0.5, 0.75, 1.0]
    assert rates[4] == 1.0  # the cosine starts at the peak ...
    assert rates[13] == pytest.approx(0.1)  # ... and ends at the floor on the last update
    assert all(a > b for a, b in itertools.pairwise(rates[4:14]))
    mid = 4 + (13 - 4) / 2
    assert learning_rate(int(mid), optim, total) == pytest.approx(
        0.1 + 0.5 * (1 + math.cos(math.pi * (int(mid) - 4) / 9)) * 0.9
    )
    assert rates[14:] == [pytest.approx(0.1)] * 3  # beyond the run: the floor
    no_warmup = LMTrainConfig(
        optim=OptimConfig(min_learning_rate=0.0, warmup_steps=0),
        train=TrainOptions(learning_rate=2.0),
    )
    assert learning_rate(0, no_warmup, 10) == 2.0 and learning_rate(9, no_warmup, 10) == 0.0
    assert learning_rate(0, no_warmup, 1) == 2.0  # a one-step run is not decayed


def test_the_optimizer_gets_trainable_parameters_and_decays_matrices_only(nar_path):
    config = tiny.lm_train_config(nar_path)
    model = build_model(config, CharTokenizer(), load_nar(nar_path, freeze=True))
    optimizer = make_optimizer(model, config)
    decay, no_decay = optimizer.param_groups
    ids = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert ids == {id(p) for p in model.trainable_parameters()}
    assert not ids & {id(p) for p in model.nar.parameters()}
    assert decay["weight_decay"] == config.optim.weight_decay > 0
    assert no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(
        p.dim() < 2 for p in no_decay["params"]
    )
    gates = [b.attention_gate for b in model.xattn.values()]
    assert all(any(g is p for p in no_decay["params"]) for g in gates)


# --- the model at initialisation and after training -------------------------------


def test_closed_gates_make_transnar_and_the_baseline_lose_alike(nar_path):
    tokenizer = CharTokenizer()
    transnar_config = tiny.lm_train_config(nar_path)
    baseline_config = tiny.lm_train_config(None)
    nar = load_nar(nar_path, freeze=True)
    transnar_config = lm_model.resolve_nar_dims(transnar_config, nar)
    transnar = build_model(transnar_config, tokenizer, nar)
    baseline = build_model(baseline_config, tokenizer, None)
    for name, tensor in baseline.lm.state_dict().items():  # same seed: same LM weights
        assert torch.equal(tensor, transnar.lm.state_dict()[name]), name
    dataset = build_dataset(transnar_config.data, "train", tokenizer, with_graphs=True)
    for key in dataset.groups:
        batch = dataset.batch(dataset.groups[key][:4])
        positions = batch_positions(transnar, batch, torch.Generator().manual_seed(0))
        memory = transnar.graph_memory(batch.features)
        a = transnar(batch.input_ids, positions, batch.labels, memory=memory).loss
        b = baseline(batch.input_ids, positions, batch.labels).loss
        assert torch.equal(a, b), key


def test_training_leaves_the_nar_bit_identical_and_opens_the_gates(finished, nar_path):
    saved = TransNAR.from_pretrained(finished.model_dir)
    original = load_nar(nar_path)
    for name, tensor in original.state_dict().items():
        assert torch.equal(tensor, saved.nar.state_dict()[name]), name
    assert finished.summary["nar_sha256"] == state_sha256(original)
    for block in saved.xattn.values():
        assert block.attention_gate.item() != 0.0 and block.mlp_gate.item() != 0.0
    assert saved.config.nar_node_dim == tiny.NAR_HIDDEN and saved.config.use_nar


def test_a_step_updates_only_trainable_parameters_and_keeps_the_nar_in_eval_mode(nar_path):
    config = tiny.lm_train_config(nar_path)
    nar = load_nar(nar_path, freeze=True)
    config = lm_model.resolve_nar_dims(config, nar)
    model = build_model(config, CharTokenizer(), nar).train()
    assert model.training and not model.nar.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    dataset = build_dataset(config.data, "train", CharTokenizer(), with_graphs=True)
    optimizer = make_optimizer(model, config)
    batches = [dataset.batch(dataset.groups[k][:3]) for k in list(dataset.groups)[:2]]
    record = lm_train_step(model, optimizer, batches, torch.Generator().manual_seed(0), 1.0)
    assert record["tokens"] == sum(b.num_tokens for b in batches) and record["nar_seconds"] > 0
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in after if k.startswith("nar."))
    assert all(p.grad is None for p in model.nar.parameters())
    changed = [k for k in after if not torch.equal(before[k], after[k])]
    assert any(k.endswith("attention_gate") for k in changed) and any(
        k.startswith("lm.") for k in changed
    )
    assert not model.nar.training


def test_gradient_accumulation_averages_over_the_steps_answer_tokens(nar_path):
    config = tiny.lm_train_config(None)
    model = build_model(config, CharTokenizer(), None).train()
    dataset = build_dataset(config.data, "train", CharTokenizer(), with_graphs=False)
    batches = [dataset.batch(dataset.groups[k][:3]) for k in list(dataset.groups)[:3]]
    generator = torch.Generator().manual_seed(0)
    expected, targets = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            positions = batch_positions(model, batch, generator)
            loss = model(batch.input_ids, positions, batch.labels).loss
            expected += float(loss) * batch.num_targets
            targets += batch.num_targets
    optimizer = make_optimizer(model, config)
    record = lm_train_step(model, optimizer, batches, torch.Generator().manual_seed(0), 0.0)
    assert record["targets"] == targets
    assert record["loss"] == pytest.approx(expected / targets, rel=1e-6)


# --- runs -------------------------------------------------------------------------


def test_a_run_writes_its_directory(finished):
    run_dir = finished.run_dir
    assert {p.name for p in run_dir.iterdir()} == {
        "config.json",
        "metrics.jsonl",
        "checkpoints",
        "model",
        "summary.json",
        "tensorboard",
        "train.log",
    }
    config = LMTrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    assert config == finished.config and config.model.nar_node_dim == tiny.NAR_HIDDEN
    steps = records(run_dir)
    assert [s for s, _ in losses_of(run_dir)] == [1, 2, 3, 4, 5, 6]
    assert [s for s, _ in val_losses_of(run_dir)] == [2, 4, 6]
    first = steps[0]
    assert {"lr", "grad_norm", "tokens", "tokens_per_second", "nar_seconds", "epoch"} <= set(first)
    val = next(r for r in steps if "val_loss" in r)
    assert set(val["val"]) == set(tiny.ALGORITHMS)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["steps"] == finished.steps == 6 and summary["model"] == "transnar"
    assert summary["val_loss"] == finished.val_loss == val_losses_of(run_dir)[-1][1]
    assert summary["tokens_per_second"] > 0
    payload = read_lm_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert payload["step"] == 6 and payload["config"] == config
    assert not any(k.startswith("nar.") for k in payload["model"])
    state = payload["train_state"]
    assert {"data", "rng", "nar_sha256"} <= set(state) and isinstance(
        state["rng"]["positions"], torch.Tensor
    )


def test_the_baseline_trains_with_the_same_code(tmp_path):
    result = train_lm(tiny.lm_train_config(None), tmp_path / "baseline", progress=False)
    model = TransNAR.from_pretrained(result.model_dir)
    assert model.nar is None and not model.config.use_nar and len(model.xattn) == 0
    assert result.summary["model"] == "baseline" and result.summary["nar_sha256"] is None
    assert not (tmp_path / "baseline" / "nar").exists()
    assert [s for s, _ in losses_of(result.run_dir)] == [1, 2, 3, 4, 5, 6]
    # resuming it as a TransNAR is refused before a NAR is trained for it
    config = json.loads((result.run_dir / "config.json").read_text())
    with pytest.raises(CheckpointError, match=r"differs in model\.use_nar"):
        train_lm(apply_overrides(result.config, ["use_nar=true"]), result.run_dir, resume=True)
    assert not (tmp_path / "baseline" / "nar").exists()
    assert json.loads((result.run_dir / "config.json").read_text()) == config


@pytest.mark.parametrize(
    "overrides",
    [(), ("grad_accum=2", "dropout=0.1", "memory=lockstep"), ("use_nar=false",)],
    ids=["transnar", "accumulation-dropout-lockstep", "baseline"],
)
def test_a_resumed_run_continues_with_identical_losses(tmp_path, monkeypatch, nar_path, overrides):
    config = tiny.lm_train_config(nar_path, *overrides)
    straight = train_lm(config, tmp_path / "straight", progress=False)

    interrupted_in_step_5(monkeypatch, config, tmp_path / "resumed")
    assert read_lm_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["step"] == 4
    # Some other use of the random generators in between changes nothing.
    torch.manual_seed(123)
    np.random.seed(123)
    resumed = train_lm(config, tmp_path / "resumed", resume=True, progress=False)

    assert losses_of(tmp_path / "resumed") == losses_of(tmp_path / "straight")  # bit for bit
    assert val_losses_of(tmp_path / "resumed") == val_losses_of(tmp_path / "straight")
    assert resumed.val_loss == straight.val_loss
    a = read_lm_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = read_lm_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def _written_data(config, directory, *overrides: str):
    """``config`` reading its train and val splits (with ``overrides``) from ``directory``."""
    data = apply_overrides(config, list(overrides)).data
    splits = [split for kind, split in data.splits().items() if kind != "test"]
    write_dataset(directory, splits)
    return apply_overrides(config, [f"data.path={directory}"])


def test_moved_data_resume_when_they_hold_the_same_examples(tmp_path, monkeypatch):
    config = _written_data(tiny.lm_train_config(None), tmp_path / "data")
    straight = train_lm(config, tmp_path / "straight", progress=False)
    interrupted_in_step_5(monkeypatch, config, tmp_path / "run")
    (tmp_path / "data").rename(tmp_path / "moved")  # e.g. the run directory moved

    other = _written_data(config, tmp_path / "other", "data.train_seed=5")
    with pytest.raises(CheckpointError, match="trained on other examples than those in"):
        train_lm(other, tmp_path / "run", resume=True, progress=False)
    moved = apply_overrides(config, [f"data.path={tmp_path / 'moved'}"])
    resumed = train_lm(moved, tmp_path / "run", resume=True, progress=False)
    assert losses_of(tmp_path / "run") == losses_of(straight.run_dir)
    assert resumed.val_loss == straight.val_loss


def test_a_checkpoint_without_the_data_hash_resumes_only_where_its_data_were(tmp_path, monkeypatch):
    config = _written_data(tiny.lm_train_config(None), tmp_path / "data")
    without_hash = loop_module.LMTrainer.data_state

    def data_state(trainer):  # as written before the data's hash was kept
        return {k: v for k, v in without_hash(trainer).items() if k != "data_sha256"}

    with monkeypatch.context() as patch:
        patch.setattr(loop_module.LMTrainer, "data_state", data_state)
        interrupted_in_step_5(monkeypatch, config, tmp_path / "run")
    shutil.copytree(tmp_path / "data", tmp_path / "copy")
    copied = apply_overrides(config, [f"data.path={tmp_path / 'copy'}"])
    with pytest.raises(CheckpointError, match="does not record their hash"):
        train_lm(copied, tmp_path / "run", resume=True, progress=False)
    assert train_lm(config, tmp_path / "run", resume=True, progress=False).summary["steps"] == 6


def test_cached_memory_trains_like_memory_on_the_fly(tmp_path, nar_path):
    on_the_fly = train_lm(tiny.lm_train_config(nar_path), tmp_path / "fly", progress=False)
    cached = train_lm(
        tiny.lm_train_config(nar_path, "cache_memory=true"), tmp_path / "cached", progress=False
    )
    a, b = losses_of(on_the_fly.run_dir), losses_of(cached.run_dir)
    assert [s for s, _ in a] == [s for s, _ in b]
    np.testing.assert_allclose([x for _, x in a], [x for _, x in b], rtol=1e-4)
    steps = [r for r in records(cached.run_dir) if "loss" in r]
    assert all(r["nar_seconds"] < 1e-3 for r in steps)  # only reading the cache


def test_a_used_run_directory_is_refused_unless_forced(finished, tmp_path, nar_path):
    with pytest.raises(OutputExistsError, match="not empty"):
        train_lm(finished.config, finished.run_dir, progress=False)
    run_dir = tmp_path / "run"
    (run_dir / "model").mkdir(parents=True)
    (run_dir / "model" / "stale").write_text("x")
    train_lm(tiny.lm_train_config(nar_path, "steps=2"), run_dir, overwrite=True, progress=False)
    assert not (run_dir / "model" / "stale").exists()
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train_lm(tiny.lm_train_config(nar_path), tmp_path / "empty", resume=True, progress=False)


def test_resuming_with_another_config_or_nar_is_an_error(finished, tmp_path):
    with pytest.raises(CheckpointError, match=r"differs in train.learning_rate"):
        train_lm(
            apply_overrides(finished.config, ["learning_rate=0.5"]),
            finished.run_dir,
            resume=True,
            progress=False,
        )
    other = tiny.write_nar_checkpoint(tmp_path / "other.pt", seed=1)
    with pytest.raises(CheckpointError, match="another NAR"):
        train_lm(
            apply_overrides(finished.config, [f"nar.checkpoint={other}"]),
            finished.run_dir,
            resume=True,
            progress=False,
        )


def test_a_nar_without_the_data_algorithms_is_refused(tmp_path):
    nar = tiny.write_nar_checkpoint(tmp_path / "bfs.pt", algorithms=("bfs",))
    with pytest.raises(CheckpointError, match="not trained on insertion_sort"):
        train_lm(tiny.lm_train_config(nar), tmp_path / "run", progress=False)


def test_the_nar_is_trained_for_the_run_when_no_checkpoint_is_given(tmp_path):
    config = tiny.lm_train_config(None, "use_nar=true", "nar.train_steps=2")
    assert config.nar.checkpoint is None and config.nar.preset == "tiny"
    result = train_lm(config, tmp_path / "run", progress=False)
    nar_dir = tmp_path / "run" / "nar"
    assert (nar_dir / "results.json").is_file()
    nar_config = json.loads((nar_dir / "config.json").read_text())
    assert (
        nar_config["nar"]["algorithms"] == list(tiny.ALGORITHMS)
        and nar_config["train"]["steps"] == 2
    )
    assert result.summary["nar_sha256"] == state_sha256(load_nar(nar_dir))


# --- config -----------------------------------------------------------------------


def test_presets():
    paper = preset("paper")
    lm = paper.model.lm
    assert (lm.n_layers, lm.d_model, lm.n_heads, lm.max_position) == (6, 640, 10, 8192)
    assert paper.data.train_sizes == (4, 5, 6, 7, 8, 12) and len(paper.data.algorithms) == 30
    assert (paper.data.train_count, paper.data.test_sizes) == (7000, (10, 12, 14))
    assert (paper.train.batch_size, paper.train.learning_rate, paper.optim.epochs) == (256, 1e-4, 7)
    assert paper.optim.weight_decay == 0.0 and paper.train.precision == "auto"
    small = preset("small")
    assert max(small.data.test_sizes) > max(small.data.train_sizes)  # out of distribution
    assert len(small.data.algorithms) == 6 and small.nar.preset == "small"
    tiny = preset("tiny")
    assert tiny.model.lm.d_model <= 64 and tiny.nar.preset == "tiny"
    for name in PRESET_NAMES:
        config = preset(name)
        assert LMTrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
        assert config.use_nar


def test_overrides_are_typed_by_field():
    config = apply_overrides(
        preset("tiny"),
        [
            "steps=7",
            "lm.d_model=48",
            "n_heads=6",
            "model.use_nar=false",
            "data.train_sizes=4,6",
            "algorithms=dfs, bfs",
            "truncate_decimals=none",
            "learning_rate=3e-4",
            "checkpoint=runs/nar",
            "cache_memory=yes",
            "memory=lockstep",
        ],
    )
    assert config.train.steps == 7 and config.model.lm.d_model == 48
    assert config.model.lm.n_heads == 6 and not config.use_nar
    assert config.data.train_sizes == (4, 6) and config.data.algorithms == ("dfs", "bfs")
    assert config.data.truncate_decimals is None and config.train.learning_rate == 3e-4
    assert config.nar.checkpoint == "runs/nar" and config.nar.cache_memory
    assert config.model.memory == "lockstep"
    assert len(apply_overrides(config, ["algorithms=all"]).data.algorithms) == 30
    assert apply_overrides(config, {"steps": 3}).train.steps == 3


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stepz=3", "unknown config key 'stepz' \\(did you mean train.steps"),
        ("lm.zzz=3", "unknown config key 'lm.zzz' \\(known: model.lm.vocab_size"),
        ("foo.steps=3", "unknown config section 'foo'"),
        ("steps", "KEY=VALUE"),
        ("steps=many", "train.steps must be an integer"),
        ("learning_rate=fast", "train.learning_rate must be a number"),
        ("use_nar=maybe", "model.use_nar must be true or false"),
        ("d_model=33", "d_model \\(33\\) must be divisible by n_heads"),
        ("memory=sometimes", "memory must be one of"),
        ("algorithms=bfz", "bfs"),
        ("grad_accum=3", "multiple of optim.grad_accum"),
        ("grad_clip=-1", "grad_clip must be >= 0"),
        ("min_learning_rate=1", "min_learning_rate must be in"),
        ("device=gpu", "device must be"),
        ("precision=fp8", "precision must be one of"),
        ("nar.preset=huge", "nar.preset must be one of"),
        ("max_tokens=1000", "exceeds model.lm.max_position"),
        ("val_seed=0", "would share instances"),
    ],
)
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ValueError, match=message):
        apply_overrides(preset("tiny"), [override])


def test_unknown_presets_and_config_sections():
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        preset("huge")
    with pytest.raises(ValueError, match="unknown optim config key"):
        LMTrainConfig.from_dict({"optim": {"stepz": 1}})
    with pytest.raises(ValueError, match="unknown config section"):
        LMTrainConfig.from_dict({"schedule": {}})
    with pytest.raises(ValueError, match="unknown TransNAR config key"):
        LMTrainConfig.from_dict({"model": {"gates": 1}})
    with pytest.raises(ValueError, match="CUDA is not available"):
        if torch.cuda.is_available():
            raise ValueError("CUDA is not available (skip)")
        train_lm(
            tiny.lm_train_config(None, "device=cuda"), "/nonexistent/never-written", progress=False
        )
