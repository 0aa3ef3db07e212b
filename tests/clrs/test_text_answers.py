"""CLRS-Text answers: parsing and the parse, shape, CLRS and trace scores."""

from __future__ import annotations

import functools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transnar import clrs
from transnar.clrs.text import format_example
from transnar.clrs.text.answer_scores import (
    AnswerScores,
    clrs_score,
    parse_score,
    score_answer,
    shape_score,
    trace_accuracy,
)
from transnar.clrs.text.answers import grammar, parse_answer

PERFECT = AnswerScores(1.0, 1.0, 1.0)


def scores(algorithm, prediction, truth, use_hints=False):
    return score_answer(algorithm, prediction, truth, use_hints)


# --- Hand-written cases ----------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "truth"),
    [
        ("insertion_sort", "[0.423 0.544 0.548 0.602 0.715]\n\n"),
        ("bfs", "[3 3 0 3]\n\n"),
        ("minimum", "4\n\n"),
        ("find_maximum_subarray_kadane", "0, 3\n\n"),
        ("topological_sort", "[0 2 0 1 3], 4\n\n"),
        ("lcs_length", "[[-1 -1 0 2], [-1 1 0 -1], [-1 -1 -1 -1], [2 -1 -1 1]]\n\n"),
        ("floyd_warshall", "[[0 3 0 0], [3 1 0 1], [2 3 2 0], [3 3 0 3]]\n\n"),
        ("segments_intersect", "1\n\n"),
    ],
)
def test_a_perfect_answer_scores_one(algorithm, truth):
    assert scores(algorithm, truth, truth) == PERFECT
    assert scores(algorithm, truth.strip(), truth) == PERFECT  # no blank line needed


def test_wrong_length_parses_but_has_the_wrong_shape():
    truth = "[0.1 0.2 0.3 0.4]"
    assert scores("insertion_sort", "[0.1 0.2 0.3]", truth) == AnswerScores(1.0, 0.0, 0.0)
    assert scores("insertion_sort", "[0.1 0.2 0.3 0.4 0.5]", truth) == AnswerScores(1.0, 0.0, 0.0)
    assert scores("insertion_sort", "[]", truth) == AnswerScores(1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    "prediction",
    [
        "[[0 1], [1 0]]",  # 2 rows instead of 3
        "[[0 1 0], [1 0 1]]",
        "[[0 1 0], [1 0], [0 1 0]]",  # ragged
        "[[0 1 0 1], [1 0 1 1], [0 1 0 1]]",
        "[]",
    ],
)
def test_wrong_matrix_shape(prediction):
    truth = "[[0 1 0], [1 0 1], [0 1 0]]"
    assert scores("floyd_warshall", prediction, truth) == AnswerScores(1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("algorithm", "prediction"),
    [
        ("insertion_sort", "[0.1 a 0.3]"),
        ("insertion_sort", "[0.1 0.2 0.3]x"),
        ("bfs", "[0 1 two]"),
        ("bfs", "[0 1 2.0]"),  # '.' is not legal in a list of pointers
        ("bfs", "[0 -1 2]"),  # nor '-': pointers are never negative
        ("segments_intersect", "True"),
        ("minimum", "[2]"),  # brackets are not legal for a scalar answer
        ("insertion_sort", "[0.1 0.2 ０.3]"),  # a fullwidth digit
        ("bfs", "[0 1 ٢]"),  # an Arabic-Indic digit, which int() would accept
        ("insertion_sort", "[0.1 0.2 nan]"),
        ("insertion_sort", "[0.1 0.2 inf]"),
        ("insertion_sort", "[0.1 0.2 e]"),
        ("bfs", "[0 1\n2]"),  # a newline inside the answer
    ],
)
def test_illegal_characters_do_not_parse(algorithm, prediction):
    truth = {"insertion_sort": "[0.1 0.2 0.3]", "bfs": "[0 1 2]"}.get(algorithm, "1")
    assert scores(algorithm, prediction, truth) == AnswerScores(0.0, 0.0, 0.0)
    assert parse_answer(algorithm, prediction).error


