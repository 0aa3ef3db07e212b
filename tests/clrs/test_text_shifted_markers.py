"""Shifted index markers: the markers of a hinted example start further along the
alphabet (``format_example(..., marker_offset=k)``), for training rows drawn with
``shift_markers`` (the format with markers from ``a`` is tested in
``test_text_index_hints.py``; the pipeline's arms in ``tests/pipeline/test_index_hints.py``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from transnar import clrs
from transnar.clrs.text import format_example, parse_answer, parse_question, score_answer
from transnar.clrs.text.dataset_files import read_rows, write_dataset
from transnar.clrs.text.datasets import Split
from transnar.clrs.text.formatting import (
    INDEX_MARKERS,
    index_markers,
    marker_offset_of,
    without_index_hints,
)
from transnar.clrs.text.rows import (
    INDEX_HINT_COLUMNS,
    SHIFTED_MARKER_COLUMNS,
    examples,
    make_example,
    marker_shift,
)
from transnar.clrs.text.scoring import score_row


def _offsets(num_nodes: int) -> tuple[int, ...]:
    return (1, 17, len(INDEX_MARKERS) - num_nodes)  # the last: its last marker is Z


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_round_trip_at_every_offset(algorithm):
    """Question -> the same inputs as from ``a``; the answer parses to the same
    values and scores 1 against itself; only the letters move."""
    (trajectory,) = clrs.sample(algorithm, 6, 6, 1, truncate_decimals=3)
    for use_hints in (False, True):
        question, answer = format_example(trajectory, use_hints, index_hints=True)
        _, inputs = parse_question(question)
        from_a = parse_answer(algorithm, answer, use_hints, index_hints=True)
        for offset in _offsets(trajectory.num_nodes):
            shifted_q, shifted_a = format_example(
                trajectory, use_hints, index_hints=True, marker_offset=offset
            )
            assert without_index_hints(shifted_q + shifted_a) == without_index_hints(
                question + answer
            )
            assert index_markers(shifted_q)[0][0] == INDEX_MARKERS[offset]
            assert marker_offset_of(shifted_q) == offset
            name, shifted_inputs = parse_question(shifted_q)  # the offset is detected
            assert name == algorithm and list(shifted_inputs) == list(inputs)
            for key, value in inputs.items():
                np.testing.assert_array_equal(shifted_inputs[key], value, err_msg=key)
            parsed = parse_answer(algorithm, shifted_a, use_hints, True, marker_offset=offset)
            assert (parsed.ok, parsed.values, parsed.trace) == (True, from_a.values, from_a.trace)
            scores = score_answer(algorithm, shifted_a, shifted_a, use_hints, index_hints=True)
            assert (scores.parse, scores.shape, scores.clrs) == (1.0, 1.0, 1.0)
            if index_markers(answer):  # markers from a do not answer a shifted question
                wrong = score_answer(algorithm, answer, shifted_a, use_hints, index_hints=True)
                assert wrong.parse == 0.0


def test_a_shifted_example():
    (trajectory,) = clrs.sample("insertion_sort", 4, 0, 1, truncate_decimals=3)
    question, answer = format_example(trajectory, index_hints=True, marker_offset=3)
    assert question == "insertion_sort:\nkey: [d0.548 e0.715 f0.602 g0.544]\npred:\n"
    assert answer == "[d0.544 e0.548 f0.602 g0.715]\n\n"
    (graph,) = clrs.sample("floyd_warshall", 3, 0, 1, truncate_decimals=3)
    question, _ = format_example(graph, index_hints=True, marker_offset=24)
    assert question == (  # row markers y, z, A; column markers the same
        "floyd_warshall:\nA: [[yy0.384 yz0.671 yA0.0], [zy0.671 zz0.0 zA0.049], "
        "[Ay0.0 Az0.049 AA0.833]]\nPi:\n"
    )
    assert marker_offset_of("pred:\n3\n\n") == 0  # no markers


def test_offsets_past_the_markers_or_without_hints_are_refused():
    (trajectory,) = clrs.sample("insertion_sort", 4, 0, 1)
    format_example(trajectory, index_hints=True, marker_offset=48)  # markers W..Z
    with pytest.raises(ValueError, match="at most 3 elements from marker 49 on"):
        format_example(trajectory, index_hints=True, marker_offset=49)
    with pytest.raises(ValueError, match="needs index_hints=True"):
        format_example(trajectory, marker_offset=2)
    with pytest.raises(ValueError, match="marker_offset must be an integer >= 0"):
        format_example(trajectory, index_hints=True, marker_offset=-1)
    for offset in (-1, 52, 1.5, True):  # never a silent slice of the markers
        with pytest.raises(ValueError, match="marker_offset must be an integer from 0 to 51"):
            parse_answer("insertion_sort", "[a1]", index_hints=True, marker_offset=offset)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("insertion_sort:\nkey: [d0.5 e0.7 g0.6]\npred:\n", "expected the index marker 'f'"),
        ("insertion_sort:\nkey: [d0.5 e0.7 0.6]\npred:\n", "expected the index marker 'f'"),
        ("insertion_sort:\nkey: [Y0.5 Z0.7 a0.6]\npred:\n", "more than 2 elements"),
        (
            "floyd_warshall:\nA: [[dd0.1 de0.2], [ed0.3 ff0.4]]\nPi:\n",
            "expected the index marker 'ee'",
        ),
    ],
)
def test_a_wrong_marker_in_a_shifted_question_raises(question, message):
    with pytest.raises(ValueError, match=message):
        parse_question(question)


def test_each_row_draws_its_own_offset():
    rows = [row for row, _ in examples("bfs", 5, 1, 40, index_hints=True, shift_markers=True)]
    offsets = [row["marker_offset"] for row in rows]
    assert all(tuple(row) == SHIFTED_MARKER_COLUMNS for row in rows)
    assert all(0 <= k <= len(INDEX_MARKERS) - 5 for k in offsets)
    assert len(set(offsets)) > 20  # drawn, not fixed
    for row, offset in zip(rows, offsets, strict=True):
        assert marker_offset_of(row["question"]) == offset == marker_offset_of(row["answer"])
        assert offset == marker_shift("bfs", 5, 1, row["index"], 5)
    plain = [row for row, _ in examples("bfs", 5, 1, 40, index_hints=True)]
    for row, hinted in zip(rows, plain, strict=True):  # the same instances, shifted
        assert without_index_hints(row["text"]) == without_index_hints(hinted["text"])
    assert make_example("bfs", 5, 1, 7, index_hints=True, shift_markers=True) == rows[7]
    # the offset is a function of the row's identity alone
    assert marker_shift("bfs", 5, 1, 7, 5) == marker_shift("bfs", 5, 1, 7, 5)
    assert {marker_shift("bfs", 5, seed, 0, 5) for seed in range(30)} != {offsets[0]}


def test_every_marker_is_seen_at_small_sizes():
    letters = {
        letter
        for row, _ in examples("insertion_sort", 4, 0, 200, index_hints=True, shift_markers=True)
        for marker in index_markers(row["question"])
        for letter in marker
    }
    assert letters == set(INDEX_MARKERS)


def test_shift_markers_needs_index_hints():
    with pytest.raises(ValueError, match="shift_markers shifts index markers"):
        examples("bfs", 5, 1, 2, shift_markers=True)
    with pytest.raises(ValueError, match="shift_markers must be True or False"):
        examples("bfs", 5, 1, 2, index_hints=True, shift_markers="yes")


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_a_dataset_with_shifted_markers(tmp_path, file_format):
    if file_format == "parquet":
        pytest.importorskip("pyarrow")
    split = Split("train", {"bfs": (5,), "minimum": (6,)}, (0,), 3)
    manifest = write_dataset(
        tmp_path, [split], index_hints=True, shift_markers=True, file_format=file_format
    )
    assert manifest["options"]["shift_markers"] is True
    assert manifest["columns"] == list(SHIFTED_MARKER_COLUMNS)
    rows = list(read_rows(tmp_path / f"train.{file_format}"))
    assert len(rows) == 6 and [list(row) for row in rows] == [manifest["columns"]] * 6
    assert all(marker_offset_of(row["question"]) == row["marker_offset"] for row in rows)
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    hinted = write_dataset(tmp_path / "hinted", [split], index_hints=True)
    assert "shift_markers" not in hinted["options"]
    assert hinted["columns"] == list(INDEX_HINT_COLUMNS)


def test_scoring_rows_with_shifted_markers():
    row = make_example("floyd_warshall", 5, 3, 2, index_hints=True, shift_markers=True)
    assert row["marker_offset"] > 0
    right, from_a = (
        {"prediction": row["answer"]},
        make_example("floyd_warshall", 5, 3, 2, index_hints=True),
    )
    assert score_row({**row, **right}).scores.clrs == 1.0  # the truth is the row's answer
    assert score_row({"question": row["question"], **right}).scores.clrs == 1.0  # rebuilt
    coordinates = {key: row[key] for key in ("algo_name", "length", "seed", "index", "index_hints")}
    assert (
        score_row({**coordinates, "marker_offset": row["marker_offset"], **right}).scores.clrs == 1
    )
    assert score_row({**coordinates, **right}).scores.parse == 0.0  # from a, without its offset
    assert score_row({**coordinates, "prediction": from_a["answer"]}).scores.clrs == 1.0
    with pytest.raises(ValueError, match="'marker_offset' must be a non-negative integer"):
        score_row({**coordinates, **right, "marker_offset": -2})
