"""The report's in-distribution competence: what each arm has learned where it was trained.

An out-of-distribution comparison says little about generalisation for an
algorithm that no model has learned at its training sizes. :func:`competence`
gives, per algorithm, each arm's CLRS and shape scores at the in-distribution
evaluation sizes (mean over them and over seeds), and names the algorithms no
arm has learned there: CLRS score below :data:`LEARNED` for every arm.
"""

from __future__ import annotations

from transnar.evaluation import Comparison
from transnar.evaluation.evaluate import REGIMES
from transnar.tables import markdown_table

LEARNED = 0.5
"""The in-distribution CLRS score from which an algorithm counts as learned."""


def training_sizes_evaluated(comparison: Comparison) -> list[int]:
    """The evaluation sizes that are training sizes (regime ``in-distribution``)."""
    in_distribution = REGIMES[0]
    return [n for n in comparison.sizes() if comparison.regimes.get(n) == in_distribution]


def competence(comparison: Comparison) -> list[str]:
    """The section's lines (without its heading); a sentence when no evaluation
    size is in distribution."""
    sizes = training_sizes_evaluated(comparison)
    if not sizes:
        return ["No evaluation size is a training size: in-distribution competence is unknown."]
    scores = {}  # (algorithm, label) -> (clrs, shape)
    algorithms = []
    for algorithm, size in comparison.keys("algorithm_size"):
        if size not in sizes:
            continue
        if algorithm not in algorithms:
            algorithms.append(algorithm)
        for label in comparison.labels:
            clrs = comparison.cell(label, "algorithm_size", (algorithm, size), "clrs").mean
            shape = comparison.cell(label, "algorithm_size", (algorithm, size), "shape").mean
            previous = scores.get((algorithm, label), [])
            scores[algorithm, label] = [*previous, (clrs, shape)]
    means = {
        key: tuple(sum(v[i] for v in values) / len(values) for i in range(2))
        for key, values in scores.items()
    }
    header = ["algorithm", *(f"{label} CLRS / shape" for label in comparison.labels)]
    rows = [
        [
            algorithm,
            *(
                f"{means[algorithm, label][0]:.3f} / {means[algorithm, label][1]:.2f}"
                for label in comparison.labels
            ),
        ]
        for algorithm in algorithms
    ]
    unlearned = [
        a for a in algorithms if all(means[a, label][0] < LEARNED for label in comparison.labels)
    ]
    where = ", ".join(str(n) for n in sizes)
    lines = [
        f"Scores at the in-distribution size(s) {where} (means over seeds): an "
        "out-of-distribution gain says little on an algorithm no model has learned where "
        f"it was trained. Learned here means a CLRS score of at least {LEARNED}.",
        "",
        *markdown_table(header, rows),
        "",
    ]
    if unlearned:
        lines.append(
            f"- **Not learned in distribution by any arm** ({len(unlearned)} of "
            f"{len(algorithms)}): {', '.join(unlearned)}."
        )
    else:
        lines.append("- Every algorithm is learned in distribution by at least one arm.")
    return lines


__all__ = ["LEARNED", "competence", "training_sizes_evaluated"]