def test_legal_characters_come_from_the_output_types():
    assert set("0123456789 [].-e+") <= grammar("insertion_sort").chars
    assert "," not in grammar("insertion_sort").chars  # one list, no matrix
    assert not set(".-e+,") & grammar("bfs").chars
    assert "-" in grammar("lcs_length").chars and "." not in grammar("lcs_length").chars
    assert "-" in grammar("bridges").chars  # an edge mask: -1 off the edges
    assert grammar("minimum").chars == frozenset("0123456789 ")
    assert "," in grammar("topological_sort").chars
    assert "(" in grammar("binary_search", use_hints=True).chars
    assert "(" not in grammar("binary_search").chars


@pytest.mark.parametrize(
    "prediction", ["  [0  3 0   3 ]   ", "[ 0 3 0 3]", "[0 3 0 3] \n", "\t[0 3 0 3]\t"]
)
def test_extra_whitespace_is_formatting(prediction):
    assert scores("bfs", prediction, "[0 3 0 3]\n\n") == PERFECT


def test_a_comma_is_not_a_list_separator():
    assert scores("bfs", "[0, 3, 0, 3]", "[0 3 0 3]") == AnswerScores(0.0, 0.0, 0.0)


def test_spaces_around_separators_are_accepted():
    assert scores("topological_sort", "[0 2 0 1 3] ,4", "[0 2 0 1 3], 4") == PERFECT
    assert scores("lcs_length", "[ [-1 0] ,[1  -1] ]", "[[-1 0], [1 -1]]") == PERFECT


@pytest.mark.parametrize("prediction", ["", "   ", "\n\n", "\n\n[0 3 0 3]", "\n  \n"])
def test_an_empty_answer_scores_zero(prediction):
    assert scores("bfs", prediction, "[0 3 0 3]\n\n") == AnswerScores(0.0, 0.0, 0.0)
    assert parse_answer("bfs", prediction).error == "empty answer"


def test_the_answer_ends_at_the_first_blank_line():
    assert scores("bfs", "[0 3 0 3]\n\nbfs:\ns: 1, A: ...", "[0 3 0 3]") == PERFECT
    assert scores("bfs", "[0 3 0 3]\nmore", "[0 3 0 3]").parse == 0.0


@pytest.mark.parametrize(
    ("algorithm", "prediction", "truth"),
    [
        ("bfs", "[0 3 0", "[0 3 0 3]"),
        ("floyd_warshall", "[[0 1], [1 0], [", "[[0 1], [1 0]]"),
        ("floyd_warshall", "[[0 1], [1 0]", "[[0 1], [1 0]]"),
        ("topological_sort", "[0 2 0 1 3],", "[0 2 0 1 3], 4"),
        ("topological_sort", "[0 2 0 1 3]", "[0 2 0 1 3], 4"),  # one output missing
        ("find_maximum_subarray_kadane", "0", "0, 3"),
        ("find_maximum_subarray_kadane", "0, 3, 4", "0, 3"),  # one output too many
        ("bfs", "[0 3 0 3]]", "[0 3 0 3]"),
        ("bfs", "[[0 3 0 3]]", "[0 3 0 3]"),  # a matrix where a list is expected
        ("floyd_warshall", "[0 1 1 0]", "[[0 1], [1 0]]"),  # a list where a matrix is
        ("floyd_warshall", "[[0 1] [1 0]]", "[[0 1], [1 0]]"),  # rows need commas
        ("floyd_warshall", "[[[0 1]], [[1 0]]]", "[[0 1], [1 0]]"),  # too deep
        ("bfs", "[0 3][0 3]", "[0 3 0 3]"),
    ],
)
def test_truncated_or_malformed_output_does_not_parse(algorithm, prediction, truth):
    assert scores(algorithm, prediction, truth) == AnswerScores(0.0, 0.0, 0.0)


