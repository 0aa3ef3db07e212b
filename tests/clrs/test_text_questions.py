"""parse_question: CLRS-Text questions back to input probes, round trip included."""

from __future__ import annotations

import contextlib
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transnar import clrs
from transnar.clrs.text import format_example
from transnar.clrs.text.formatting import hidden_input
from transnar.clrs.text.questions import REBUILT_INPUTS, parse_question

SIZES = range(4, 21)


def _round_trip(trajectory: clrs.Trajectory, use_hints: bool) -> None:
    question, answer = format_example(trajectory, use_hints)
    algorithm, inputs = parse_question(question)
    assert algorithm == trajectory.algorithm
    # Everything but pos comes back, in spec order, equal in dtype and value.
    assert list(inputs) == [name for name in trajectory.spec.inputs if name != "pos"]
    for name, value in inputs.items():
        expected = trajectory.inputs[name]
        assert value.dtype == expected.dtype and value.shape == expected.shape, name
        np.testing.assert_array_equal(value, expected, err_msg=name)
    rebuilt = clrs.execute(algorithm, inputs)
    assert rebuilt.equals(trajectory)  # pos included: the text carries the canonical one
    assert format_example(rebuilt, use_hints) == (question, answer)


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_round_trip(algorithm):
    """Sizes 4..20, truncated to 3 decimals at even sizes, full floats at odd ones, each
    with and without a trace: 34 round trips per algorithm, 1020 in all."""
    count = 0
    for size in SIZES:
        truncate = 3 if size % 2 == 0 else None
        (trajectory,) = clrs.sample(algorithm, size, size, 1, truncate_decimals=truncate)
        for use_hints in (False, True):
            _round_trip(trajectory, use_hints)
            count += 1
    assert count == 2 * len(SIZES)


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_legacy_floats_parse_to_the_printed_values(algorithm):
    for size in (4, 7, 10):
        for trajectory in clrs.sample(algorithm, size, seed=2, count=2):
            for use_hints in (False, True):
                question, _ = format_example(trajectory, use_hints, "legacy")
                name, inputs = parse_question(question)
                for probe, value in inputs.items():
                    # .3g keeps 3 significant digits; .3f (graph floats) 3 decimals.
                    np.testing.assert_allclose(
                        value, trajectory.inputs[probe], rtol=5e-3, atol=5e-4, err_msg=probe
                    )
                rebuilt = clrs.execute(name, inputs)
                assert format_example(rebuilt, use_hints, "legacy")[0] == question


def test_every_hidden_input_is_rebuilt_or_left_to_execute():
    for spec in clrs.SPECS.values():
        for name in spec.inputs:
            if hidden_input(name, spec):
                assert name == "pos" or name in REBUILT_INPUTS, (spec.name, name)


# --- Golden questions: the reference generator's output (REFERENCE.md §7.1) ------------


def _graph(A, **extra):
    A = np.array(A)
    return {**extra, "A": A, "adj": ((A + np.eye(len(A))) != 0) * 1.0}


W = [[0.037, 0.0, 0.305, 0.674], [0.0, 0.799, 0.0, 0.569], [0.305, 0.0, 0.146, 0.0]]
W = [*W, [0.674, 0.569, 0.0, 0.0]]

