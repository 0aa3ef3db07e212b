"""The NAR's test scores per algorithm family, beside the published Triplet-GMPNN.

Ibarz et al. (2022, Table 1) give the Triplet-GMPNN's out-of-distribution
micro-F1 per family: single-task models, one per algorithm, after 10,000
steps, tested at size 64. Our NAR is multi-task, trained for far fewer steps
and tested at the run's own sizes, so their numbers are a reference point,
not a target; the table says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from transnar.clrs.specs import FAMILIES, Family
from transnar.evaluation.comparison import Cell
from transnar.evaluation.nar import column_means, column_order
from transnar.tables import markdown_table

IBARZ_2022_TRIPLET_GMPNN: Mapping[Family, float] = {
    Family.SORTING: 60.37,
    Family.SEARCHING: 58.61,
    Family.DIVIDE_AND_CONQUER: 76.36,
    Family.GREEDY: 91.21,
    Family.DYNAMIC_PROGRAMMING: 81.99,
    Family.GRAPHS: 81.41,
    Family.STRINGS: 49.09,
    Family.GEOMETRY: 94.09,
}
"""Family -> the Triplet-GMPNN's mean OOD micro-F1 in percent (Ibarz et al. 2022,
Table 1: single-task, 10,000 steps, size 64)."""


def family_means(results: Mapping) -> dict[str, dict[str, float]]:
    """Family -> column -> the mean test score of the family's algorithms.

    Columns are those of :func:`~transnar.evaluation.nar.column_means`: ``in
    distribution`` (each algorithm at its own in-distribution test size: the
    string matchers' differs) and ``n=<size>`` for every other test size.
    ``results`` is a NAR's ``results.json``.
    """
    algorithms = results["algorithms"]
    families = dict.fromkeys(entry["family"] for entry in algorithms.values())
    return {
        family: column_means({n: e for n, e in algorithms.items() if e["family"] == family})
        for family in families
    }


def nar_family_table(results: Sequence[Mapping]) -> list[str]:
    """The Markdown lines of the per-family table over one or several NARs'
    results (mean ± std over them), with the published reference column."""
    means = [family_means(r) for r in results]
    columns = column_order(column for m in means for family in m.values() for column in family)
    header = ["family", "algorithms", *columns, "Ibarz et al. 2022 (n=64)"]
    rows = []
    for family in Family:
        present = [m[family.value] for m in means if family.value in m]
        if not present:
            continue
        cells = []
        for column in columns:
            values = [m[column] for m in present if column in m]
            cells.append(Cell.of(values).text() if values else "-")
        reference = f"{IBARZ_2022_TRIPLET_GMPNN[family] / 100:.3f}"
        tested = max(_algorithm_count(r, family) for r in results)
        of_family = len(FAMILIES[family])
        name = family.value.replace("_", " ")
        rows.append([name, f"{tested}/{of_family}", *cells, reference])
    note = (
        "Mean test score of each family's algorithms (the table above, by family). "
        "The last column is the Triplet-GMPNN of Ibarz et al. (2022, Table 1): one "
        "single-task model per algorithm after 10,000 steps, tested at size 64, averaged "
        "over all of the family's algorithms. Our NAR is one multi-task model with the "
        "run's budget, tested at the run's sizes on the algorithms it learned (column "
        "algorithms): a reference point, not a like-for-like comparison."
    )
    return [note, "", *markdown_table(header, rows)]


def _algorithm_count(results: Mapping, family: Family) -> int:
    return sum(e["family"] == family.value for e in results["algorithms"].values())
