"""Paired tests between the labels of a comparison, question by question.

The labels of a comparison (the arms: baseline, control, TransNAR; a label's
files: its training seeds) answer the same evaluation questions, and
``results.json`` keeps each answer's scores (``samples``). :class:`PairedTests`
pairs the questions of two labels by ``(algorithm, size, seed, index)``,
checks that their texts agree (``question_sha256``), and gives the difference
``first - second`` of the CLRS score with a paired bootstrap interval
(:mod:`transnar.evaluation.significance`):

1. per question, each label's score is averaged over its files (seeds);
2. per cell (algorithm, size) every label's per-question scores are resampled
   at the same questions (one generator seed per cell, from the cell's name), so
   the difference of two labels' replicates is the bootstrap of the
   per-question differences;
3. per family and size, per size and overall, the cells' replicates are
   combined with the tables' weights (each algorithm counts the same; overall,
   an algorithm's sizes by their questions): a bootstrap stratified by
   algorithm and size, whose observed value is the tables' difference.

The interval says how much the difference depends on which questions were
drawn, for these trained models; the spread between training seeds is the
tables' standard deviation. A cell where two labels did not answer the same
questions has no test there (a warning says so), nor have the aggregates that
hold it. A label also gets an interval of its own mean (:meth:`PairedTests.mean`,
for error bars when it has one file).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from transnar.clrs.specs import SPECS
from transnar.evaluation.samples import EvalSample
from transnar.evaluation.significance import (
    LEVEL,
    RESAMPLES,
    SEED,
    Bootstrap,
    Estimate,
    bootstrap_means,
    combine,
    difference,
    ratio,
    stream_seed,
    summarize,
)

SCORES = ("parse", "shape", "clrs")
"""The per-sample scores bootstrapped (the rows of :attr:`Answers.scores`)."""
METHOD = (
    "paired bootstrap over the questions (each label's score averaged over its files "
    "first), stratified by algorithm and size; percentile interval; two-sided p-value "
    "= twice the smaller share of replicates on either side of 0"
)

Cell = tuple[str, int]
Question = tuple[int, int]  # (sampler seed, index) within a cell
Pair = tuple[str, str]


@dataclass(frozen=True)
class Answers:
    """One label's answers in one cell, averaged over its files.

    Attributes:
        questions: ``(seed, index)`` of each question, sorted.
        texts: each question's ``question_sha256`` (None where not recorded).
        scores: ``(len(SCORES), questions)``: the parse, shape and CLRS scores.
    """

    questions: tuple[Question, ...]
    texts: tuple[str | None, ...]
    scores: np.ndarray


REFERENCE_LABELS = ("baseline", "transnar")
"""With more than :data:`ALL_PAIRS_UP_TO` labels, only the pairs with one of these
(any case) are tested, when the comparison has one."""
ALL_PAIRS_UP_TO = 4


def pairs_of(labels: Sequence[str]) -> list[Pair]:
    """The pairs to test, ``(first, second)`` for ``first - second``: every later
    label against every earlier one, the last label first. With ``baseline,
    control, TransNAR``: TransNAR - baseline, TransNAR - control, control - baseline.

    With more than :data:`ALL_PAIRS_UP_TO` labels (e.g. a run's variants of
    TransNAR), only the pairs with the baseline or TransNAR
    (:data:`REFERENCE_LABELS`) when the labels have either: every label against
    both, not every variant against every other.
    """
    pairs = [(labels[j], labels[i]) for j in range(len(labels) - 1, 0, -1) for i in range(j)]
    references = {label for label in labels if label.lower() in REFERENCE_LABELS}
    if len(labels) <= ALL_PAIRS_UP_TO or not references:
        return pairs
    return [pair for pair in pairs if references & set(pair)]


class PairedTests:
    """Paired bootstrap tests between the labels of a comparison (module docstring).

    Args:
        groups: label -> its results documents (with ``samples``).
        pairs: the ``(first, second)`` label pairs to test (:func:`pairs_of`).
        cells: the ``(algorithm, size)`` cells of the comparison's tables.
        resamples, seed, level: of the bootstrap.

    Attributes:
        missing: label -> why it has no per-question scores (no tests with it).
        warnings: cells left out, and why.
    """

    def __init__(
        self,
        groups: Mapping[str, Sequence[Mapping[str, Any]]],
        pairs: Sequence[Pair],
        cells: Sequence[Cell],
        resamples: int = RESAMPLES,
        seed: int = SEED,
        level: float = LEVEL,
    ):
        self.pairs = list(pairs)
        self.cells = list(cells)
        self.resamples, self.seed, self.level = resamples, seed, level
        self.missing: dict[str, str] = {}
        self.warnings: list[str] = []
        self._answers: dict[str, dict[Cell, Answers]] = {}
        for label, documents in groups.items():
            answers = _label_answers(label, documents, self.warnings)
            if isinstance(answers, str):
                self.missing[label] = answers
            else:
                self._answers[label] = answers
        self._paired = {pair: self._paired_cells(pair) for pair in self.pairs}
        hashes = {d.get("data_sha256") for documents in groups.values() for d in documents}
        unchecked = any(
            None in answers.texts for cells in self._answers.values() for answers in cells.values()
        )
        if unchecked and len(hashes) > 1:
            self.warnings.append(
                "some files do not record their question texts (written by an older "
                "transnar): their questions are paired by algorithm, size, seed and index only"
            )
        self._bootstraps: dict[Cell, dict[tuple[str, str], Bootstrap]] = {}

    @property
    def available(self) -> bool:
        """Whether any pair has a test in any cell."""
        return any(self._paired.values())

    def reason(self) -> str:
        """Why some tests are missing (empty if none is)."""
        if self.missing:
            return "; ".join(self.missing.values())
        if not self.available and self.pairs:
            return "no cell where two labels answered the same questions"
        return ""

    def difference(self, pair: Pair, level: str, key) -> Estimate | None:
        """``first - second`` of the CLRS score in one cell of a table (``level``
        and ``key`` as :class:`~transnar.evaluation.Comparison`), or None
        without a test there."""
        bootstrap = self._difference(pair, level, key)
        return None if bootstrap is None else summarize(bootstrap, self.level)

    def share(self, part: Pair, whole: Pair, level: str, key) -> Estimate | None:
        """The share ``(a - b) / (c - d)`` of the difference ``whole = (c, d)`` that
        ``part = (a, b)`` makes up (e.g. what a student keeps of TransNAR's gain over
        the baseline: ``part = (student, baseline)``, ``whole = (TransNAR,
        baseline)``), with its paired bootstrap interval: both differences from the
        same resamples of the questions. None without both tests there, or where
        ``whole`` is not significant (its interval holds 0: no difference to share)."""
        parts = [self._difference(pair, level, key) for pair in (part, whole)]
        if parts[0] is None or parts[1] is None:
            return None
        numerator, denominator = parts
        if not summarize(denominator, self.level).significant or not denominator.replicates.all():
            return None
        return summarize(ratio(numerator, denominator), self.level)

    def mean(self, label: str, level: str, key, metric: str = "clrs") -> Estimate | None:
        """A label's mean score in one cell of a table, with its bootstrap
        interval over the questions; None without per-question scores."""
        answers = self._answers.get(label, {})
        counts = {cell: len(answers[cell].questions) for cell in self.cells if cell in answers}
        strata = self._strata(level, key, counts)
        if strata is None:
            return None
        parts = [self._bootstrap(label, cell, metric) for cell, _ in strata]
        return summarize(combine(parts, [w for _, w in strata]), self.level)

    def settings(self) -> dict[str, Any]:
        """How the tests were made (for ``comparison.json``)."""
        return {
            "metric": "clrs",
            "method": METHOD,
            "resamples": self.resamples,
            "seed": self.seed,
            "level": self.level,
            "pairs": [list(pair) for pair in self.pairs],
            "missing": self.missing,
            "warnings": self.warnings,
        }

    # --- internals --------------------------------------------------------------------

    def _paired_cells(self, pair: Pair) -> dict[Cell, int]:
        """The cells where both labels answered the same questions -> their count."""
        first, second = pair
        if first not in self._answers or second not in self._answers:
            return {}
        paired = {}
        for cell in self.cells:
            a, b = self._answers[first].get(cell), self._answers[second].get(cell)
            if a is None or b is None:
                continue  # the label's own warning says why
            where = _cell_text(cell)
            if a.questions != b.questions:
                common = len(set(a.questions) & set(b.questions))
                self.warnings.append(
                    f"{where}: {first} and {second} did not answer the same questions "
                    f"({len(a.questions)} and {len(b.questions)}, {common} in common): "
                    "no paired test there"
                )
                continue
            differ = sum(1 for s, t in zip(a.texts, b.texts, strict=True) if s and t and s != t)
            if differ:
                self.warnings.append(
                    f"{where}: {differ} of the questions of {first} and {second} have the same "
                    "seed and index but another text: no paired test there"
                )
                continue
            paired[cell] = len(a.questions)
        return paired

    def _difference(self, pair: Pair, level: str, key) -> Bootstrap | None:
        """The bootstrap of ``first - second`` in one cell of a table, or None."""
        strata = self._strata(level, key, self._paired.get(pair, {}))
        if strata is None:
            return None
        first, second = pair
        parts = [
            difference(self._bootstrap(first, cell, "clrs"), self._bootstrap(second, cell, "clrs"))
            for cell, _ in strata
        ]
        return combine(parts, [w for _, w in strata])

    def _strata(self, level: str, key, counts: Mapping[Cell, int]):
        """``[(cell, weight)]`` of a table cell, or None if one of its cells has no scores."""
        if level == "algorithm_size":
            members = [key] if key in self.cells else []
        elif level == "family_size":
            family, size = key
            members = [c for c in self.cells if c[1] == size and _family(c[0]) == family]
        elif level == "size":
            members = [c for c in self.cells if key == "all" or c[1] == key]
        else:
            raise ValueError(f"unknown level {level!r}")
        if not members or any(c not in counts for c in members):
            return None
        if level == "size" and key == "all":  # the mean over algorithms of their means
            algorithms = {a for a, _ in members}
            totals = {a: sum(counts[c] for c in members if c[0] == a) for a in algorithms}
            return [(c, counts[c] / totals[c[0]] / len(algorithms)) for c in members]
        return [(c, 1.0 / len(members)) for c in members]

    def _bootstrap(self, label: str, cell: Cell, metric: str) -> Bootstrap:
        """A label's bootstrap of one score in one cell; the cell's labels that
        answered the same questions are resampled together, at the same questions."""
        if cell not in self._bootstraps:
            by_questions: dict[tuple, list[str]] = {}
            for name, answers in self._answers.items():
                if cell in answers:
                    by_questions.setdefault(answers[cell].questions, []).append(name)
            done = {}
            for names in by_questions.values():
                matrix = np.concatenate([self._answers[n][cell].scores for n in names])
                seed = stream_seed(self.seed, _cell_text(cell))
                boots = iter(bootstrap_means(matrix, self.resamples, seed))
                for name in names:
                    for score in SCORES:
                        done[(name, score)] = next(boots)
            self._bootstraps[cell] = done
        return self._bootstraps[cell][(label, metric)]


def _label_answers(
    label: str, documents: Sequence[Mapping[str, Any]], warnings: list[str]
) -> dict[Cell, Answers] | str:
    """A label's answers per cell, averaged over its files; or why it has none."""
    files = []
    for document in documents:
        source = document.get("source", "?")
        samples = document.get("samples")
        if not samples:
            return f"`{source}` ({label}) has no per-sample records (evaluated with --no-samples)"
        cells: dict[Cell, dict[Question, tuple[list[float], str | None]]] = {}
        for sample in map(EvalSample.from_dict, samples):
            scores = [getattr(sample.scores, name) for name in SCORES]
            cells.setdefault(sample.cell, {})[sample.stream] = (scores, sample.question_sha256)
        mismatch = _mismatch(document, cells)
        if mismatch:
            return f"the samples of `{source}` ({label}) do not match its scores ({mismatch})"
        files.append(cells)
    answers = {}
    for cell in sorted(set.intersection(*(set(f) for f in files)), key=str):
        questions = sorted(files[0][cell])
        if any(sorted(f[cell]) != questions for f in files[1:]):
            warnings.append(
                f"{_cell_text(cell)}: the files of {label} answered different questions: "
                "no paired test there"
            )
            continue
        known = [{f[cell][q][1] for f in files} - {None} for q in questions]
        if any(len(texts) > 1 for texts in known):
            warnings.append(
                f"{_cell_text(cell)}: the files of {label} hold other question texts for the "
                "same seed and index: no paired test there"
            )
            continue
        scores = np.mean(
            [[f[cell][q][0] for q in questions] for f in files], axis=0
        ).T  # (scores, questions)
        texts = tuple(next(iter(texts), None) for texts in known)
        answers[cell] = Answers(tuple(questions), texts, np.ascontiguousarray(scores))
    return answers