GOLDEN = [
    (
        "insertion_sort:\nkey: [0.548 0.715 0.602 0.544]\npred:\n",
        "[0.544 0.548 0.602 0.715]\n\n",
        {"key": np.array([0.548, 0.715, 0.602, 0.544])},
    ),
    (
        "bfs:\ns: 3, A: [[1 0 1 1], [0 1 0 1], [1 0 1 0], [1 1 0 0]]\npi:\n",
        "[3 3 0 3]\n\n",
        _graph([[1, 0, 1, 1], [0, 1, 0, 1], [1, 0, 1, 0], [1, 1, 0, 0]], s=np.eye(4)[3]),
    ),
    (
        "dijkstra:\ns: 3, A: [[0.037 0.0 0.305 0.674], [0.0 0.799 0.0 0.569], "
        "[0.305 0.0 0.146 0.0], [0.674 0.569 0.0 0.0]]\npi:\n",
        "[3 3 0 3]\n\n",
        _graph(W, s=np.eye(4)[3]),
    ),
    (
        "find_maximum_subarray_kadane:\nkey: [0.097 0.43 0.205 0.089]\nstart, end:\n",
        "0, 3\n\n",
        {"key": np.array([0.097, 0.43, 0.205, 0.089])},
    ),
    (
        "floyd_warshall:\nA: [[0.037 0.0 0.305 0.674], [0.0 0.799 0.0 0.569], "
        "[0.305 0.0 0.146 0.0], [0.674 0.569 0.0 0.0]]\nPi:\n",
        "[[0 3 0 0], [3 1 0 1], [2 3 2 0], [3 3 0 3]]\n\n",
        _graph(W),
    ),
    (
        "lcs_length:\nstring: [0 0 0 1 1], key: [0 3 1 0 3]\nb:\n",
        "[[-1 -1 -1 0 2], [-1 -1 -1 1 0], [-1 -1 -1 1 1], [-1 -1 -1 -1 -1], [-1 -1 -1 -1 -1]]\n\n",
        {"string": np.array([0.0, 0, 0, 1, 1]), "key": np.eye(4)[[0, 3, 1, 0, 3]]},
    ),
    (
        "topological_sort:\nA: [[0 0 0 0 0], [0 0 1 0 0], [1 0 0 0 0], [0 1 1 0 0], "
        "[0 1 1 1 0]]\ntopo, topo_head:\n",
        "[0 2 0 1 3], 4\n\n",
        _graph(
            [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 1, 1, 1, 0]]
        ),
    ),
    (
        "bridges:\nA: [[0 0 0 0 0], [0 0 0 0 0], [0 0 0 1 0], [0 0 1 0 0], [0 0 0 0 0]]\n"
        "is_bridge:\n",
        "[[0 -1 -1 -1 -1], [-1 0 -1 -1 -1], [-1 -1 0 1 -1], [-1 -1 1 0 -1], [-1 -1 -1 -1 0]]\n\n",
        _graph([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 1, 0, 0], [0] * 5]),
    ),
    (
        "kmp_matcher:\nstring: [0 0 0 1], key: [3 0 0 0]\nmatch:\n",
        "1\n\n",
        {"string": np.array([0.0, 0, 0, 1]), "key": np.eye(4)[[3, 0, 0, 0]]},
    ),
    # With traces.
    (
        "insertion_sort:\nkey: [0.548 0.715 0.602 0.544 0.423], "
        "initial_trace: [0.548 0.715 0.602 0.544 0.423]\ntrace | pred:\n",
        "[0.548 0.715 0.602 0.544 0.423], [0.548 0.602 0.715 0.544 0.423], "
        "[0.544 0.548 0.602 0.715 0.423] | [0.423 0.544 0.548 0.602 0.715]\n\n",
        {"key": np.array([0.548, 0.715, 0.602, 0.544, 0.423])},
    ),
    (
        "bfs:\ns: 0, A: [[1 1 1 0 0], [1 0 1 0 0], [1 1 1 1 0], [0 0 1 1 1], [0 0 0 1 0]], "
        "initial_trace: [0 1 2 3 4]\ntrace | pi:\n",
        "[0 0 0 3 4], [0 0 0 2 4] | [0 0 0 2 3]\n\n",
        _graph(
            [[1, 1, 1, 0, 0], [1, 0, 1, 0, 0], [1, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 0, 1, 0]],
            s=np.eye(5)[0],
        ),
    ),
    (
        "binary_search:\nkey: [0.423 0.544 0.548 0.602 0.715], target: 0.645, "
        "initial_trace: (0, 4)\ntrace | (low, high):\n",
        "(3, 4) | (4, 4)\n\n",
        {"key": np.array([0.423, 0.544, 0.548, 0.602, 0.715]), "target": np.array(0.645)},
    ),
    (
        "task_scheduling:\nd: [5 1 4 4 4], w: [0.847 0.623 0.384 0.297 0.056], "
        "initial_trace: [0 0 0 0 0]\ntrace | selected:\n",
        "[1 0 0 0 0], [1 0 0 0 0], [1 0 1 0 0], [1 0 1 1 0] | [1 0 1 1 1]\n\n",
        {"d": np.array([5, 1, 4, 4, 4]), "w": np.array([0.847, 0.623, 0.384, 0.297, 0.056])},
    ),
]


GOLDEN_IDS = [q.split(":")[0] + ("-trace" if "\ntrace | " in q else "") for q, _, _ in GOLDEN]


@pytest.mark.parametrize(("question", "answer", "expected"), GOLDEN, ids=GOLDEN_IDS)
def test_golden_questions(question, answer, expected):
    algorithm, inputs = parse_question(question)
    assert algorithm == question.split(":")[0]
    assert list(inputs) == list(expected)
    for name, value in expected.items():
        assert inputs[name].dtype == value.dtype, name
        assert inputs[name].shape == value.shape, name
        np.testing.assert_array_equal(inputs[name], value, err_msg=name)
    use_hints = "\ntrace | " in question
    assert format_example(clrs.execute(algorithm, inputs), use_hints) == (question, answer)