def test_clrs_score_is_the_fraction_of_equal_elements():
    assert scores("bfs", "[0 3 1 3]", "[0 3 0 3]") == AnswerScores(1.0, 1.0, 0.75)
    assert clrs_score("floyd_warshall", "[[0 1], [1 1]]", "[[0 1], [1 0]]") == 0.75
    assert shape_score("floyd_warshall", "[[0 1], [1 1]]", "[[0 1], [1 0]]") == 1.0
    assert parse_score("floyd_warshall", "[[0 1], [1 1]]") == 1.0


def test_multi_output_answers_count_every_element():
    # topo, topo_head: 4 + 1 elements.
    truth = "[3 0 1 3], 2"
    assert scores("topological_sort", "[3 0 1 3], 1", truth) == AnswerScores(1.0, 1.0, 0.8)
    assert scores("topological_sort", "[3 0 1 0], 1", truth) == AnswerScores(1.0, 1.0, 0.6)
    assert scores("topological_sort", "2, [3 0 1 3]", truth).parse == 0.0  # swapped
    # start, end.
    assert scores("find_maximum_subarray_kadane", "0, 2", "0, 3") == AnswerScores(1.0, 1.0, 0.5)
    assert parse_answer("find_maximum_subarray_kadane", "1, 4").values == [1, 4]


def test_lcs_cells_may_be_minus_one():
    truth = "[[-1 -1 0], [-1 1 2], [-1 -1 -1]]"
    assert parse_answer("lcs_length", truth).values == [[[-1, -1, 0], [-1, 1, 2], [-1, -1, -1]]]
    pred = "[[-1 -1 0], [-1 1 2], [-1 -1 1]]"
    assert scores("lcs_length", pred, truth) == AnswerScores(1.0, 1.0, 8 / 9)
    assert scores("lcs_length", "[[-1 -1 0], [-1 1 2], [-1 -1 --1]]", truth).parse == 0.0


def test_floats_compare_as_numbers():
    truth = "[0.5 0.544 0.6]"
    assert scores("insertion_sort", "[0.50 0.5440 .6]", truth) == PERFECT
    assert scores("insertion_sort", "[5e-1 0.544 6.0e-1]", truth) == PERFECT
    assert scores("insertion_sort", "[0.5 0.545 0.6]", truth).clrs == pytest.approx(2 / 3)
    # Exponents as Python prints tiny and huge keys; -3.0 equals the legacy -3.
    assert scores("insertion_sort", "[-3.0 1.23e-05 1e+20]", "[-3 0.0000123 1e20]") == PERFECT
    # Integers compare as integers.
    assert scores("bfs", "[00 3 0 03]", "[0 3 0 3]") == PERFECT


def test_huge_numbers_do_not_raise():
    huge = "9" * 10_000
    parsed = parse_answer("bfs", f"[0 {huge} 1]")
    assert parsed.ok and parsed.values == [[0, math.inf, 1]]
    repr(parsed)  # printable (a 10,000-digit int would not be)
    assert scores("bfs", f"[0 {huge} 1]", "[0 1 1]") == AnswerScores(1.0, 1.0, 2 / 3)
    assert scores("insertion_sort", f"[1e999999 {huge}.5]", "[0.1 0.2]") == AnswerScores(
        1.0, 1.0, 0.0
    )


def test_deep_nesting_does_not_recurse():
    text = "[" * 100_000 + "]" * 100_000
    assert scores("floyd_warshall", text, "[[0 1], [1 0]]") == AnswerScores(0.0, 0.0, 0.0)
    assert parse_answer("binary_search", "(" * 50_000 + "|" + ")", True).ok is False


def test_a_prediction_that_is_not_text_scores_zero():
    for value in (None, 3, ["[0 1]"], b"[0 1]"):
        assert scores("bfs", value, "[0 1]") == AnswerScores(0.0, 0.0, 0.0)
        assert scores("bfs", value, "[0 1] | [0 1]", True).trace == 0.0


def test_caller_errors_raise():
    with pytest.raises(ValueError, match="did you mean 'bfs'"):
        parse_answer("bfz", "[0 1]")
    with pytest.raises(ValueError, match="not a bfs answer"):
        score_answer("bfs", "[0 1]", "[0 x]")
    with pytest.raises(ValueError, match="with traces"):
        score_answer("bfs", "[0 1]", "[0 1]", use_hints=True)  # the truth has no '|'
    with pytest.raises(ValueError):
        parse_answer(["bfs"], "[0 1]")