def _mismatch(document: Mapping[str, Any], cells: Mapping[Cell, Mapping]) -> str:
    """Where a file's samples disagree with its score table ('' if nowhere)."""
    table = {(e["algorithm"], e["size"]): e for e in document["scores"]["by_algorithm_size"]}
    unsampled = [cell for cell in table if cell not in cells]
    if unsampled:
        return f"{_cell_text(unsampled[0])} has no samples"
    for cell, questions in cells.items():
        entry = table.get(cell)
        if entry is None:
            return f"{_cell_text(cell)} is not in its table"
        mean = math.fsum(scores[-1] for scores, _ in questions.values()) / len(questions)
        if abs(mean - float(entry["clrs"])) > 1e-6 or entry.get("count", len(questions)) != len(
            questions
        ):
            return f"{_cell_text(cell)}: CLRS {mean:.3f} over {len(questions)} samples, " + (
                f"{float(entry['clrs']):.3f} over {entry.get('count', '?')} in the table"
            )
    return ""


def _family(algorithm: str) -> str | None:
    spec = SPECS.get(algorithm)
    return None if spec is None else spec.family.value


def _cell_text(cell: Cell) -> str:
    return f"{cell[0]} size {cell[1]}"


__all__ = ["METHOD", "SCORES", "Answers", "PairedTests", "pairs_of"]