def test_dtypes_follow_the_text():
    """Integers give int64 scalars (unweighted A, deadlines), 1.0 0.0 float64 (SCC)."""
    scc = "strongly_connected_components:\nA: [[1.0 0.0], [1.0 1.0]]\nscc_id:\n"
    _, inputs = parse_question(scc)
    assert inputs["A"].dtype == np.float64 and inputs["adj"].dtype == np.float64
    _, inputs = parse_question("dfs:\nA: [[1 0], [1 1]]\npi:\n")
    assert inputs["A"].dtype == np.int64 and inputs["adj"].dtype == np.float64
    _, inputs = parse_question("task_scheduling:\nd: [2 1], w: [0.5 1e-05]\nselected:\n")
    assert inputs["d"].dtype == np.int64
    np.testing.assert_array_equal(inputs["w"], [0.5, 1e-05])


def test_optimal_bst_keeps_its_padding_entry():
    (trajectory,) = clrs.sample("optimal_bst", 5, seed=0, count=1, truncate_decimals=3)
    _, inputs = parse_question(format_example(trajectory)[0])
    assert inputs["p"].shape == (6,) and inputs["p"][-1] == 0


def test_missing_final_newline_and_free_whitespace():
    algorithm, inputs = parse_question("bfs:\ns:1,A:[[ 1 0 ],[0  1]]\npi:")
    assert algorithm == "bfs"
    np.testing.assert_array_equal(inputs["A"], [[1, 0], [0, 1]])


def test_inconsistent_initial_trace():
    question = (
        "binary_search:\nkey: [0.1 0.2], target: 0.5, initial_trace: (1, 1)\ntrace | (low, high):\n"
    )
    with pytest.raises(ValueError, match=r"column 45: the initial trace '\(1, 1\)' is not"):
        parse_question(question)
    _, inputs = parse_question(question, check_trace=False)  # shape and types are fine
    assert list(inputs) == ["key", "target"]


def test_rejected_inputs_with_a_trace_are_value_errors():
    question = (
        "topological_sort:\nA: [[0 1], [1 0]], initial_trace: [0 1], 0\ntrace | topo, topo_head:\n"
    )
    with pytest.raises(ValueError, match="inputs are rejected: topological_sort needs a directed"):
        parse_question(question)


def test_not_a_string():
    with pytest.raises(TypeError, match="must be a str"):
        parse_question(b"bfs:\n")


# --- Malformed questions ---------------------------------------------------------


def _q(line2: str, algorithm: str = "insertion_sort", line3: str = "pred:") -> str:
    return f"{algorithm}:\n{line2}\n{line3}\n"


