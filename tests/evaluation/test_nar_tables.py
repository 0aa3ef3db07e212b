"""The NAR's results tables: one in-distribution column for algorithms whose
in-distribution sizes differ (the string matchers'), means over its algorithms."""

from transnar.evaluation.nar import (
    IN_DISTRIBUTION,
    by_column,
    column_means,
    column_order,
    in_distribution_note,
    in_distribution_sizes,
    nar_results_markdown,
    size_columns,
)


def _test(score, in_distribution, learned=None):
    test = {"in_distribution": in_distribution, "scores": {"score": score, "out": score}}
    test["steps"] = {
        "oracle": {"scores": {"score": score}, "stop_accuracy": 1.0},
        "learned": {"scores": {"score": learned or score}, "stop_accuracy": 0.5},
    }
    return test


def _algorithms():
    return {
        "insertion_sort": {
            "family": "sorting",
            "test": {"11": _test(0.9, True, 0.7), "44": _test(0.5, False)},
        },
        "bubble_sort": {
            "family": "sorting",
            "test": {"11": _test(0.7, True), "44": _test(0.3, False)},
        },
        "kmp_matcher": {
            "family": "strings",
            "test": {"13": _test(0.2, True), "44": _test(0.1, False)},
        },
    }


def test_each_algorithm_s_own_in_distribution_size_goes_to_one_column():
    algorithms = _algorithms()
    assert size_columns(algorithms["kmp_matcher"]) == {"13": IN_DISTRIBUTION, "44": "n=44"}
    columns = by_column(algorithms)
    assert list(columns) == [IN_DISTRIBUTION, "n=44"]
    assert set(columns[IN_DISTRIBUTION]) == set(algorithms)
    assert in_distribution_sizes(algorithms) == "n=11 (n=13: kmp_matcher)"


def test_a_second_in_distribution_size_keeps_its_own_starred_column():
    entry = {"test": {"4": _test(1.0, True), "11": _test(0.9, True), "44": _test(0.5, False)}}
    assert size_columns(entry) == {"4": "n=4*", "11": IN_DISTRIBUTION, "44": "n=44"}
    note = in_distribution_note({"a": entry})
    assert note.startswith("in distribution: each algorithm at its largest training size, n=11")
    assert "* also in distribution" in note
    assert "* also" not in in_distribution_note(_algorithms())
    assert column_order(["n=44", "n=4*", IN_DISTRIBUTION, "n=44"]) == [
        IN_DISTRIBUTION,
        "n=4*",
        "n=44",
    ]


def test_column_means_are_over_every_algorithm_of_the_column_and_per_mode():
    means = column_means(_algorithms())
    assert means[IN_DISTRIBUTION] == (0.9 + 0.7 + 0.2) / 3
    assert means["n=44"] == (0.5 + 0.3 + 0.1) / 3
    assert column_means(_algorithms(), "learned")[IN_DISTRIBUTION] == (0.7 + 0.7 + 0.2) / 3


def test_results_md_has_one_in_distribution_column_and_its_mean():
    markdown = nar_results_markdown(
        {"algorithms": _algorithms(), "step_modes": ["oracle", "learned"]}
    )
    header = next(line for line in markdown.splitlines() if line.startswith("| algorithm"))
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "algorithm",
        "family",
        IN_DISTRIBUTION,
        "n=44",
    ]
    mean = next(line for line in markdown.splitlines() if line.startswith("| **mean**"))
    assert [c.strip() for c in mean.strip("|").split("|")][2:] == ["0.600", "0.300"]
    assert "in distribution: oracle 0.600, learned 0.533; n=44: oracle 0.300" in markdown
    assert "| kmp_matcher    | n=13* |" in markdown  # the stepping table names the real size