# --- Traces ------------------------------------------------------------------------


SORT_TRACE = "[0.5 0.7 0.6], [0.5 0.6 0.7] | [0.5 0.6 0.7]"


def test_trace_perfect_and_parsed():
    parsed = parse_answer("insertion_sort", SORT_TRACE + "\n\n", use_hints=True)
    assert parsed.ok and parsed.trace_ok
    assert parsed.trace == [[[0.5, 0.7, 0.6]], [[0.5, 0.6, 0.7]]]
    assert parsed.values == [[0.5, 0.6, 0.7]]
    assert scores("insertion_sort", SORT_TRACE, SORT_TRACE, True) == AnswerScores(1, 1, 1, 1)


def test_trace_accuracy_is_the_fraction_of_equal_steps():
    pred = "[0.5 0.7 0.6], [0.5 0.7 0.7] | [0.5 0.6 0.7]"
    assert scores("insertion_sort", pred, SORT_TRACE, True) == AnswerScores(1, 1, 1, 0.5)
    # A step of the wrong length is just unequal.
    pred = "[0.5 0.7], [0.5 0.6 0.7] | [0.5 0.6 0.7]"
    assert trace_accuracy("insertion_sort", pred, SORT_TRACE) == 0.5


def test_a_wrong_number_of_steps_scores_zero_trace():
    pred = "[0.5 0.6 0.7] | [0.5 0.6 0.7]"
    assert scores("insertion_sort", pred, SORT_TRACE, True) == AnswerScores(1, 1, 1, 0.0)
    pred = "| [0.5 0.6 0.7]"
    assert scores("insertion_sort", pred, SORT_TRACE, True) == AnswerScores(1, 1, 1, 0.0)


def test_a_broken_trace_does_not_lower_the_final_scores():
    pred = "[0.5 0.7 0.6], [0.5 oops | [0.5 0.6 0.7]"
    parsed = parse_answer("insertion_sort", pred, True)
    assert parsed.ok and parsed.trace_ok is False and parsed.trace is None
    assert parsed.trace_error.startswith("trace:")
    assert scores("insertion_sort", pred, SORT_TRACE, True) == AnswerScores(1, 1, 1, 0.0)
    # And a good trace with a broken final answer.
    pred = "[0.5 0.7 0.6], [0.5 0.6 0.7] | [0.5 0.6"
    assert scores("insertion_sort", pred, SORT_TRACE, True) == AnswerScores(0, 0, 0, 1.0)


@pytest.mark.parametrize(
    "prediction",
    ["[0.5 0.6 0.7]", "[0.5 0.7 0.6] | [0.5 0.6 0.7] | [0.5 0.6 0.7]", ""],
)
def test_a_traced_answer_needs_exactly_one_bar(prediction):
    assert scores("insertion_sort", prediction, SORT_TRACE, True) == AnswerScores(0, 0, 0, 0.0)


def test_searches_answer_their_final_trace_value():
    truth = "(1, 4), (3, 4) | (4, 4)"
    parsed = parse_answer("binary_search", truth, True)
    assert parsed.values == [4, 4] and parsed.trace == [[1, 4], [3, 4]]
    assert scores("binary_search", "(1, 4), (3, 3) | (4, 3)", truth, True) == AnswerScores(
        1, 1, 0.5, 0.5
    )
    # The parentheses are part of the grammar, with traces only.
    assert scores("binary_search", "(1, 4), (3, 4) | 4, 4", truth, True).parse == 0.0
    assert scores("binary_search", "1, 4, 3, 4 | (4, 4)", truth, True).trace == 0.0
    assert parse_answer("binary_search", "(4, 4)").ok is False
    # Kadane likewise; quickselect's trace is the pivot.
    assert parse_answer("find_maximum_subarray_kadane", "(0, 1) | (0, 3)", True).values == [0, 3]
    assert parse_answer("quickselect", "4, 4, 0 | 0", True).trace == [[4], [4], [0]]