MALFORMED = [
    ("", r"line 1: missing line"),
    (
        "insertion_srot:\nkey: [0.5]\npred:\n",
        r"line 1, column 1: unknown algorithm 'insertion_srot'; did you mean 'insertion_sort'",
    ),
    ("insertion_sort\nkey: [0.5]\npred:\n", r"line 1, column 15: expected '<algorithm>:'"),
    ("insertion_sort:\nkey: [0.5]\n", r"line 3: missing line"),
    (
        "insertion_sort:\nkey: [0.5]\npred:\n[0.5]\n\n",
        r"line 4: unexpected text after the output names",
    ),
    (
        _q("key: [0.5]", line3="prd:"),
        r"line 3: expected 'pred:' \(or 'trace \| pred:' with a trace\), "
        r"the output names of insertion_sort; got 'prd:'",
    ),
    (_q("key [0.5]"), r"line 2, column 5: expected ':' after the field name 'key', got '\['"),
    (_q(": [0.5]"), r"line 2, column 1: expected a field name \('name: value'\), got ':'"),
    (_q(""), r"line 2, column 1: expected a field name .*got the end of the line"),
    (
        _q("kee: [0.5]"),
        r"line 2, column 1: unknown field 'kee' for insertion_sort .*did you mean 'key'",
    ),
    (_q("pos: [0.5]"), r"column 1: 'pos' is not written in CLRS-Text questions"),
    (_q("key: [0.5 0.2"), r"column 14: expected a number or the '\]' closing the '\[' at column 6"),
    (
        _q("key: [0.5 0.2]]"),
        r"column 15: expected ', ' before the next field, or the end of the line, got '\]'",
    ),
    (_q("key: 0.5 0.2]"), r"column 10: expected ', ' before the next field"),
    (_q("key: [0.5, 0.2]"), r"column 10: .*numbers in a list are separated by spaces\), got ','"),
    (_q("key: [0.5 abc]"), r"column 11: expected a number in 'key', got 'abc'"),
    (_q("key: [0.5 nan]"), r"column 11: expected a number in 'key', got 'nan'"),
    (_q("key: [0.5 1e400]"), r"column 11: '1e400' in 'key' is out of the float64 range"),
    (_q("key: []"), r"column 7: empty list"),
    (_q("key: 0.5"), r"column 6: 'key' \(node scalar\) should be a list of numbers"),
    (
        _q("key: [[0.5]]"),
        r"column 6: 'key' \(node scalar\) should be a list of numbers .*got a matrix",
    ),
    (_q("key: (0.5)"), r"column 6: .*got a tuple"),
    (_q("key: [0.5], key: [0.5]"), r"column 13: field 'key' is given twice"),
    (_q("key: [0.5], target: 0.1", "binary_search", "return:"), None),  # valid: control
    (
        _q("target: 0.1, key: [0.5]", "binary_search", "return:"),
        r"column 1: expected the field 'key' here",
    ),
    (_q("key: [0.5]", "binary_search", "return:"), r"column 11: missing field 'target'"),
    (
        _q("key: [0.5], target: [0.1]", "binary_search", "return:"),
        r"'target' \(graph scalar\) should be a single number",
    ),
    (
        _q("s: 4, A: [[1 0], [0 1]]", "bfs", "pi:"),
        r"column 4: 's': 4 is out of range, expected a node index in \[0, 2\)",
    ),
    (
        _q("s: 1.0, A: [[1 0], [0 1]]", "bfs", "pi:"),
        r"column 4: expected an integer \(a node index in \[0, 2\)\) in 's', got '1.0'",
    ),
    (
        _q("s: 1, A: [[1 0], [0 1 1]]", "bfs", "pi:"),
        r"column 18: ragged matrix 'A': row 2 has 3 entries, row 1 has 2",
    ),
    (
        _q("s: 1, A: [[1 0 1], [0 1 1]]", "bfs", "pi:"),
        r"column 10: 'A' should be a square N x N matrix, got 2 rows of 3",
    ),
    (
        _q("s: 1, A: [[1 0] [0 1]]", "bfs", "pi:"),
        r"column 17: expected ', ' and a row, or the '\]' closing the matrix at column 10",
    ),
    (
        _q("s: 1, A: [[1 0], 0 1]]", "bfs", "pi:"),
        r"column 18: expected '\[' opening the next matrix row, got '0'",
    ),
    (
        _q("s: 1, A: [[1 0], [0 1]], adj: [[1 0], [0 1]]", "bfs", "pi:"),
        r"column 26: 'adj' is not written",
    ),
    (
        _q("string: [0 0 1], key: [0 4 1]", "lcs_length", "b:"),
        r"column 26: 'key': 4 is out of range, expected a class in \[0, 4\)",
    ),
    (
        _q("string: [0 2 1], key: [0 3 1]", "lcs_length", "b:"),
        r"column 12: 'string': 2 is out of range, expected 0 or 1",
    ),
    (
        _q("string: [0 0 1], key: [0 3 1 2]", "lcs_length", "b:"),
        r"column 23: inconsistent node counts: 'key' has 4 nodes, 'string' has 3",
    ),
    (
        _q("d: [1 99999999999999999999], w: [0.1 0.2]", "task_scheduling", "selected:"),
        r"column 7: 'd': 99999999999999999999 is out of range, expected an int64",
    ),
    # Traces.
    (
        _q("key: [0.1 0.2], target: 0.5", "binary_search", "trace | (low, high):"),
        r"column 28: missing 'initial_trace: ...' \(line 3 announces a trace\)",
    ),
    (
        _q("key: [0.1 0.2], target: 0.5, initial_trace: (0, 1)", "binary_search", "return:"),
        r"column 30: unexpected 'initial_trace:': line 3 has no 'trace \| ' prefix",
    ),
    (
        _q(
            "key: [0.1 0.2], target: 0.5, initial_trace: 0, 1",
            "binary_search",
            "trace | (low, high):",
        ),
        r"column 45: binary_search's initial trace is one parenthesised step \(low, high\)",
    ),
    (
        _q(
            "key: [0.1 0.2], target: 0.5, initial_trace: (0, 3)",
            "binary_search",
            "trace | (low, high):",
        ),
        r"column 49: 'initial_trace: high': 3 is out of range",
    ),
    (
        _q(
            "key: [0.1 0.2], target: 0.5, initial_trace: (0, 1",
            "binary_search",
            "trace | (low, high):",
        ),
        r"column 50: expected ',' or the '\)' closing the '\(' at column 45",
    ),
    (
        _q(
            "key: [0.1 0.2], target: 0.5, initial_trace: ((0, 1))",
            "binary_search",
            "trace | (low, high):",
        ),
        r"column 46: expected a value",
    ),
    (
        _q("x: [0 1 0 1], y: [0 1 1 0], initial_trace: 0", "segments_intersect", "intersect:"),
        r"column 29: unexpected 'initial_trace:': segments_intersect has no trace",
    ),
    (
        _q("x: [0 1 0 1], y: [0 1 1 0]", "segments_intersect", "trace | intersect:"),
        r"line 3: expected 'intersect:', the output names of segments_intersect",
    ),
    (
        _q(
            "A: [[0 1], [0 0]], initial_trace: [0 1], 0, x: 1",
            "topological_sort",
            "trace | topo, topo_head:",
        ),
        r"column 45: 'initial_trace:' must be the last field",
    ),
    (
        _q(
            "A: [[0 1], [0 0]], initial_trace: [0 1]",
            "topological_sort",
            "trace | topo, topo_head:",
        ),
        r"column 20: the initial trace of topological_sort has 2 value\(s\) "
        r"\(topo, topo_head\), got 1",
    ),
    (
        _q(
            "A: [[0 1], [0 0]], initial_trace: [0 1 2], 0",
            "topological_sort",
            "trace | topo, topo_head:",
        ),
        r"column 35: 'initial_trace: topo' has 3 nodes, the inputs have 2",
    ),
    (
        _q(
            "A: [[0 1], [0 0]], initial_trace: [0 1], 0 1",
            "topological_sort",
            "trace | topo, topo_head:",
        ),
        r"column 44: expected ', ' and the next trace value, or the end of the line, got '1'",
    ),
    (
        _q("string: [0 0 1], key: [0 3 1], initial_trace: (0)", "kmp_matcher", "trace | s:"),
        r"'initial_trace: s' \(node mask_one\) should be a single number, got a tuple",
    ),
]


