"""Index hints in CLRS-Text (Zhou et al. 2023): every list and matrix element
preceded by its index marker, in the question and the answer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transnar import clrs
from transnar.clrs.text import (
    INDEX_MARKERS,
    answer_length_bound,
    format_example,
    has_index_hints,
    parse_answer,
    parse_question,
    question_answer_bound,
    score_answer,
)
from transnar.clrs.text.dataset_files import read_rows, write_dataset
from transnar.clrs.text.datasets import Split
from transnar.clrs.text.formatting import without_index_hints
from transnar.clrs.text.rows import COLUMNS, INDEX_HINT_COLUMNS, examples, make_example
from transnar.clrs.text.scoring import Options, score_row


def _assert_same_inputs(inputs: dict, expected: dict) -> None:
    assert list(inputs) == list(expected)
    for name, value in inputs.items():
        assert value.dtype == expected[name].dtype, name
        np.testing.assert_array_equal(value, expected[name], err_msg=name)


def _round_trip(trajectory: clrs.Trajectory, use_hints: bool) -> None:
    question, answer = format_example(trajectory, use_hints, index_hints=True)
    plain_question, plain_answer = format_example(trajectory, use_hints)
    # Only the markers are added: dropping them gives the reference text back.
    assert (without_index_hints(question), without_index_hints(answer)) == (
        plain_question,
        plain_answer,
    )
    assert has_index_hints(question) and not has_index_hints(plain_question)

    # The same inputs as the plain question's (which test_text_questions checks
    # against the trajectory), and the same trajectory when run.
    algorithm, inputs = parse_question(question)
    _assert_same_inputs(inputs, parse_question(plain_question)[1])
    rebuilt = clrs.execute(algorithm, inputs)
    assert rebuilt.equals(trajectory)
    assert format_example(rebuilt, use_hints, index_hints=True) == (question, answer)

    hinted = parse_answer(algorithm, answer, use_hints, index_hints=True)
    plain = parse_answer(algorithm, plain_answer, use_hints)
    assert hinted.ok and hinted.trace_ok is not False, hinted
    assert (hinted.values, hinted.trace) == (plain.values, plain.trace)
    scores = score_answer(algorithm, answer, answer, use_hints, index_hints=True)
    assert (scores.parse, scores.shape, scores.clrs) == (1.0, 1.0, 1.0)
    assert scores.trace in (None, 1.0)


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_round_trip(algorithm):
    """Sizes 4, 7 (full floats), 12 and 16, with and without traces: question ->
    same inputs, answer -> same outputs and trace, a true answer scores 1."""
    count = 0
    for size in (4, 7, 12, 16):
        truncate = None if size == 7 else 3
        (trajectory,) = clrs.sample(algorithm, size, size, 1, truncate_decimals=truncate)
        for use_hints in (False, True):
            _round_trip(trajectory, use_hints)
            count += 1
    assert count == 8


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_the_bound_holds_with_index_hints(algorithm):
    for size in (4, 8, 12, 16):
        for trajectory in clrs.sample(algorithm, size, 1, 2, truncate_decimals=3):
            for use_hints in (False, True):
                question, answer = format_example(trajectory, use_hints, index_hints=True)
                bound = answer_length_bound(
                    algorithm, trajectory.inputs, use_hints, index_hints=True
                )
                plain = answer_length_bound(algorithm, trajectory.inputs, use_hints)
                where = (algorithm, size, use_hints)
                assert len(answer) <= bound, where
                # The markers take at most 2 characters per element more.
                assert bound - plain >= len(answer) - len(format_example(trajectory, use_hints)[1])
                assert question_answer_bound(question) >= bound, where


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_legacy_floats_with_index_hints(algorithm):
    for trajectory in clrs.sample(algorithm, 6, 3, 2):
        for use_hints in (False, True):
            question, answer = format_example(trajectory, use_hints, "legacy", index_hints=True)
            plain_question, plain_answer = format_example(trajectory, use_hints, "legacy")
            assert (without_index_hints(question), without_index_hints(answer)) == (
                plain_question,
                plain_answer,
            )
            _assert_same_inputs(parse_question(question)[1], parse_question(plain_question)[1])


# --- golden examples, one per family, checked by hand ------------------------------

GOLDEN = [
    (  # sorting, with the trace: each step's list marked from a again
        "insertion_sort",
        4,
        True,
        "insertion_sort:\nkey: [a0.548 b0.715 c0.602 d0.544], "
        "initial_trace: [a0.548 b0.715 c0.602 d0.544]\ntrace | pred:\n",
        "[a0.548 b0.715 c0.602 d0.544], [a0.548 b0.602 c0.715 d0.544] | "
        "[a0.544 b0.548 c0.602 d0.715]\n\n",
    ),
    (  # searching: the list is marked, the bounds (single numbers) are not
        "binary_search",
        4,
        True,
        "binary_search:\nkey: [a0.544 b0.548 c0.602 d0.715], target: 0.423, "
        "initial_trace: (0, 3)\ntrace | (low, high):\n",
        "(0, 1) | (0, 0)\n\n",
    ),
    (  # divide and conquer
        "find_maximum_subarray_kadane",
        4,
        False,
        "find_maximum_subarray_kadane:\nkey: [a0.097 b0.43 c0.205 d0.089]\nstart, end:\n",
        "0, 3\n\n",
    ),
    (  # greedy
        "activity_selector",
        4,
        False,
        "activity_selector:\ns: [a0.423 b0.645 c0.437 d0.544], f: [a0.548 b0.715 c0.602 d0.891]"
        "\nselected:\n",
        "[a1 b1 c0 d0]\n\n",
    ),
    (  # dynamic programming: a matrix, row marker then column marker; -1 after them
        "lcs_length",
        4,
        False,
        "lcs_length:\nstring: [a0 b0 c1 d1], key: [a0 b3 c1 d0]\nb:\n",
        "[[aa-1 ab-1 ac1 ad0], [ba-1 bb-1 bc1 bd1], [ca-1 cb-1 cc-1 cd-1], "
        "[da-1 db-1 dc-1 dd-1]]\n\n",
    ),
    (  # graphs: the source s (a mask_one) stays a number; pointers keep their values
        "bfs",
        4,
        False,
        "bfs:\ns: 3, A: [[aa1 ab0 ac1 ad1], [ba0 bb1 bc0 bd1], [ca1 cb0 cc1 cd0], "
        "[da1 db1 dc0 dd0]]\npi:\n",
        "[a3 b3 c0 d3]\n\n",
    ),
    (
        "floyd_warshall",
        3,
        False,
        "floyd_warshall:\nA: [[aa0.384 ab0.671 ac0.0], [ba0.671 bb0.0 bc0.049], "
        "[ca0.0 cb0.049 cc0.833]]\nPi:\n",
        "[[aa0 ab0 ac1], [ba1 bb1 bc1], [ca1 cb2 cc1]]\n\n",
    ),
    (  # strings: text and pattern share one list of nodes, marked by node index
        "kmp_matcher",
        5,
        False,
        "kmp_matcher:\nstring: [a0 b0 c0 d0 e1], key: [a3 b0 c0 d3 e0]\nmatch:\n",
        "1\n\n",
    ),
    (  # geometry: a minus sign follows the marker
        "graham_scan",
        4,
        False,
        "graham_scan:\nx: [a-1.241 b-0.348 c-1.056 d-1.814], y: [a-0.393 b-1.569 c-0.796 "
        "d-0.525]\nin_hull:\n",
        "[a1 b1 c0 d1]\n\n",
    ),
]


@pytest.mark.parametrize(("algorithm", "size", "use_hints", "question", "answer"), GOLDEN)
def test_golden_examples(algorithm, size, use_hints, question, answer):
    (trajectory,) = clrs.sample(algorithm, size, 0, 1, truncate_decimals=3)
    assert format_example(trajectory, use_hints, index_hints=True) == (question, answer)


def test_the_families_all_have_a_golden_example():
    assert {clrs.SPECS[a].family for a, *_ in GOLDEN} == {s.family for s in clrs.SPECS.values()}


# --- limits and errors ---------------------------------------------------------------


def test_52_markers_and_no_more():
    assert INDEX_MARKERS[:3] == "abc" and INDEX_MARKERS[25:28] == "zAB"
    assert len(INDEX_MARKERS) == len(set(INDEX_MARKERS)) == 52
    (largest,) = clrs.sample("insertion_sort", 52, 0, 1, truncate_decimals=3)
    question, answer = format_example(largest, index_hints=True)
    assert " Z0." in question and answer.count(" ") == 51
    parse_question(question)
    (too_many,) = clrs.sample("insertion_sort", 53, 0, 1, truncate_decimals=3)
    format_example(too_many)  # without index hints: fine
    with pytest.raises(ValueError, match="index hints mark at most 52"):
        format_example(too_many, index_hints=True)
    with pytest.raises(ValueError, match="index hints mark at most 52"):
        answer_length_bound("insertion_sort", too_many.inputs, index_hints=True)
    # A string matcher's nodes are its text and its pattern together.
    (matcher,) = clrs.sample("naive_string_matcher", 53, 0, 1)
    with pytest.raises(ValueError, match="this instance has 53 nodes"):
        format_example(matcher, index_hints=True, use_hints=True)


def test_a_question_of_more_elements_than_markers_raises():
    items = " ".join(f"{m}0.5" for m in INDEX_MARKERS) + " a0.5"
    with pytest.raises(ValueError, match="more than 52 elements"):
        parse_question(f"insertion_sort:\nkey: [{items}]\npred:\n")


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("insertion_sort:\nkey: [a0.5 c0.7]\npred:\n", "index marker 'b' then a number"),
        ("insertion_sort:\nkey: [a0.5 0.7]\npred:\n", "index marker 'b' then a number"),
        ("insertion_sort:\nkey: [a0.5 b]\npred:\n", "index marker 'b' then a number"),
        ("insertion_sort:\nkey: [a0.5 bb0.7]\npred:\n", "index marker 'b' then a number"),
        ("insertion_sort:\nkey: [0.5 b0.7]\npred:\n", "index marker in 'key'"),
        ("bfs:\ns: 0, A: [[aa0 ab1], [ba1 ba0]]\npi:\n", r"'bb' then a number .*row 2"),
        ("bfs:\ns: 0, A: [[a0 b1], [a1 b0]]\npi:\n", "'aa' then a number"),
        (
            "activity_selector:\ns: [a0.1 b0.2], f: [0.3 0.4]\nselected:\n",
            "index marker 'a' then a number",
        ),
        (
            "bfs:\ns: 0, A: [[aa0 ab1], [ba1 bb0]], initial_trace: [0 1]\ntrace | pi:\n",
            "index marker 'a' then a number",
        ),
    ],
)
def test_wrong_or_missing_markers_in_a_question_raise(question, message):
    with pytest.raises(ValueError, match=message):
        parse_question(question)


def test_parse_question_can_be_told_the_option():
    (trajectory,) = clrs.sample("bfs", 5, 0, 1)
    hinted, _ = format_example(trajectory, index_hints=True)
    plain, _ = format_example(trajectory)
    for question in (hinted, plain):
        expected = parse_question(question)[1]
        told = parse_question(question, index_hints=question is hinted)[1]
        assert all(np.array_equal(told[k], expected[k]) for k in expected)
    with pytest.raises(ValueError, match="index marker in 'A'"):
        parse_question(hinted, index_hints=False)
    with pytest.raises(ValueError, match="index marker 'aa' then a number"):
        parse_question(plain, index_hints=True)


@pytest.mark.parametrize(
    ("algorithm", "prediction"),
    [
        ("bfs", "[a3 b3 0 d3]"),  # a missing marker
        ("bfs", "[a3 b3 d0 c3]"),  # markers out of order
        ("bfs", "[a3 b3 c0 d3 ]x"),
        ("bfs", "[3 3 0 3]"),  # the plain answer
        ("bfs", "[ab3 b3 c0 d3]"),
        ("floyd_warshall", "[[aa0 ab0 ac1], [ba1 bb1 bc1], [ca1 cc2 cb1]]"),
        ("floyd_warshall", "[[a0 b0 c1], [a1 b1 c1], [a1 b2 c1]]"),  # column markers only
        ("insertion_sort", "[a0.544 b0.548 c0.602 0.715]"),
    ],
)
def test_a_hinted_answer_with_a_wrong_or_missing_marker_does_not_parse(algorithm, prediction):
    assert not parse_answer(algorithm, prediction, index_hints=True).ok


def test_scores_of_hinted_answers():
    (trajectory,) = clrs.sample("bfs", 4, 0, 1, truncate_decimals=3)
    _, truth = format_example(trajectory, index_hints=True)
    assert truth == "[a3 b3 c0 d3]\n\n"

    def scores(prediction, **options):
        s = score_answer("bfs", prediction, truth, index_hints=True, **options)
        return (s.parse, s.shape, s.clrs)

    assert scores("[a3 b3 c0 d3]") == (1.0, 1.0, 1.0)
    assert scores("[ a3  b3 c0 d3 ]") == (1.0, 1.0, 1.0)
    assert scores("[a3 b3 c1 d3]") == (1.0, 1.0, 0.75)  # values scored as in plain answers
    assert scores("[a3 b3 c0]") == (1.0, 0.0, 0.0)
    assert scores("[a3 b3 d0 c3]") == (0.0, 0.0, 0.0)
    assert scores("[3 3 0 3]") == (0.0, 0.0, 0.0)
    # ... and a hinted answer is not a plain one.
    assert score_answer("bfs", "[a3 b3 c0 d3]", "[3 3 0 3]").parse == 0.0


def test_a_wrong_marker_in_the_trace_costs_the_trace_only():
    (trajectory,) = clrs.sample("insertion_sort", 4, 0, 1, truncate_decimals=3)
    _, truth = format_example(trajectory, use_hints=True, index_hints=True)
    steps, final = truth.strip().split(" | ")
    broken = steps.replace("b0.602", "c0.602", 1)
    scores = score_answer("insertion_sort", f"{broken} | {final}", truth, True, True)
    assert (scores.parse, scores.clrs, scores.trace) == (1.0, 1.0, 0.0)
    assert score_answer("insertion_sort", truth, truth, True, True).trace == 1.0


def test_letters_are_legal_only_where_markers_go():
    assert parse_answer("binary_search", "a1", index_hints=True).ok is False
    assert parse_answer("binary_search", "1", index_hints=True).ok
    assert parse_answer("topological_sort", "[a3 b0 c1 d3], 2", index_hints=True).values == [
        [3, 0, 1, 3],
        2,
    ]
    assert parse_answer("topological_sort", "[a3 b0 c1 d3], c2", index_hints=True).ok is False


# --- datasets and scoring ------------------------------------------------------------


def test_rows_with_index_hints():
    plain = [row for row, _ in examples("bfs", 5, 1, 2)]
    hinted = [row for row, _ in examples("bfs", 5, 1, 2, index_hints=True)]
    assert all(tuple(row) == COLUMNS for row in plain)
    for before, row in zip(plain, hinted, strict=True):
        assert tuple(row) == INDEX_HINT_COLUMNS and row["index_hints"] is True
        assert without_index_hints(row["text"]) == before["text"]
    assert make_example("bfs", 5, 1, 1, index_hints=True) == hinted[1]
    with pytest.raises(ValueError, match="index_hints must be True or False"):
        examples("bfs", 5, 1, 2, index_hints="yes")


@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
def test_a_dataset_with_index_hints(tmp_path, file_format):
    if file_format == "parquet":
        pytest.importorskip("pyarrow")
    split = Split("test", {"bfs": (5,), "minimum": (6,)}, (2,), 2)
    manifest = write_dataset(tmp_path, [split], index_hints=True, file_format=file_format)
    assert manifest["options"]["index_hints"] is True
    rows = list(read_rows(tmp_path / f"test.{file_format}"))
    assert len(rows) == 4 and all(row["index_hints"] is True for row in rows)
    assert manifest["columns"] == list(rows[0])  # the index_hints column too
    assert all(has_index_hints(row["question"]) for row in rows)
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest


def test_scoring_rows_with_index_hints():
    row = make_example("floyd_warshall", 5, 3, 0, index_hints=True)
    right = {"prediction": row["answer"]}
    # The row says so ...
    assert score_row({**row, **right}).scores.clrs == 1.0
    # ... or its question does ...
    assert score_row({"question": row["question"], **right}).scores.clrs == 1.0
    # ... or the scorer's option, for (algorithm, size, seed, index) rows.
    coordinates = {"algorithm": "floyd_warshall", "size": 5, "seed": 3, "index": 0, **right}
    assert score_row(coordinates, Options(index_hints=True)).scores.clrs == 1.0
    assert score_row(coordinates).scores.parse == 0.0
    with pytest.raises(ValueError, match="'index_hints' must be true or false"):
        score_row({**row, **right, "index_hints": "yes"})


# --- fuzzing: a model's answer never raises ---------------------------------------------

_TRUTHS = {
    (a, h): format_example(clrs.sample(a, 5, 0, 1, truncate_decimals=3)[0], h, index_hints=True)[1]
    for a in clrs.CLRS30_ALGORITHMS
    for h in (False, True)
}
_ALPHABET = "0123456789 .-+eabcdAZ[](),|\n"


def _mutated(text: str, edits: list[tuple[int, str]]) -> str:
    for position, char in edits:
        i = position % (len(text) + 1)
        text = text[:i] + char + text[i + 1 :]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(clrs.CLRS30_ALGORITHMS),
    st.booleans(),
    st.one_of(
        st.text(alphabet=_ALPHABET, max_size=200),
        st.lists(st.tuples(st.integers(0), st.sampled_from(_ALPHABET)), min_size=1, max_size=4),
    ),
)
def test_hinted_scores_never_raise(algorithm, use_hints, prediction):
    truth = _TRUTHS[algorithm, use_hints]
    if isinstance(prediction, list):
        prediction = _mutated(truth, prediction)
    scores = score_answer(algorithm, prediction, truth, use_hints, index_hints=True)
    assert scores.parse in (0.0, 1.0) and 0.0 <= scores.clrs <= scores.shape <= scores.parse
