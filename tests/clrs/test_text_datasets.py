"""CLRS-Text datasets: rows paired with trajectories, presets, files."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from tests.reference import REFERENCE_PYTHON, job_name, requires_reference
from transnar import __version__, clrs
from transnar.clrs.io import load_trajectories
from transnar.clrs.text import format_example
from transnar.clrs.text.dataset_files import graph_path, read_rows, write_dataset, write_rows
from transnar.clrs.text.datasets import (
    CLRS_TEXT_TEST_SEEDS,
    PRESETS,
    TRANSNAR_REGIMES,
    Split,
    check_disjoint,
    get_preset,
    split_examples,
)
from transnar.clrs.text.rows import (
    COLUMNS,
    examples,
    make_example,
    trajectory_of,
    with_trajectories,
)
from transnar.persistence import OutputExistsError

TINY = [
    Split("train", {"bfs": (4, 5), "insertion_sort": (4,)}, (0,), 3),
    Split("test", {"bfs": (6,), "insertion_sort": (6,)}, (2, 3), 2),
]


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_rows_render_their_own_trajectory(algorithm):
    expected = clrs.sample(algorithm, 5, seed=1, count=2, truncate_decimals=3)
    pairs = list(examples(algorithm, 5, 1, 2, use_hints=algorithm != "bfs"))
    for index, ((row, trajectory), same) in enumerate(zip(pairs, expected, strict=True)):
        assert tuple(row) == COLUMNS
        assert trajectory.equals(same)
        question, answer = format_example(trajectory, use_hints=algorithm != "bfs")
        assert (row["question"], row["answer"], row["text"]) == (
            question,
            answer,
            question + answer,
        )
        assert row["algo_name"] == algorithm and row["length"] == 5
        assert (row["seed"], row["index"], row["truncate_decimals"]) == (1, index, 3)


@pytest.mark.parametrize(
    ("algorithm", "use_hints", "float_format", "truncate_decimals"),
    [
        ("dijkstra", False, "default", 3),
        ("heapsort", True, "default", 3),
        ("optimal_bst", False, "legacy", None),
        ("kmp_matcher", True, "legacy", None),
    ],
)
def test_make_example_equals_the_streamed_row(
    algorithm, use_hints, float_format, truncate_decimals
):
    options = {
        "use_hints": use_hints,
        "float_format": float_format,
        "truncate_decimals": truncate_decimals,
    }
    streamed = [row for row, _ in examples(algorithm, 7, 11, 5, **options)]
    for index in (0, 4):
        assert make_example(algorithm, 7, 11, index, **options) == streamed[index]
    assert [row for row, _ in examples(algorithm, 7, 11, 2, start=3, **options)] == streamed[3:]


def test_trajectory_of_redraws_the_instance():
    pairs = list(examples("floyd_warshall", 6, 5, 3, truncate_decimals=None))
    for row, trajectory in pairs:
        assert trajectory_of(row).equals(trajectory)
    row = dict(pairs[2][0])
    del row["truncate_decimals"]  # the default, 3
    assert trajectory_of(row).equals(clrs.sample("floyd_warshall", 6, 5, 3, 3)[2])
    with pytest.raises(ValueError, match="row has no seed, index"):
        trajectory_of({"algo_name": "bfs", "length": 4, "question": "..."})


def test_with_trajectories_pairs_rows_in_any_order():
    pairs = [pair for split in TINY for pair in split_examples(split, truncate_decimals=None)]
    order = [5, 0, 1, 14, 2, 3, 0, 9, 8, 13, 12]  # forwards, backwards, repeated
    rows = [pairs[i][0] for i in order]
    for (row, trajectory), i in zip(with_trajectories(rows), order, strict=True):
        assert row is pairs[i][0] and trajectory.equals(pairs[i][1])


def test_rows_are_json_types_even_from_numpy_integers():
    import numpy as np

    row = make_example("minimum", np.int64(4), np.int64(2), np.int64(1))
    assert json.loads(json.dumps(row)) == row
    assert type(row["length"]) is int and type(row["index"]) is int


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"float_format": "pretty"}, "float_format must be one of"),
        ({"use_hints": 1}, "use_hints must be True or False"),
        ({"count": -1}, "count must be a non-negative integer"),
        ({"start": 1.5}, "start must be a non-negative integer"),
        ({"algorithm": "bfz"}, "did you mean 'bfs'"),
        ({"size": 1}, "size of bfs must be"),
        ({"truncate_decimals": 99}, "truncate_decimals must be"),
    ],
)
def test_bad_arguments_fail_at_the_call(kwargs, message):
    arguments = {"algorithm": "bfs", "size": 4, "seed": 0, "count": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        examples(**arguments)  # not only at the first next()


def test_transnar_preset_is_the_paper_protocol():
    preset = get_preset("transnar")
    assert list(preset) == ["train", "val", "test"]
    train, val, test = preset.values()
    for split in preset.values():
        assert list(split.sizes) == list(clrs.CLRS30_ALGORITHMS)
    assert set(train.sizes.values()) == {(4, 5, 6, 7, 8, 12)}
    assert set(val.sizes.values()) == {(4, 5, 6, 7, 8, 12)}
    assert set(test.sizes.values()) == {(10, 12, 14)}
    assert dict(TRANSNAR_REGIMES) == {
        10: "ood-interpolation",
        12: "in-distribution",
        14: "ood-extrapolation",
    }
    assert (train.seeds, val.seeds, test.seeds) == ((0,), (1,), (2,))
    # 10,000 instances per algorithm and size, 70% train / 30% validation.
    assert (train.count, val.count, test.count) == (7_000, 3_000, 3_000)
    assert train.num_rows == 1_260_000


def test_clrs_text_preset_is_the_reference_protocol():
    train, test = get_preset("clrs-text").values()
    assert (train.name, train.seeds, train.count) == ("train", (0,), 10_000)
    assert (test.name, test.seeds, test.count) == ("test", (3, 14, 35, 81, 94), 125)
    assert test.seeds == CLRS_TEXT_TEST_SEEDS
    ladder = (4, 5, 10, 11, 12, 15, 19, 23, 28, 31)
    assert train.sizes["bfs"] == ladder and train.sizes["bridges"] == (4, 5)
    assert train.sizes["dijkstra"] == ladder[:-1] and train.sizes["jarvis_march"] == ladder[:5]
    assert train.sizes["strongly_connected_components"] == ladder[:6]
    assert train.sizes["floyd_warshall"] == (4, 5, 10)
    largest = {"binary_search": 64, "bfs": 41, "activity_selector": 40, "bellman_ford": 32}
    largest |= {"graham_scan": 31, "mst_prim": 26, "insertion_sort": 25, "dfs": 20}
    largest |= {"strongly_connected_components": 16, "heapsort": 11, "bridges": 7}
    for algorithm, top in largest.items():
        assert test.sizes[algorithm] == tuple(range(4, top + 1)), algorithm
    assert train.num_rows == 2_150_000 and test.num_rows == 514_375
    assert sorted(train.sizes) == sorted(test.sizes) == sorted(clrs.CLRS30_ALGORITHMS)


@pytest.mark.parametrize("name", list(PRESETS))
def test_evaluation_seeds_are_disjoint_from_training_seeds(name):
    splits = get_preset(name)
    check_disjoint(splits.values())
    training = set(splits["train"].seeds)
    for split in splits.values():
        assert split.name == "train" or not training & set(split.seeds)


def test_overlapping_splits_are_refused():
    train = get_preset("transnar")["train"]
    with pytest.raises(ValueError, match="splits train and test both draw"):
        check_disjoint([train, get_preset("transnar")["test"].replace(seeds=[0])])
    with pytest.raises(ValueError, match="unknown preset 'paper'"):
        get_preset("paper")


def test_split_replace_and_validation():
    split = get_preset("clrs-text")["test"].replace(
        algorithms=["dfs", "bfs"], sizes=[5, 4, 5], seeds=[9], count=2
    )
    assert dict(split.sizes) == {"dfs": (4, 5), "bfs": (4, 5)}
    assert list(split.groups()) == [("dfs", 4, 9), ("dfs", 5, 9), ("bfs", 4, 9), ("bfs", 5, 9)]
    assert split.num_rows == 8
    with pytest.raises(ValueError, match="did you mean 'bfs'"):
        split.replace(algorithms=["bfz"])
    with pytest.raises(ValueError, match="split test has no minimum"):
        split.replace(algorithms=["minimum"])
    for bad, message in [
        ({"seeds": (1, 1)}, "seeds must be distinct"),
        ({"count": 0}, "count must be at least 1"),
        ({"sizes": {"bfs": ()}}, "no sizes for bfs"),
        ({"name": "a/b"}, "split name must be"),
    ]:
        fields = {"name": "x", "sizes": {"bfs": (4,)}, "seeds": (0,), "count": 1, **bad}
        with pytest.raises(ValueError, match=message):
            Split(**fields)


def test_jsonl_round_trip_manifest_and_determinism(tmp_path):
    manifest = write_dataset(tmp_path / "a", TINY, preset="tiny")
    write_dataset(tmp_path / "b", TINY, preset="tiny")
    for name in ("train.jsonl", "test.jsonl", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    for split in TINY:
        path = tmp_path / "a" / f"{split.name}.jsonl"
        expected = [row for row, _ in split_examples(split)]
        assert list(read_rows(path)) == expected
        assert len(path.read_text().splitlines()) == split.num_rows == len(expected)
        entry = manifest["splits"][split.name]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["rows"] == split.num_rows and entry["seeds"] == list(split.seeds)
    on_disk = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["preset"] == "tiny" and manifest["transnar_version"] == __version__
    assert manifest["options"] == {
        "use_hints": False,
        "float_format": "default",
        "truncate_decimals": 3,
    }
    assert manifest["splits"]["test"]["sizes"] == {"bfs": [6], "insertion_sort": [6]}
    # Rows are grouped: algorithm, size, seed, index.
    keys = [(r["algo_name"], r["length"], r["seed"], r["index"]) for r in read_rows(path)]
    assert keys[:3] == [("bfs", 6, 2, 0), ("bfs", 6, 2, 1), ("bfs", 6, 3, 0)]


def test_graphs_pair_with_the_rows(tmp_path):
    manifest = write_dataset(tmp_path, TINY, with_graphs=True, use_hints=True)
    assert manifest["splits"]["train"]["graphs"] == {
        "files": 3,
        "pattern": "graphs/train/{algorithm}-{size}.npz",
    }
    rows = [r for r in read_rows(tmp_path / "test.jsonl") if r["algo_name"] == "bfs"]
    trajectories, meta = load_trajectories(graph_path(tmp_path, "test", "bfs", 6))
    assert (meta["split"], meta["size"], meta["seeds"], meta["count_per_seed"]) == (
        "test",
        6,
        [2, 3],
        2,
    )
    assert len(trajectories) == len(rows) == 4
    for row, trajectory in zip(rows, trajectories, strict=True):
        assert format_example(trajectory, use_hints=True) == (row["question"], row["answer"])
        assert trajectory.equals(trajectory_of(row))


def test_existing_files_are_kept(tmp_path):
    (tmp_path / "test.jsonl").write_text("precious")
    with pytest.raises(OutputExistsError, match=r"test\.jsonl"):
        write_dataset(tmp_path, TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.jsonl"]
    assert (tmp_path / "test.jsonl").read_text() == "precious"
    write_dataset(tmp_path, TINY, overwrite=True)
    assert len(list(read_rows(tmp_path / "test.jsonl"))) == TINY[1].num_rows


def test_a_failed_write_leaves_no_file(tmp_path):
    def rows():
        yield make_example("bfs", 4, 0, 0)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_rows(tmp_path / "x.jsonl", rows())
    assert list(tmp_path.iterdir()) == []


def test_bad_datasets_are_refused_before_writing(tmp_path):
    with pytest.raises(ValueError, match="size of bfs must be"):
        write_dataset(tmp_path, [Split("train", {"bfs": (1,)}, (0,), 1)])
    with pytest.raises(ValueError, match="distinct names"):
        write_dataset(tmp_path, [TINY[0], TINY[0]])
    with pytest.raises(ValueError, match="file format must be one of"):
        write_dataset(tmp_path, TINY, file_format="csv")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: not a JSON line"):
        list(read_rows(tmp_path / "bad.jsonl"))


def test_parquet_round_trip_and_determinism(tmp_path):
    pytest.importorskip(
        "pyarrow", reason="pyarrow is not installed (pip install transnar[parquet])"
    )
    write_dataset(tmp_path / "a", TINY, file_format="parquet", truncate_decimals=None)
    write_dataset(tmp_path / "b", TINY, file_format="parquet", truncate_decimals=None)
    path = tmp_path / "a" / "train.parquet"
    assert path.read_bytes() == (tmp_path / "b" / "train.parquet").read_bytes()
    expected = [row for row, _ in split_examples(TINY[0], truncate_decimals=None)]
    assert list(read_rows(path)) == expected
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    assert schema.names == list(COLUMNS)
    assert str(schema.field("length").type) == "int32"


def test_parquet_without_pyarrow_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match=r"pip install 'transnar\[parquet\]'"):
        write_dataset(tmp_path, TINY, file_format="parquet")
    assert list(tmp_path.iterdir()) == []


# The reference's Hugging Face generator, given one (algorithm, length), draws
# that sampler one instance at a time: its rows must be ours, column for column.
_HF_SCRIPT = """
import json, sys
from clrs._src.clrs_text import huggingface_generators as hf
jobs = json.load(open(sys.argv[1]))
out = []
for job in jobs:
    rows = hf.clrs_generator({job["algorithm"]: [job["size"]]}, num_samples=job["count"],
                             use_hints=job["use_hints"], seed=job["seed"])
    out.append(list(rows))
json.dump(out, open(sys.argv[2], "w"))
"""


@pytest.mark.reference
@requires_reference
def test_rows_equal_the_reference_hugging_face_generator(reference_cache):
    jobs = [
        {"algorithm": algorithm, "size": size, "seed": seed, "count": 3, "use_hints": hints}
        for algorithm in clrs.CLRS30_ALGORITHMS
        for size, seed, hints in [(5, 0, False), (8, 3, True)]
    ]
    dump = reference_cache / f"hf-{job_name({'jobs': jobs, 'script': _HF_SCRIPT})}.json"
    if not dump.exists():
        jobs_file = reference_cache / "hf-jobs.json"
        jobs_file.write_text(json.dumps(jobs))
        result = subprocess.run(
            [REFERENCE_PYTHON, "-c", _HF_SCRIPT, str(jobs_file), str(dump) + ".partial"],
            capture_output=True,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        os.replace(str(dump) + ".partial", dump)
    for job, reference_rows in zip(jobs, json.loads(dump.read_text()), strict=True):
        ours = examples(job["algorithm"], job["size"], job["seed"], job["count"], job["use_hints"])
        for (row, _), reference in zip(ours, reference_rows, strict=True):
            assert {k: row[k] for k in reference} == reference, job
