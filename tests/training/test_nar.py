"""NAR training: run directory, exact resume, best checkpoint, evaluation, config."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from tests import tiny
from tests.training.helpers import losses_of, records
from transnar import clrs
from transnar._config import PRESET_NAMES
from transnar.nar import NAR, Features
from transnar.persistence import CheckpointError, OutputExistsError
from transnar.training import nar as training_module
from transnar.training.checkpoint import checkpoint_path
from transnar.training.nar import nar_train_step, train_nar
from transnar.training.nar_checkpoint import (
    load_nar,
    read_nar_checkpoint,
    save_nar_checkpoint,
)
from transnar.training.nar_config import (
    NARTrainConfig,
    apply_overrides,
    preset,
)
from transnar.training.nar_data import (
    TaskStream,
    derive_seed,
    eval_count,
    evaluation_batches,
    train_options,
    train_sizes,
    validation_size,
)
from transnar.training.nar_eval import evaluate_nar


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("nar") / "run"
    result = train_nar(tiny.nar_train_config(), run_dir, progress=False)
    return run_dir, result


def test_a_tiny_run_writes_every_file(finished_run):
    run_dir, result = finished_run
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")}
    events = {n for n in names if n.startswith("tensorboard/events.out.tfevents.")}
    assert len(events) == 1
    assert names - events == {
        "config.json",
        "metrics.jsonl",
        "results.json",
        "results.md",
        "checkpoints",
        "checkpoints/last.pt",
        "checkpoints/best.pt",
        "tensorboard",
        "train.log",
    }
    written = json.loads((run_dir / "config.json").read_text())
    assert (
        NARTrainConfig.from_dict(written) == tiny.nar_train_config()
        and "transnar_version" in written
    )
    logged = records(run_dir)
    assert [r["step"] for r in logged if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in logged if "val" in r] == [2, 4, 6]
    assert set(logged[0]["loss"]) == {"bfs", "insertion_sort"}
    results = json.loads((run_dir / "results.json").read_text())
    assert results == json.loads(json.dumps(result.results))
    assert results["steps"] == 6 and results["best_step"] == result.best_step
    for algorithm in ("bfs", "insertion_sort"):
        tests = results["algorithms"][algorithm]["test"]
        assert list(tests) == ["6", "8"]
        assert tests["6"]["in_distribution"] and not tests["8"]["in_distribution"]
        assert 0.0 <= tests["8"]["scores"]["score"] <= 1.0 and tests["8"]["count"] == 8
    assert set(results["algorithms"]["insertion_sort"]["test"]["8"]["scores"]) == {"pred", "score"}
    markdown = (run_dir / "results.md").read_text()
    assert (
        re.search(r"\| bfs +\| graphs +\|", markdown)
        and "n=6*" in markdown
        and re.search(r"\| insertion_sort +\| pred +\|", markdown)
    )


def test_checkpoints_hold_plain_values_and_resume_state(finished_run):
    run_dir, result = finished_run
    last = torch.load(checkpoint_path(run_dir, "last"), weights_only=True)
    assert last["format"] == "transnar.nar_checkpoint" and last["version"] == 1
    assert last["step"] == 6
    assert {"optimizer", "train_state"} <= set(last)
    state = last["train_state"]
    assert set(state["data"]) == {"bfs", "insertion_sort"} and state["data"]["bfs"]["position"] == 6
    assert isinstance(state["rng"]["torch"], torch.Tensor)
    best = read_nar_checkpoint(checkpoint_path(run_dir, "best"))
    assert best["step"] == result.best_step and "optimizer" not in best
    assert best["config"] == tiny.nar_train_config()


class _InterruptError(Exception):
    pass


@pytest.mark.parametrize(
    "overrides",
    [(), ("hint_teacher_forcing=0.5", "dropout=0.1", "algorithms=bfs,insertion_sort,dfs")],
    ids=["default", "teacher-forcing-dropout"],
)
def test_a_resumed_run_continues_with_identical_losses(tmp_path, monkeypatch, overrides):
    config = tiny.nar_train_config(*overrides)
    straight = train_nar(config, tmp_path / "straight", progress=False)

    # Interrupt the second run in the middle of step 5 (after the checkpoint of step 4).
    calls = {"n": 0}
    real_step = training_module.nar_train_step

    def failing_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4 * len(config.nar.algorithms) + 1:
            raise _InterruptError
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training_module, "nar_train_step", failing_step)
    with pytest.raises(_InterruptError):
        train_nar(config, tmp_path / "resumed", progress=False)
    assert read_nar_checkpoint(checkpoint_path(tmp_path / "resumed", "last"))["step"] == 4
    monkeypatch.setattr(training_module, "nar_train_step", real_step)
    # Some other use of the random generators in between changes nothing.
    torch.manual_seed(123)
    np.random.seed(123)
    resumed = train_nar(config, tmp_path / "resumed", resume=True, progress=False)

    assert losses_of(tmp_path / "resumed") == losses_of(tmp_path / "straight")  # bit for bit
    assert resumed.best_step == straight.best_step and resumed.best_score == straight.best_score
    assert resumed.results["algorithms"] == straight.results["algorithms"]
    a = read_nar_checkpoint(checkpoint_path(tmp_path / "straight", "last"))
    b = read_nar_checkpoint(checkpoint_path(tmp_path / "resumed", "last"))
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_resume_may_extend_the_run(tmp_path):
    train_nar(tiny.nar_train_config("steps=2"), tmp_path, progress=False)
    result = train_nar(tiny.nar_train_config("steps=4"), tmp_path, resume=True, progress=False)
    assert result.steps == 4
    assert [step for step, _ in losses_of(tmp_path)] == [1, 2, 3, 4]
    longer = train_nar(tiny.nar_train_config("steps=4"), tmp_path.parent / "longer", progress=False)
    assert losses_of(tmp_path) == losses_of(longer.run_dir)


def test_the_best_checkpoint_is_restored_for_testing(tmp_path, monkeypatch):
    real_evaluate, real_evaluate_nar = training_module.score_nar, training_module.evaluate_nar
    # Scripted validation scores: best at step 4 of 6.
    means = iter([0.2, 0.2, 0.9, 0.9, 0.5, 0.5])
    monkeypatch.setattr(training_module, "score_nar", lambda nar, batches: {"score": next(means)})
    tested = {}

    def capture(nar, config, **kwargs):
        tested["state"] = {k: v.clone() for k, v in nar.state_dict().items()}
        monkeypatch.setattr(training_module, "score_nar", real_evaluate)
        return real_evaluate_nar(nar, config, **kwargs)

    monkeypatch.setattr(training_module, "evaluate_nar", capture)
    result = train_nar(tiny.nar_train_config(), tmp_path, progress=False)
    assert (result.best_step, result.best_score) == (4, 0.9)
    assert result.results["algorithms"]["bfs"]["validation_score"] == 0.9
    best = read_nar_checkpoint(checkpoint_path(tmp_path, "best"))
    last = read_nar_checkpoint(checkpoint_path(tmp_path, "last"))
    assert best["step"] == 4 and last["step"] == 6
    for name, tensor in tested["state"].items():
        assert torch.equal(tensor, best["model"][name]), name
    assert any(not torch.equal(t, last["model"][n]) for n, t in tested["state"].items())
    assert [r["best"] for r in records(tmp_path) if "val" in r] == [True, True, False]


def test_one_update_per_algorithm_leaves_the_other_heads_alone():
    torch.manual_seed(0)
    nar = NAR(tiny.nar_config(tiny.ALGORITHMS))
    optimizer = torch.optim.Adam(nar.parameters(), lr=1e-2)
    before = {k: v.clone() for k, v in nar.state_dict().items()}
    features = Features.from_trajectories(clrs.sample("bfs", 5, 0, 3), np.random.RandomState(0))
    nar_train_step(nar, optimizer, features, grad_clip=1.0)
    after = nar.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(k.startswith("processor.") for k in changed)
    assert any(k.startswith("heads.bfs.") for k in changed)
    assert not any(k.startswith("heads.insertion_sort.") for k in changed)
    untouched = [p for n, p in nar.named_parameters() if n.startswith("heads.insertion_sort.")]
    assert all(p.grad is None and p not in optimizer.state for p in untouched)


def test_gradients_are_clipped_to_the_global_norm(monkeypatch):
    torch.manual_seed(0)
    nar = NAR(tiny.nar_config())
    seen = {}

    class Recorder(torch.optim.SGD):
        def step(self, closure=None):
            grads = [p.grad for p in nar.parameters() if p.grad is not None]
            seen["norm"] = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])))

    features = Features.from_trajectories(clrs.sample("bfs", 5, 0, 3))
    nar_train_step(nar, Recorder(nar.parameters(), lr=0.0), features, grad_clip=1e-3)
    assert seen["norm"] == pytest.approx(1e-3, rel=1e-3)


def test_evaluating_a_checkpoint(finished_run):
    run_dir, _ = finished_run
    nar = load_nar(run_dir, freeze=True)
    assert not nar.training and not any(p.requires_grad for p in nar.parameters())
    config = read_nar_checkpoint(checkpoint_path(run_dir, "best"))["config"]
    results = evaluate_nar(nar, config, sizes=[5, 7], count=4, algorithms=["bfs"])
    entry = results["algorithms"]["bfs"]
    assert list(results["algorithms"]) == ["bfs"] and list(entry["test"]) == ["5", "7"]
    assert entry["test"]["5"]["in_distribution"] and not entry["test"]["7"]["in_distribution"]
    assert entry["test"]["7"]["count"] == 4
    again = evaluate_nar(nar, config, sizes=[5, 7], count=4, algorithms=["bfs"])
    assert again == results  # fixed test sets


def test_a_used_run_directory_is_refused(finished_run, tmp_path):
    run_dir, _ = finished_run
    with pytest.raises(OutputExistsError, match="not empty and no run is continued there"):
        train_nar(tiny.nar_train_config(), run_dir, progress=False)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train_nar(tiny.nar_train_config(), tmp_path / "fresh", resume=True, progress=False)


def test_resuming_with_another_config_is_an_error(finished_run):
    run_dir, _ = finished_run
    with pytest.raises(CheckpointError, match="hidden_dim"):
        train_nar(tiny.nar_train_config("hidden_dim=16"), run_dir, resume=True, progress=False)


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda path: path.write_bytes(b"not a checkpoint"), "not a readable"),
        (lambda path: torch.save({"weights": torch.zeros(2)}, path), "not a transnar"),
        (lambda path: path.write_bytes(b""), "not a readable"),
    ],
    ids=["garbage", "other-file", "empty"],
)
def test_bad_checkpoints_are_one_clear_error(tmp_path, write, message):
    path = tmp_path / "x.pt"
    write(path)
    with pytest.raises(CheckpointError, match=message):
        load_nar(path)


def test_checkpoints_of_another_format_version_or_model_are_refused(tmp_path, finished_run):
    run_dir, _ = finished_run
    best = read_nar_checkpoint(checkpoint_path(run_dir, "best"))
    payload = torch.load(checkpoint_path(run_dir, "best"), weights_only=True)
    payload["version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format version 99"):
        load_nar(tmp_path / "future.pt")
    other = apply_overrides(best["config"], ["hidden_dim=16"])
    save_nar_checkpoint(tmp_path / "mismatch.pt", other, 1, best["model"])
    with pytest.raises(CheckpointError, match="do not fit"):
        load_nar(tmp_path / "mismatch.pt")


def test_checkpoints_never_unpickle_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    torch.save({"format": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_nar(tmp_path / "evil.pt")


# Config.


def test_presets():
    paper = preset("paper")
    assert len(paper.nar.algorithms) == 30 and paper.nar.hidden_dim == 128
    assert paper.nar.processor == "triplet_gmpnn"
    t, d = paper.train, paper.data
    assert (d.train_sizes, d.test_sizes, t.steps, t.batch_size) == (
        (4, 7, 11, 13, 16),
        (64,),
        10_000,
        32,
    )
    assert (t.learning_rate, t.grad_clip, t.eval_every) == (1e-3, 1.0, 50)
    small = preset("small")
    assert small.nar.hidden_dim == 64 and small.data.train_sizes == (4, 7, 11)
    assert len({clrs.SPECS[a].family for a in small.nar.algorithms}) >= 4
    tiny_ = preset("tiny")
    assert len(tiny_.nar.algorithms) == 2 and tiny_.nar.hidden_dim == 16
    assert max(tiny_.data.train_sizes + tiny_.data.test_sizes) <= 8 and tiny_.train.steps == 300
    for name in PRESET_NAMES:
        assert NARTrainConfig.from_dict(json.loads(json.dumps(preset(name).to_dict()))) == preset(
            name
        )


def test_overrides_are_typed_by_field():
    config = apply_overrides(
        preset("tiny"),
        [
            "steps=7",
            "nar.hidden_dim=8",
            "data.train_sizes=4,5",
            "test_sizes=[9, 12]",
            "learning_rate=3e-4",
            "random_pos=false",
            "processor=mpnn",
            "algorithms=dfs, bfs",
        ],
    )
    assert config.train.steps == 7 and config.nar.hidden_dim == 8
    assert config.data.train_sizes == (4, 5) and config.data.test_sizes == (9, 12)
    assert config.train.learning_rate == 3e-4 and config.data.random_pos is False
    assert config.nar.processor == "mpnn" and config.nar.algorithms == ("dfs", "bfs")
    assert len(apply_overrides(config, ["algorithms=all"]).nar.algorithms) == 30
    assert apply_overrides(config, {"steps": 3}).train.steps == 3


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stepz=3", "unknown config key 'stepz'"),
        ("train.hidden_dim=3", "unknown config key 'train.hidden_dim'"),
        ("model.steps=3", "unknown config section 'model'"),
        ("steps", "KEY=VALUE"),
        ("steps=many", "train.steps must be an integer"),
        ("learning_rate=fast", "train.learning_rate must be a number"),
        ("random_pos=maybe", "data.random_pos must be true or false"),
        ("hidden_dim=0", "hidden_dim must be at least 1"),
        ("processor=transformer", "processor must be one of"),
        ("algorithms=bfz", "bfs"),
        ("train_sizes=4,1", "train_sizes must be integers >= 2"),
        ("grad_clip=-1", "grad_clip must be >= 0"),
        ("device=gpu", "device must be"),
        ("steps=0", "steps must be an integer >= 1"),
    ],
)
def test_bad_overrides_are_clear_errors(override, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        apply_overrides(preset("tiny"), [override])


def test_unknown_presets_and_config_keys():
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        preset("huge")
    with pytest.raises(ValueError, match="unknown train config key"):
        NARTrainConfig.from_dict({"nar": {}, "train": {"stepz": 1}})
    with pytest.raises(ValueError, match="unknown config section"):
        NARTrainConfig.from_dict({"nar": {}, "optim": {}})
    with pytest.raises(ValueError, match="CUDA is not available"):
        if torch.cuda.is_available():
            raise ValueError("CUDA is not available (skip)")
        train_nar(
            tiny.nar_train_config("device=cuda"), "/nonexistent/never-written", progress=False
        )


# Data.


def test_sampler_options_follow_the_reference():
    assert train_options("bfs", 16)["p"] == tuple(0.1 + 0.1 * i for i in range(9))
    assert train_options("bridges", 16)["p"][0] == 0.05
    assert "length_needle" not in train_options("bfs", 16)
    assert train_options("kmp_matcher", 20) == {"length_needle": -8}
    assert train_options("kmp_matcher", 17) == {"length_needle": -8}
    assert train_options("kmp_matcher", 13) == {"length_needle": -6}  # haystack > needle
    assert train_options("insertion_sort", 16) == {}
    assert train_sizes("naive_string_matcher", (4, 7, 16)) == (20,)
    assert (
        validation_size("kmp_matcher", (4, 7, 16)) == 20 and validation_size("bfs", (4, 16)) == 16
    )
    assert eval_count("minimum", 64, True) == 4096 and eval_count("minimum", 64, False) == 64
    assert eval_count("bfs", 64, True) == 64


def test_validation_and_test_seeds_are_disjoint_from_training():
    paper = preset("paper")
    config = paper.train
    for algorithm in clrs.CLRS30_ALGORITHMS:
        seeds = [derive_seed(config.seed, algorithm, "train", n) for n in paper.data.train_sizes]
        seeds += [derive_seed(config.seed, algorithm, "pos", 0)]
        seeds += [derive_seed(config.seed, algorithm, split, 16) for split in ("val", "test")]
        seeds += [derive_seed(config.seed, algorithm, "test", 64)]
        assert len(set(seeds)) == len(seeds) and all(0 <= s < 2**32 for s in seeds)
    assert derive_seed(1, "bfs", "val", 16) != derive_seed(2, "bfs", "val", 16)


def test_a_restored_stream_continues_with_the_same_batches():
    stream = TaskStream("naive_string_matcher", (4, 8), seed=3)
    other = TaskStream("naive_string_matcher", (4, 8), seed=3)
    stream.next_batch(2)
    state = json.loads(json.dumps(stream.state_dict()))  # plain values
    expected = [stream.next_batch(3) for _ in range(3)]
    other.load_state_dict(state)
    for a, b in zip(expected, (other.next_batch(3) for _ in range(3)), strict=True):
        for name in a.inputs:
            assert torch.equal(a.inputs[name], b.inputs[name]), name


def test_training_batches_have_random_pos_and_evaluation_batches_do_not():
    pos = TaskStream("bfs", (5,), seed=0).next_batch(2).inputs["pos"]
    plain = torch.arange(5, dtype=pos.dtype) / 5
    assert not torch.allclose(pos[0], plain) and torch.all(pos[:, 1:] >= pos[:, :-1])
    fixed = TaskStream("bfs", (5,), seed=0, random_pos=False).next_batch(2).inputs["pos"]
    assert torch.allclose(fixed[0], plain)
    (evaluation,) = evaluation_batches("bfs", 5, seed=0, count=2, batch_size=2)
    assert torch.allclose(evaluation.inputs["pos"], plain.expand(2, 5))


def test_streams_cycle_over_the_training_sizes():
    stream = TaskStream("bfs", (4, 7, 5), seed=0)
    assert [stream.next_batch(2).num_nodes for _ in range(4)] == [4, 7, 5, 4]


# Learning (slow): single-task bfs and insertion_sort learn on a CPU in minutes.
# Measured (300 steps, hidden 64, sizes 4, 7, 11, batch 16, one thread; about 40 s and
# 2 min on a shared 2-core machine): bfs 1.000 at n=11, 0.991 at n=44; insertion_sort
# 0.911 at n=11, 0.491 at n=44. Untrained NARs (seeds 0-2) score at most 0.38 / 0.31
# (bfs) and 0.20 / 0.03 (insertion_sort).


@pytest.mark.slow
@pytest.mark.parametrize(
    ("algorithm", "threshold_in", "threshold_ood"),
    [("bfs", 0.9, 0.8), ("insertion_sort", 0.7, 0.3)],
)
def test_single_task_learning(tmp_path, algorithm, threshold_in, threshold_ood):
    config = apply_overrides(preset("small"), [f"algorithms={algorithm}", "steps=300"])
    assert config.data.train_sizes == (4, 7, 11) and config.data.test_sizes == (44,)
    torch.manual_seed(config.train.seed)
    untrained = evaluate_nar(NAR(config.nar), config, sizes=[11, 44])["algorithms"][algorithm]
    result = train_nar(config, tmp_path, progress=False)
    trained = result.results["algorithms"][algorithm]
    scores = {size: trained["test"][size]["scores"]["score"] for size in ("11", "44")}
    before = {size: untrained["test"][size]["scores"]["score"] for size in ("11", "44")}
    print(f"{algorithm}: untrained {before}, trained {scores}")
    assert before["11"] < threshold_in and before["44"] < threshold_ood
    assert scores["11"] >= threshold_in and scores["44"] >= threshold_ood