@pytest.mark.parametrize(("question", "match"), MALFORMED)
def test_malformed_questions_raise_value_error(question, match):
    if match is None:
        parse_question(question)
        return
    with pytest.raises(ValueError, match=r"^CLRS-Text question, " + ".*" + match):
        parse_question(question)


# --- Fuzzing ---------------------------------------------------------------------

POOL = [
    format_example(trajectory, use_hints)[0]
    for algorithm in clrs.CLRS30_ALGORITHMS
    for trajectory in clrs.sample(algorithm, 5, seed=0, count=1, truncate_decimals=3)
    for use_hints in (False, True)
]
ALPHABET = [*"[](),: |\n0123456789.-+eE_asdA", "initial_trace: ", ", ", "trace | ", "1e309"]
MUTATION = st.tuples(
    st.integers(0, 10**6),
    st.sampled_from(("insert", "delete", "replace")),
    st.sampled_from(ALPHABET),
)


def _mutate(text: str, mutations) -> str:
    for position, operation, piece in mutations:
        i = position % (len(text) + 1)
        if operation == "insert":
            text = text[:i] + piece + text[i:]
        elif operation == "delete":
            text = text[:i] + text[i + 1 :]
        else:
            text = text[:i] + piece + text[i + 1 :]
    return text


def _parse_and_run(text: str) -> None:
    try:
        algorithm, inputs = parse_question(text)
    except ValueError as error:
        assert re.match(r"CLRS-Text question, line \d", str(error)), error
        return
    with contextlib.suppress(ValueError):  # execute may still reject what parses
        clrs.execute(algorithm, inputs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(POOL), st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_questions_parse_or_raise_value_error(question, mutations):
    _parse_and_run(_mutate(question, mutations))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_random_text_raises_value_error(text):
    with pytest.raises(ValueError, match="CLRS-Text question"):
        parse_question(text)


@pytest.mark.parametrize("algorithm", ["bfs", "insertion_sort", "binary_search", "lcs_length"])
def test_has_trace_reads_the_output_names_line(algorithm):
    from transnar.clrs.text import has_trace

    (trajectory,) = clrs.sample(algorithm, 5, 0, 1)
    assert has_trace(format_example(trajectory, use_hints=True)[0])
    assert not has_trace(format_example(trajectory)[0])
    assert has_trace(format_example(trajectory, use_hints=True, index_hints=True)[0])