def test_string_matchers_trace_the_shift_and_answer_the_match():
    assert grammar("kmp_matcher", True).trace_names == ("s",)
    assert grammar("kmp_matcher", True).names == ("match",)
    truth = " | 1\n\n"  # no intermediate step
    parsed = parse_answer("naive_string_matcher", truth, True)
    assert parsed.values == [1] and parsed.trace == []
    assert scores("naive_string_matcher", truth, truth, True) == AnswerScores(1, 1, 1, 1)
    assert scores("naive_string_matcher", "0 | 1", truth, True) == AnswerScores(1, 1, 1, 0)


def test_multi_value_trace_steps():
    truth = "[0 1 2], 0, [0 1 0], 2 | [0 2 0], 1"
    parsed = parse_answer("topological_sort", truth, True)
    assert parsed.trace == [[[0, 1, 2], 0], [[0, 1, 0], 2]]
    pred = "[0 1 2], 0, [0 1 0], 1 | [0 2 0], 1"
    assert scores("topological_sort", pred, truth, True) == AnswerScores(1, 1, 1, 0.5)
    pred = "[0 1 2], 0, [0 1 0] | [0 2 0], 1"  # not whole steps
    assert parse_answer("topological_sort", pred, True).trace_ok is False


def test_segments_intersect_has_no_trace():
    assert grammar("segments_intersect", True).trace_kinds is None
    assert scores("segments_intersect", "1", "1\n\n", True) == AnswerScores(1, 1, 1, None)
    assert scores("segments_intersect", "0 | 1", "1\n\n", True).parse == 0.0


# --- Every algorithm, sampled instances ------------------------------------------


@functools.cache
def sampled(algorithm, use_hints, float_format="default", truncate=3):
    """(trajectory, answer) pairs over a few sizes."""
    pairs = []
    for size, seed in ((4, 0), (5, 1), (7, 2), (10, 3)):
        for trajectory in clrs.sample(algorithm, size, seed, 2, truncate_decimals=truncate):
            pairs.append((trajectory, format_example(trajectory, use_hints, float_format)[1]))
    return tuple(pairs)


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
@pytest.mark.parametrize("use_hints", [False, True], ids=["plain", "traces"])
def test_the_truth_scores_one_against_itself(algorithm, use_hints):
    has_trace = use_hints and algorithm != "segments_intersect"
    for float_format, truncate in (("default", 3), ("legacy", None)):
        for trajectory, answer in sampled(algorithm, use_hints, float_format, truncate):
            result = score_answer(algorithm, answer, answer, use_hints)
            assert result == AnswerScores(1, 1, 1, 1.0 if has_trace else None), answer
            parsed = parse_answer(algorithm, answer, use_hints)
            n = trajectory.num_nodes
            for value, kind in zip(parsed.values, grammar(algorithm, use_hints).kinds, strict=True):
                if kind.shape == "list":
                    assert len(value) == n
                elif kind.shape == "matrix":
                    assert [len(row) for row in value] == [n] * n
            if has_trace:
                assert len(parsed.trace) == max(trajectory.length - 2, 0)


def test_parsed_outputs_are_the_trajectory_outputs():
    for trajectory, answer in sampled("bfs", False):
        assert parse_answer("bfs", answer).values == [trajectory.outputs["pi"].tolist()]
    for trajectory, answer in sampled("insertion_sort", False):
        keys = sorted(trajectory.inputs["key"].tolist())
        assert parse_answer("insertion_sort", answer).values == [keys]


# --- Fuzzing: never raises -------------------------------------------------------

ALPHABET = "0123456789 .-+e[](),|\n\t"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
algorithms = st.sampled_from(clrs.CLRS30_ALGORITHMS)


