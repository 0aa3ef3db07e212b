"""The report's in-distribution competence section (:mod:`transnar.pipeline.report.competence`)."""

from __future__ import annotations

from types import SimpleNamespace

from transnar.pipeline.report.competence import LEARNED, competence, training_sizes_evaluated


class Scores:
    """A stand-in for :class:`~transnar.evaluation.Comparison`: fixed cell means."""

    def __init__(self, cells, regimes):
        self.cells = cells  # (label, algorithm, size) -> (clrs, shape)
        self.labels = sorted({label for label, _, _ in cells})
        self.regimes = regimes

    def sizes(self):
        return sorted(self.regimes)

    def keys(self, level):
        assert level == "algorithm_size"
        return sorted({(a, n) for _, a, n in self.cells})

    def cell(self, label, level, key, metric):
        clrs, shape = self.cells[(label, *key)]
        return SimpleNamespace(mean=clrs if metric == "clrs" else shape)


def test_names_what_no_arm_learned_at_the_training_sizes():
    regimes = {8: "in-distribution", 12: "ood-extrapolation"}
    cells = {
        ("a", "bfs", 8): (0.9, 1.0),
        ("b", "bfs", 8): (0.2, 1.0),
        ("a", "lcs_length", 8): (0.1, 0.0),
        ("b", "lcs_length", 8): (LEARNED - 0.01, 0.5),
        ("a", "bfs", 12): (0.0, 0.0),  # out of distribution: not counted
        ("b", "bfs", 12): (0.0, 0.0),
        ("a", "lcs_length", 12): (0.9, 1.0),
        ("b", "lcs_length", 12): (0.9, 1.0),
    }
    scores = Scores(cells, regimes)
    assert training_sizes_evaluated(scores) == [8]
    lines = competence(scores)
    text = "\n".join(lines)
    assert "| bfs " in text and "0.900 / 1.00" in text and "0.200 / 1.00" in text
    assert lines[-1] == "- **Not learned in distribution by any arm** (1 of 2): lcs_length."


def test_without_an_in_distribution_size_it_says_so():
    scores = Scores({("a", "bfs", 12): (0.5, 1.0)}, {12: "ood-extrapolation"})
    assert competence(scores) == [
        "No evaluation size is a training size: in-distribution competence is unknown."
    ]


def test_every_algorithm_learned_by_some_arm():
    cells = {("a", "bfs", 8): (LEARNED, 1.0), ("b", "bfs", 8): (0.0, 0.0)}
    assert competence(Scores(cells, {8: "in-distribution"}))[-1].startswith("- Every algorithm")
