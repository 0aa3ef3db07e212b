"""Where hinted answers lose their index markers, in the report of a run with index hints
(the arms ``baseline-hints`` and ``transnar-hints``, or ``lm.data.index_hints=true``).

With index hints every list and matrix element is preceded by the marker of its
index (``a``, ``b``, ...; :func:`~transnar.clrs.text.formatting.format_example`), and
an answer whose markers are not those of the truth does not parse. A model trained at
sizes up to ``S`` has seen the markers of the nodes of those sizes only (``a`` to
``h`` for 8 nodes): the evaluation's larger sizes ask for markers it never wrote.

Per hinted arm and evaluation size, from each model's ``predictions.jsonl``: the
share of its answers (those whose truth has markers) that carry exactly the truth's
markers in order; and, for the others, where the first wrong one is: the truth's
marker at the first place the prediction's differs (an answer that stops early is
wrong at the first marker it lacks), how often it is one of the markers never seen in
training, and the most common.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from transnar.arms import ARMS_BY_NAME
from transnar.clrs.bounds import nodes_of_size
from transnar.clrs.text.formatting import INDEX_MARKERS, index_markers
from transnar.evaluation.comparison import Cell
from transnar.evaluation.results import PREDICTIONS_JSONL
from transnar.pipeline.report.runs import ModelResult, RunData
from transnar.tables import markdown_table

EXTRA = "an extra element"
"""The first wrong marker of a prediction with more elements than its truth."""


def first_wrong_marker(prediction: str, truth: str) -> str | None:
    """The truth's marker where the prediction's markers first differ from it
    (:data:`EXTRA` where the prediction has more), or None when they are the same."""
    predicted, expected = index_markers(prediction), index_markers(truth)
    for k, marker in enumerate(expected):
        if k >= len(predicted) or predicted[k] != marker:
            return marker
    return EXTRA if len(predicted) > len(expected) else None


@dataclass
class MarkerTally:
    """The marker checks of one model's answers at one size.

    Attributes:
        answers: its answers whose truth has markers.
        right: those whose markers are the truth's.
        first_wrong: the others' first wrong marker -> how many.
        unseen: of the others, how many are first wrong at a marker that no
            training question of their algorithm has.
    """

    answers: int = 0
    right: int = 0
    first_wrong: Counter = field(default_factory=Counter)
    unseen: int = 0


def marker_tallies(
    rows: Iterable[dict[str, Any]], trained_nodes: dict[str, int]
) -> dict[int, MarkerTally]:
    """Size -> :class:`MarkerTally` of the prediction rows (``predictions.jsonl``) of
    the algorithms in ``trained_nodes`` (algorithm -> the node count of its largest
    training instance: its markers are the first that many)."""
    tallies: dict[int, MarkerTally] = {}
    for row in rows:
        nodes = trained_nodes.get(row["algo_name"])
        if nodes is None or not index_markers(row["answer"]):
            continue
        tally = tallies.setdefault(int(row["length"]), MarkerTally())
        tally.answers += 1
        wrong = first_wrong_marker(row["prediction"], row["answer"])
        if wrong is None:
            tally.right += 1
            continue
        tally.first_wrong[wrong] += 1
        if wrong != EXTRA and max(INDEX_MARKERS.index(letter) for letter in wrong) >= nodes:
            tally.unseen += 1
    return tallies


def marker_summary(runs: Sequence[RunData]) -> dict[str, Any]:
    """``{arm label: {size: {"right": [share per model], "wrong": n, "unseen": n,
    "first_wrong": {marker: n}}}}`` for the hinted arms of the runs whose
    predictions were kept (for ``comparison.json``); empty without them."""
    summary: dict[str, Any] = {}
    for label, models in _hinted_models(runs).items():
        by_size: dict[str, Any] = {}
        for model, run in models:
            for size, tally in sorted(_tallies(model, run).items()):
                cell = by_size.setdefault(
                    str(size), {"right": [], "wrong": 0, "unseen": 0, "first_wrong": Counter()}
                )
                cell["right"].append(tally.right / tally.answers)
                cell["wrong"] += tally.answers - tally.right
                cell["unseen"] += tally.unseen
                cell["first_wrong"].update(tally.first_wrong)
        if by_size:
            summary[label] = {
                size: {**cell, "first_wrong": dict(cell["first_wrong"].most_common())}
                for size, cell in by_size.items()
            }
    return summary


def marker_lines(summary: dict[str, Any], train_sizes: Sequence[int]) -> list[str]:
    """The report's table of the hinted answers' markers, from their
    :func:`marker_summary` (no lines when it is empty); ``train_sizes``: the
    runs' training sizes, for its caption."""
    if not summary:
        return []
    rows = [
        [
            label,
            size,
            Cell.of(cell["right"]).text(),
            f"{cell['unseen'] / cell['wrong']:.0%}" if cell["wrong"] else "—",
            _most_often(cell["first_wrong"], cell["wrong"]),
        ]
        for label, by_size in summary.items()
        for size, cell in by_size.items()
    ]
    sizes = ", ".join(map(str, train_sizes))
    return [
        "Index markers in the hinted answers (answers whose truth has lists or matrices): "
        "the share whose markers are exactly the truth's, in order (mean ± std over the "
        "seeds; a wrong or missing marker makes an answer unparsable); of the others, the "
        "share whose first wrong marker (the truth's marker where the prediction's first "
        f"differs) is one that no training question of its algorithm has (sizes {sizes}), "
        "and the most common first wrong marker (all seeds).",
        "",
        *markdown_table(
            ["arm", "size", "markers right", "first wrong: never in training", "most often"],
            rows,
        ),
    ]


def _most_often(first_wrong: dict[str, int], wrong: int) -> str:
    """The most common first wrong marker (``first_wrong`` is most common first), in
    backquotes, with its share of the ``wrong`` answers; ``—`` when none is wrong."""
    if not wrong:
        return "—"
    marker, count = next(iter(first_wrong.items()))
    return f"{marker if marker == EXTRA else f'`{marker}`'} ({count / wrong:.0%})"


def _hinted_models(runs: Sequence[RunData]) -> dict[str, list[tuple[ModelResult, RunData]]]:
    models: dict[str, list[tuple[ModelResult, RunData]]] = {}
    for run in runs:
        for model in run.models:
            hinted = model.results["settings"].get("index_hints")
            if hinted and model.evaluation and (model.evaluation / PREDICTIONS_JSONL).is_file():
                models.setdefault(ARMS_BY_NAME[model.run.kind].label, []).append((model, run))
    return models


def _tallies(model: ModelResult, run: RunData) -> dict[int, MarkerTally]:
    largest = max(run.config.lm.data.train_sizes)
    trained = {algorithm: nodes_of_size(algorithm, largest) for algorithm in run.algorithms}
    path = model.evaluation / PREDICTIONS_JSONL
    with path.open(encoding="utf-8") as handle:
        return marker_tallies(map(json.loads, handle), trained)


__all__ = ["EXTRA", "MarkerTally", "first_wrong_marker", "marker_lines", "marker_summary"]
