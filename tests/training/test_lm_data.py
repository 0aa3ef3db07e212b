"""The paired data pipeline: tokens and labels, homogeneous shuffled batches with a
resumable position, NAR features and cached memory, random positions, sources."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests import tiny
from transnar import clrs
from transnar.clrs.text.dataset_files import write_dataset
from transnar.clrs.text.datasets import Split
from transnar.lm import IGNORE_INDEX, CharTokenizer
from transnar.nar.features import Features
from transnar.nar.memory import GraphMemory
from transnar.training.lm_batches import (
    BatchSampler,
    cache_memory,
    fixed_batches,
    training_positions,
)
from transnar.training.lm_data import DataConfig, build_dataset, generate_pairs, read_pairs
from transnar.training.lm_dataset import MemoryCache, PairedDataset

ALGORITHMS = ("bfs", "insertion_sort")


@pytest.fixture(scope="module")
def tokenizer() -> CharTokenizer:
    return CharTokenizer()


def small_data(**overrides) -> DataConfig:
    options = {
        "algorithms": ALGORITHMS,
        "train_sizes": (4, 5),
        "train_count": 10,
        "val_count": 3,
        "test_sizes": (6,),
        "test_count": 2,
    }
    return DataConfig(**{**options, **overrides})


@pytest.fixture(scope="module")
def dataset(tokenizer) -> PairedDataset:
    return build_dataset(small_data(), "train", tokenizer, with_graphs=True)


# --- examples and batches ---------------------------------------------------------


def test_examples_are_the_split_rows_tokenised_with_answer_only_labels(dataset, tokenizer):
    pairs = list(generate_pairs(small_data(), "train"))
    assert len(dataset) == len(pairs) == 2 * 2 * 10 and dataset.trajectories is not None
    for i, (row, trajectory) in enumerate(pairs):
        assert dataset.example(i) == tokenizer.encode_example(row["question"], row["answer"])
        assert (dataset.algorithms[i], dataset.sizes[i]) == (row["algo_name"], row["length"])
        assert (dataset.seeds[i], dataset.indices[i]) == (row["seed"], row["index"])
        assert dataset.trajectories[i] is not None
        assert trajectory.algorithm == row["algo_name"]
    assert set(dataset.groups) == {(a, n) for a in ALGORITHMS for n in (4, 5)}
    assert dataset.num_targets == sum(len(r["answer"]) for r, _ in pairs)


def test_a_batch_pads_on_the_right_and_masks_the_prompt(dataset, tokenizer):
    indices = dataset.groups[("bfs", 5)][:3]
    batch = dataset.batch(indices)
    assert (batch.algorithm, batch.size) == ("bfs", 5)
    assert batch.input_ids.shape == batch.labels.shape == batch.attention_mask.shape
    for row, index in enumerate(indices):
        ids, labels = dataset.example(index)
        n = len(ids)
        assert batch.input_ids[row, :n].tolist() == ids
        assert batch.labels[row, :n].tolist() == labels
        assert batch.attention_mask[row, :n].all() and not batch.attention_mask[row, n:].any()
        assert (batch.input_ids[row, n:] == tokenizer.pad_id).all()
        assert (batch.labels[row, n:] == IGNORE_INDEX).all()
        # the labels are exactly the answer: the prompt (<bos> + question) is masked
        answer = tokenizer.decode([t for t in batch.labels[row].tolist() if t != IGNORE_INDEX])
        question = tokenizer.decode(batch.input_ids[row, : int(dataset.prompt_lengths[index])])
        assert question.startswith("bfs:\n") and question.endswith("pi:\n")
        assert answer.endswith("\n\n") and question + answer == tokenizer.decode(ids)
    assert batch.num_targets == sum(int((batch.labels[r] != IGNORE_INDEX).sum()) for r in range(3))
    assert batch.num_tokens == int(dataset.lengths[indices].sum())


def test_a_batch_must_hold_one_algorithm_and_size(dataset):
    mixed = [dataset.groups[("bfs", 4)][0], dataset.groups[("bfs", 5)][0]]
    with pytest.raises(ValueError, match="one \\(algorithm, size\\)"):
        dataset.batch(mixed)


def test_batches_are_homogeneous_and_cover_every_example_once_per_epoch(dataset):
    sampler = BatchSampler(dataset.groups, dataset.lengths, batch_size=3, seed=7, bucket_batches=2)
    assert sampler.batches_per_epoch == 4 * 4  # ceil(10 / 3) per group
    for epoch in range(3):
        batches = [next(sampler) for _ in range(sampler.batches_per_epoch)]
        assert sampler.state_dict() == {"epoch": epoch + 1, "position": 0}
        assert sorted(np.concatenate(batches).tolist()) == list(range(len(dataset)))
        for batch in batches:
            assert 1 <= len(batch) <= 3
            assert len({(dataset.algorithms[i], dataset.sizes[i]) for i in batch}) == 1
    # groups are mixed in the order, and each epoch is shuffled anew
    first, second = sampler.epoch_batches(0), sampler.epoch_batches(1)
    assert [b.tolist() for b in first] != [b.tolist() for b in second]
    keys = [(dataset.algorithms[b[0]], dataset.sizes[b[0]]) for b in first]
    assert keys != sorted(keys)


def test_the_order_is_a_function_of_the_seed_and_epoch(dataset):
    def order(seed, epoch):
        sampler = BatchSampler(dataset.groups, dataset.lengths, 3, seed)
        return [b.tolist() for b in sampler.epoch_batches(epoch)]

    np.random.seed(1)
    a = order(5, 2)
    np.random.seed(2)
    assert order(5, 2) == a and order(6, 2) != a


def test_a_restored_sampler_continues_with_the_same_batches(dataset):
    sampler = BatchSampler(dataset.groups, dataset.lengths, 4, seed=3)
    for _ in range(sampler.batches_per_epoch + 5):  # into the second epoch
        next(sampler)
    state = sampler.state_dict()
    expected = [next(sampler).tolist() for _ in range(sampler.batches_per_epoch)]
    restored = BatchSampler(dataset.groups, dataset.lengths, 4, seed=3)
    restored.load_state_dict(state)
    assert [next(restored).tolist() for _ in range(len(expected))] == expected
    with pytest.raises(ValueError, match="does not fit"):
        restored.load_state_dict({"epoch": 0, "position": 10_000})


def test_length_buckets_keep_padding_low(tokenizer):
    # with traces, lengths within a group vary: sorted buckets pad less than none
    data = small_data(algorithms=("insertion_sort",), train_sizes=(6,), train_count=64)
    dataset = build_dataset(
        DataConfig(**{**data.__dict__, "use_hints": True}), "train", tokenizer, False
    )

    def padding(bucket_batches):
        sampler = BatchSampler(dataset.groups, dataset.lengths, 8, 0, bucket_batches)
        return sum(
            len(b) * int(dataset.lengths[b].max()) - int(dataset.lengths[b].sum())
            for b in sampler.epoch_batches(0)
        )

    assert padding(8) < padding(1)


def test_validation_batches_are_fixed_and_cover_the_set_once(dataset):
    batches = fixed_batches(dataset, 4)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(dataset)))
    assert [b.tolist() for b in batches] == [b.tolist() for b in fixed_batches(dataset, 4)]


# --- graphs -----------------------------------------------------------------------


def test_the_memory_of_a_batch_is_the_nar_embedding_of_its_instances(dataset):
    model = tiny.transnar()
    for key in (("bfs", 5), ("insertion_sort", 4)):
        indices = dataset.groups[key][:4]
        batch = dataset.batch(indices)
        assert batch.features.algorithm == key[0] and batch.features.batch_size == 4
        memory = model.graph_memory(batch.features)
        nodes, edges = memory.at_layer(0, 2, "final")
        for row, index in enumerate(indices):
            features = Features.from_trajectories([dataset.trajectories[index]])
            output = model.nar.embed(features, steps=model.config.nar_steps)
            alone = GraphMemory.from_output(output, features.node_mask)
            alone_nodes, alone_edges = alone.at_layer(0, 2, "final")
            torch.testing.assert_close(nodes[row], alone_nodes[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(edges[row], alone_edges[0], atol=1e-5, rtol=1e-5)
            assert int(memory.steps[row]) == int(alone.steps[0])


@pytest.mark.parametrize("mode", ["final", "lockstep"])
def test_cached_memory_equals_the_memory_computed_on_the_fly(tokenizer, mode):
    dataset = build_dataset(small_data(train_count=6), "train", tokenizer, with_graphs=True)
    model = tiny.transnar(memory=mode)
    on_the_fly = {}
    sampler = BatchSampler(dataset.groups, dataset.lengths, 4, seed=0)
    batches = sampler.epoch_batches(0)
    for indices in batches:
        on_the_fly[tuple(indices.tolist())] = model.graph_memory(dataset.batch(indices).features)
    cache = cache_memory(dataset, model, batch_size=5)
    assert isinstance(cache, MemoryCache) and len(cache) == len(dataset)
    for indices in batches:
        batch = dataset.batch(indices)
        assert batch.features is None and batch.memory is not None
        expected = on_the_fly[tuple(indices.tolist())]
        torch.testing.assert_close(batch.memory.steps, expected.steps)
        torch.testing.assert_close(batch.memory.node_mask, expected.node_mask)
        torch.testing.assert_close(batch.memory.edge_mask, expected.edge_mask)
        for layer in range(2):
            for got, want in zip(
                batch.memory.at_layer(layer, 2, mode),
                expected.at_layer(layer, 2, mode),
                strict=True,
            ):
                torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_without_graphs_batches_carry_no_features(tokenizer):
    dataset = build_dataset(small_data(), "val", tokenizer, with_graphs=False)
    assert dataset.trajectories is None and len(dataset) == 2 * 2 * 3
    assert dataset.batch(dataset.groups[("bfs", 4)]).features is None
    assert set(dataset.seeds.tolist()) == {1}  # the validation seed


# --- positions --------------------------------------------------------------------


def test_training_positions_are_random_sorted_and_only_on_real_tokens():
    mask = torch.zeros(3, 10, dtype=torch.bool)
    for row, n in enumerate((10, 4, 7)):
        mask[row, :n] = True
    generator = torch.Generator().manual_seed(0)
    positions = training_positions(mask, 64, generator)
    assert positions.shape == (3, 10) and positions.dtype == torch.long
    for row, n in enumerate((10, 4, 7)):
        real = positions[row, :n]
        assert (real.diff() > 0).all() and (real >= 0).all() and (real < 64).all()
        assert (positions[row, n:] == 0).all()
    assert not torch.equal(positions[0, :4], positions[1, :4])
    again = training_positions(mask, 64, torch.Generator().manual_seed(0))
    assert torch.equal(positions, again)


# --- sources and config -----------------------------------------------------------


def test_rows_and_graphs_read_from_a_text_dataset_directory(tmp_path, tokenizer):
    data = small_data(train_count=4, val_count=2)
    splits = data.splits()
    write_dataset(tmp_path / "with", [splits["train"]], with_graphs=True)
    write_dataset(tmp_path / "without", [splits["train"]])
    expected = list(generate_pairs(data, "train"))
    for directory in ("with", "without"):
        pairs = list(read_pairs(tmp_path / directory, "train"))
        assert [r["text"] for r, _ in pairs] == [r["text"] for r, _ in expected]
        for (_, got), (_, want) in zip(pairs, expected, strict=True):
            clrs_inputs = [np.asarray(v) for v in want.inputs.values()]
            for a, b in zip(got.inputs.values(), clrs_inputs, strict=True):
                np.testing.assert_array_equal(a, b)
            assert got.length == want.length
    only_bfs = list(read_pairs(tmp_path / "with", "train", algorithms=["bfs"], with_graphs=False))
    assert {r["algo_name"] for r, _ in only_bfs} == {"bfs"} and only_bfs[0][1] is None
    from_files = build_dataset(
        DataConfig(**{**data.__dict__, "path": str(tmp_path / "with")}), "train", tokenizer, True
    )
    assert len(from_files) == len(expected)
    with pytest.raises(ValueError, match="has no val split"):
        list(read_pairs(tmp_path / "with", "val"))


def test_long_examples_are_an_error_or_dropped(tokenizer):
    with pytest.raises(ValueError, match="more than the model's max_position 40"):
        build_dataset(small_data(), "train", tokenizer, False, max_position=40)
    data = DataConfig(**{**small_data().__dict__, "max_tokens": 80})
    dataset = build_dataset(data, "train", tokenizer, False, max_position=256)
    assert dataset.lengths.max() <= 80 and dataset.dropped > 0
    assert len(dataset) + dataset.dropped == 40


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"algorithms": ("bfz",)}, "bfs"),
        ({"algorithms": ()}, "at least one algorithm"),
        ({"train_sizes": (1, 4)}, "train_sizes must be integers >= 2"),
        ({"train_count": 0}, "train_count must be an integer >= 1"),
        ({"val_seed": 0}, "would share instances"),
        ({"float_format": "fancy"}, "float_format must be one of"),
        ({"truncate_decimals": -1}, "truncate_decimals"),
        ({"max_tokens": 1}, "max_tokens"),
    ],
)
def test_data_config_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        small_data(**overrides)


def test_data_config_splits_follow_the_text_presets():
    splits = small_data().splits()
    assert splits["train"] == Split("train", dict.fromkeys(ALGORITHMS, (4, 5)), (0,), 10)
    assert splits["val"].sizes["bfs"] == (4, 5) and splits["val"].seeds == (1,)
    assert splits["test"].sizes["bfs"] == (6,) and splits["test"].seeds == (2,)
    # the split's rows are the stream of transnar.clrs.sample
    _row, trajectory = next(iter(generate_pairs(small_data(), "train")))
    (sampled,) = clrs.sample("bfs", 4, 0, 1, truncate_decimals=3)
    np.testing.assert_array_equal(trajectory.inputs["adj"], sampled.inputs["adj"])