def check(result: AnswerScores, use_hints: bool, algorithm: str) -> None:
    assert result.parse in (0.0, 1.0) and result.shape in (0.0, 1.0)
    assert result.shape <= result.parse
    assert 0.0 <= result.clrs <= result.shape
    if use_hints and algorithm != "segments_intersect":
        assert 0.0 <= result.trace <= 1.0
    else:
        assert result.trace is None


def truth_of(algorithm, use_hints, index):
    pairs = sampled(algorithm, use_hints)
    return pairs[index % len(pairs)][1]


@SETTINGS
@given(algorithms, st.booleans(), st.text())
def test_random_text_never_raises(algorithm, use_hints, text):
    check(
        score_answer(algorithm, text, truth_of(algorithm, use_hints, 0), use_hints),
        use_hints,
        algorithm,
    )


@SETTINGS
@given(algorithms, st.booleans(), st.text(alphabet=ALPHABET, max_size=200))
def test_random_answer_characters_never_raise(algorithm, use_hints, text):
    check(
        score_answer(algorithm, text, truth_of(algorithm, use_hints, 1), use_hints),
        use_hints,
        algorithm,
    )


mutation = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "duplicate"]),
    st.integers(min_value=0),
    st.one_of(st.sampled_from(ALPHABET), st.characters()),
)


def mutate(text: str, mutations) -> str:
    for op, position, char in mutations:
        i = position % (len(text) + 1)
        if op == "insert":
            text = text[:i] + char + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + 1 :]
        elif op == "replace":
            text = text[:i] + char + text[i + 1 :]
        else:
            text = text[:i] + text[i : i + 12] + text[i:]
    return text


@SETTINGS
@given(algorithms, st.booleans(), st.integers(0, 7), st.lists(mutation, min_size=1, max_size=6))
def test_mutated_true_answers_never_raise(algorithm, use_hints, index, mutations):
    truth = truth_of(algorithm, use_hints, index)
    check(score_answer(algorithm, mutate(truth, mutations), truth, use_hints), use_hints, algorithm)


@SETTINGS
@given(
    algorithms,
    st.booleans(),
    st.integers(0, 7),
    st.one_of(
        st.just(""),
        st.text(alphabet="[]() ,|", max_size=400),
        st.integers(0, 5000).map(lambda k: "9" * k),
        st.integers(1, 3000).map(lambda k: "[" * k + "1" + "]" * k),
        st.integers(1, 3000).map(lambda k: "(" * k + "1 | 2" + ")" * k),
        st.from_regex(r"\A[-]?[0-9]{1,400}(\.[0-9]{0,50})?(e[-+]?[0-9]{1,12})?\Z"),
    ),
)
def test_hostile_inputs_never_raise(algorithm, use_hints, index, text):
    truth = truth_of(algorithm, use_hints, index)
    for prediction in (text, f"[{text}]", f"{text} | {text}", truth.strip() + text):
        check(score_answer(algorithm, prediction, truth, use_hints), use_hints, algorithm)


def render(value, kind, rng) -> str:
    """Writes a value as a model might: any float spelling, extra spaces."""

    def number(x):
        if kind.floats:
            return rng.choice([str(x), f"{x:.6g}", f"{x}0" if "e" not in str(x) else str(x)])
        return str(x)

    def pad():
        return " " * rng.randint(0, 2)

    if kind.shape == "scalar":
        return number(value)
    if kind.shape == "list":
        return f"[{pad()}" + " ".join(pad() + number(x) for x in value) + f"{pad()}]"
    rows = [f"[{' '.join(number(x) for x in row)}]" for row in value]
    return "[" + f"{pad()},{pad()}".join(rows) + "]"


@settings(max_examples=100, deadline=None)
@given(algorithms, st.integers(0, 7), st.randoms(use_true_random=False))
def test_reformatted_truths_parse_to_the_same_values(algorithm, index, rng):
    truth = truth_of(algorithm, False, index)
    g = grammar(algorithm)
    values = parse_answer(algorithm, truth).values
    text = " , ".join(render(v, k, rng) for v, k in zip(values, g.kinds, strict=True))
    assert parse_answer(algorithm, text).values == values
    assert score_answer(algorithm, text, truth) == PERFECT
