"""The report's section on the index markers of hinted answers
(:mod:`transnar.pipeline.report.markers`); the end-to-end report of a hinted run is
in ``tests/pipeline/test_index_hints.py``."""

from __future__ import annotations

import pytest

from transnar.clrs.text.formatting import index_markers
from transnar.clrs.text.rows import make_example
from transnar.pipeline.report.markers import EXTRA, first_wrong_marker, marker_tallies

TRUTH = "[a0 b1 c2 d3]\n\n"


def test_index_markers_in_lists_and_matrices():
    assert index_markers("[a0.5 b-1 c3]") == ["a", "b", "c"]
    assert index_markers("[[aa0 ab1], [ba1 bb0]]") == ["aa", "ab", "ba", "bb"]
    assert index_markers("s: 3, return (0, 3)") == []  # single numbers carry none


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        (TRUTH, None),
        ("[a3 b3 c3 d3]\n\n", None),  # the values are the scores' business, not the markers'
        ("[a0 b1 c2]\n\n", "d"),  # stops early: wrong at the first marker it lacks
        ("[a0 b1 d2 c3]\n\n", "c"),
        ("[a0 b1 c2 d3 e4]\n\n", EXTRA),
        ("[0 1 2 3]\n\n", "a"),  # no markers at all
        ("", "a"),
    ],
)
def test_first_wrong_marker(prediction, expected):
    assert first_wrong_marker(prediction, TRUTH) == expected


def test_first_wrong_marker_of_a_matrix():
    assert first_wrong_marker("[[aa0 ab1], [ba1 bc0]]", "[[aa0 ab1], [ba1 bb0]]") == "bb"


def _row(algorithm, size, prediction, answer):
    return {"algo_name": algorithm, "length": size, "prediction": prediction, "answer": answer}


def test_marker_tallies_count_the_markers_never_in_training():
    six = "[a0 b1 c2 d3 e4 f5]\n\n"
    rows = [
        _row("insertion_sort", 4, "[a0 b1 c2 d3]\n\n", TRUTH),
        _row("insertion_sort", 4, "[a0 b1 c2 d3 e4]\n\n", TRUTH),
        _row("insertion_sort", 6, "[a0 b1 c2 d3]\n\n", six),  # stops before e: unseen
        _row("insertion_sort", 6, "[a0 b1 d2 c3 e4 f5]\n\n", six),  # wrong at c: seen
        _row("insertion_sort", 6, six, six),
        _row("minimum", 6, "3\n\n", "3\n\n"),  # an answer without markers: not counted
        _row("bfs", 6, "[a0]\n\n", six),  # an algorithm not reported
    ]
    tallies = marker_tallies(rows, {"insertion_sort": 4, "minimum": 4})
    assert sorted(tallies) == [4, 6]
    four, six_ = tallies[4], tallies[6]
    assert (four.answers, four.right, four.unseen, dict(four.first_wrong)) == (2, 1, 0, {EXTRA: 1})
    assert (six_.answers, six_.right, six_.unseen) == (3, 1, 1)
    assert dict(six_.first_wrong) == {"e": 1, "c": 1}


def test_a_true_hinted_answer_has_every_marker_right():
    for algorithm in ("insertion_sort", "bfs", "lcs_length", "floyd_warshall"):
        row = make_example(algorithm, 5, 0, 0, index_hints=True)
        assert index_markers(row["answer"])
        assert first_wrong_marker(row["answer"], row["answer"]) is None
