"""Comparisons of evaluations: labels (baseline, control, TransNAR) side by side.

:class:`Comparison` groups results documents (:mod:`transnar.evaluation.results`)
by label, ordered baseline, control, TransNAR (:data:`ARM_ORDER`; other
labels after). Several files of one label (e.g. one per training seed) give
means and standard deviations per cell (:class:`Cell`); between every two
labels, the difference of their CLRS scores has a paired bootstrap interval
over the questions both answered (:mod:`transnar.evaluation.paired`).
:meth:`Comparison.to_markdown` and :meth:`Comparison.to_dict` are
``comparison.md`` and ``comparison.json``; :func:`write_plots` draws the
bar charts of :data:`PLOTS` with one bar per label.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transnar import __version__
from transnar.clrs.specs import CLRS30_ALGORITHMS, Family
from transnar.evaluation.paired import PairedTests, pairs_of
from transnar.evaluation.plots import (
    METRICS,
    REGIME_NAMES,
    Series,
    plot_algorithm_scores,
    plot_family_scores,
)
from transnar.evaluation.significance import LEVEL, RESAMPLES, SEED, Estimate
from transnar.tables import markdown_table

COMPARISON_FORMAT = "transnar.eval_comparison"
COMPARISON_VERSION = 1
PLOTS: Mapping[str, str] = {
    "clrs": "clrs_score.png",
    "shape": "shape_score.png",
    "parse": "parse_score.png",
    "families": "family_clrs_score.png",
}
"""Plot -> file name."""


@dataclass(frozen=True)
class Cell:
    """A score of one label in one cell: mean and standard deviation over its files."""

    mean: float
    std: float | None
    files: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Cell:
        """The mean of ``values`` and their sample standard deviation (None for one value)."""
        mean = math.fsum(values) / len(values)
        std = None
        if len(values) > 1:
            std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))
        return cls(mean, std, len(values))

    def text(self) -> str:
        """``0.412 ± 0.020``; one file: ``0.412`` (no ``± 0.000``)."""
        if self.std is None:
            return f"{self.mean:.3f}"
        return f"{self.mean:.3f} ± {self.std:.3f}"


ARM_ORDER = ("baseline", "control", "transnar", "student")
"""The arms in table order; a label is one by its name (any case) or its model's kind."""


def arm_of(label: str, kind: str | None) -> str | None:
    """``baseline``, ``control``, ``transnar`` or ``student`` for a label named so
    (``TransNAR`` too, and a variant such as ``student (test sizes too)``) or,
    failing that, for a model of that kind; None for the others."""
    name = label.lower()
    base = name.split(" (", 1)[0]
    for candidate in (name, base):
        if candidate in ARM_ORDER:
            return candidate
    return kind if kind in ARM_ORDER else None


def questions_asked(document: Mapping[str, Any]) -> str | tuple:
    """What identifies the questions a results document answered: every
    sample's stream and question hash (which leaves out index markers, so a
    model with index hints and one without, asked the same questions, agree),
    or, where a sample does not record its hash, the document's data hash."""
    samples = document.get("samples") or []
    streams = [
        (s["algorithm"], s["size"], s["seed"], s["index"], s.get("question_sha256"))
        for s in samples
    ]
    if not streams or any(stream[-1] is None for stream in streams):
        return document.get("data_sha256")
    return tuple(sorted(streams))


class Comparison:
    """Results documents grouped by label, cell by cell, with paired tests between labels.

    Labels are in arm order (:data:`ARM_ORDER`: baseline, control, TransNAR),
    other labels after, each in order of first appearance. Tables (``level``):
    ``algorithm_size`` keyed ``(algorithm, size)``, ``family_size`` keyed
    ``(family, size)``, ``size`` keyed ``size`` (and ``"all"``: overall).

    Args:
        groups: label -> its results documents, in table order.
        resamples, seed, level: of the paired bootstrap (:attr:`paired`).
    """

    LEVELS = ("algorithm_size", "family_size", "size")

    def __init__(
        self,
        groups: Mapping[str, Sequence[Mapping[str, Any]]],
        resamples: int = RESAMPLES,
        seed: int = SEED,
        level: float = LEVEL,
    ):
        if not groups:
            raise ValueError("nothing to compare")
        self.groups = {label: list(documents) for label, documents in groups.items()}
        self.labels = list(self.groups)
        self.kinds = {
            label: documents[0]["model"]["kind"] for label, documents in self.groups.items()
        }
        self.arms = {label: arm_of(label, self.kinds[label]) for label in self.labels}
        self.pairs = pairs_of(self.labels)
        self._tables = {
            label: [_tables(document) for document in documents]
            for label, documents in self.groups.items()
        }
        first = next(iter(self.groups.values()))[0]
        self.regimes = regimes_of(first)  # size -> regime, as the first file says
        self.train_sizes = (first.get("settings") or {}).get("train_sizes")
        self._bootstrap = (resamples, seed, level)

    @classmethod
    def of(cls, documents: Sequence[Mapping[str, Any]], **options) -> Comparison:
        """Groups documents by label, in arm order (:data:`ARM_ORDER`), then the
        other labels, each in order of first appearance; ``options`` as the
        constructor's."""
        groups: dict[str, list] = {}
        for document in documents:
            groups.setdefault(document["label"], []).append(document)
        for label, group in groups.items():
            kinds = sorted({d["model"]["kind"] for d in group})
            if len(kinds) > 1:
                raise ValueError(
                    f"the files labelled {label!r} hold different kinds of model ({kinds}); "
                    "give them different labels"
                )
        rank = {arm: i for i, arm in enumerate(ARM_ORDER)}
        order = sorted(
            groups,
            key=lambda label: rank.get(arm_of(label, groups[label][0]["model"]["kind"]), 99),
        )  # stable: first appearance within each arm
        return cls({label: groups[label] for label in order}, **options)

    @functools.cached_property
    def paired(self) -> PairedTests:
        """The paired tests between the labels (:mod:`transnar.evaluation.paired`)."""
        resamples, seed, level = self._bootstrap
        cells = self.keys("algorithm_size")
        return PairedTests(self.groups, self.pairs, cells, resamples, seed, level)

    def keys(self, level: str) -> list:
        """The cells of a table that every label has, in table order."""
        if level not in self.LEVELS:
            raise ValueError(f"level must be one of {self.LEVELS}, got {level!r}")
        common = None
        for tables in self._tables.values():
            for table in tables:
                keys = set(table[level])
                common = keys if common is None else common & keys
        return sorted(common or (), key=_key_order)

    def cell(self, label: str, level: str, key, metric: str) -> Cell:
        """The mean (and std over files, when there are several) of a score."""
        return Cell.of([table[level][key][metric] for table in self._tables[label]])

    def difference(self, first: str, second: str, level: str, key) -> Estimate | None:
        """``first - second`` of the CLRS score with its paired test; None without one."""
        return self.paired.difference((first, second), level, key)

    def delta_text(self, first: str, second: str, level: str, key) -> str:
        """``+0.083 [+0.041, +0.125] *`` with a paired test, else the difference of the means."""
        test = self.difference(first, second, level, key) if self.pairs else None
        if test is not None:
            return test.text()
        a, b = (self.cell(label, level, key, "clrs").mean for label in (first, second))
        return f"{a - b:+.3f}"

    def error_bars(self, label: str) -> str | None:
        """What a label's error bars show, or None without any: the standard
        deviation over its files (models), or with one file the bootstrap interval of its
        mean over the questions (when it has per-sample records)."""
        files = len(self.groups[label])
        if files > 1:
            return f"± std over {files} models"
        if label not in self.paired.missing:
            return f"{self.paired.level:.0%} interval over the questions"
        return None

    def series(self, metric: str, level: str = "algorithm_size") -> list[Series]:
        """The :class:`~transnar.evaluation.plots.Series` of a score, one per label,
        with the error bars of :meth:`error_bars`."""
        result = []
        for label in self.labels:
            cells = {key: self.cell(label, level, key, metric) for key in self.keys(level)}
            intervals = {}
            if len(self.groups[label]) == 1 and label not in self.paired.missing:
                for key in cells:
                    estimate = self.paired.mean(label, level, key, metric)
                    if estimate is not None:
                        intervals[key] = (estimate.low, estimate.high)
            errors = {k: c.std for k, c in cells.items() if c.std is not None}
            note = self.error_bars(label) if errors or intervals else None
            means = {k: c.mean for k, c in cells.items()}
            result.append(Series(label, means, errors, self.arms[label], intervals, note))
        return result

    def sizes(self) -> list[int]:
        """The sizes every label has, ascending."""
        return sorted(n for n in self.keys("size") if isinstance(n, int))

    def same_data(self) -> bool:
        """Whether every file was evaluated on the same questions (their index
        markers aside: :func:`questions_asked`)."""
        return len({questions_asked(d) for docs in self.groups.values() for d in docs}) == 1

    def wins(self, metric: str = "clrs") -> tuple[int, int, int] | None:
        """With two labels: cells where the second scores higher, lower, equal."""
        if len(self.labels) != 2:
            return None
        return self.wins_between(self.labels[1], self.labels[0], metric)

    def wins_between(self, first: str, second: str, metric: str = "clrs") -> tuple[int, int, int]:
        """Algorithm x size cells where ``first`` scores higher, lower, equal than ``second``."""
        higher = lower = equal = 0
        for key in self.keys("algorithm_size"):
            a = self.cell(first, "algorithm_size", key, metric).mean
            b = self.cell(second, "algorithm_size", key, metric).mean
            if math.isclose(a, b, abs_tol=1e-12):
                equal += 1
            elif a > b:
                higher += 1
            else:
                lower += 1
        return higher, lower, equal

    def significant_cells(self, first: str, second: str) -> tuple[list, list] | None:
        """Algorithm x size cells where the paired test of ``first - second``
        excludes 0: ``(higher, lower)``, each ``[(algorithm, size), ...]`` in
        table order; None without paired tests."""
        higher, lower, tested = [], [], False
        for key in self.keys("algorithm_size"):
            test = self.difference(first, second, "algorithm_size", key)
            tested = tested or test is not None
            if test is not None and test.significant:
                (higher if test.mean > 0 else lower).append(key)
        return (higher, lower) if tested else None

    def _significant_text(self, first: str, second: str) -> str:
        """``; significantly higher in 2 (bfs at 8, 10), lower in 0`` (empty without tests)."""
        cells = self.significant_cells(first, second)
        if cells is None:
            return ""
        parts = []
        for word, keys in zip(("higher", "lower"), cells, strict=True):
            sizes: dict[str, list[str]] = {}
            for algorithm, size in keys:
                sizes.setdefault(algorithm, []).append(str(size))
            where = "; ".join(f"{a} at {', '.join(n)}" for a, n in sizes.items())
            parts.append(f"{word} in {len(keys)}" + (f" ({where})" if where else ""))
        return "; significantly " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """``comparison.json``: every cell of every table, per label, and the
        differences between labels with their paired tests."""

        def rows(level: str, names: Sequence[str]) -> list[dict]:
            out = []
            for key in self.keys(level):
                keys = key if isinstance(key, tuple) else (key,)
                entry = dict(zip(names, keys, strict=True))
                for label in self.labels:
                    entry[label] = {
                        metric: _cell_dict(self.cell(label, level, key, metric))
                        for metric in METRICS
                    }
                if self.pairs:
                    entry["differences"] = {
                        f"{a} - {b}": _difference_dict(self, a, b, level, key)
                        for a, b in self.pairs
                    }
                out.append(entry)
            return out

        return {
            "format": COMPARISON_FORMAT,
            "version": COMPARISON_VERSION,
            "transnar_version": __version__,
            "labels": self.labels,
            "kinds": self.kinds,
            "files": {
                label: [d.get("source") for d in documents]
                for label, documents in self.groups.items()
            },
            "same_data": self.same_data(),
            "wins_clrs": self.wins(),
            "pairs": [list(pair) for pair in self.pairs],
            "wins_clrs_by_pair": {f"{a} - {b}": self.wins_between(a, b) for a, b in self.pairs},
            "paired_tests": self.paired.settings() if self.pairs else None,
            "by_size": rows("size", ["size"]),
            "by_family_size": rows("family_size", ["family", "size"]),
            "by_algorithm_size": rows("algorithm_size", ["algorithm", "size"]),
        }

    def to_markdown(self) -> str:
        """``comparison.md``: overall, per family and per algorithm tables, with a
        ``Δ CLRS`` column per pair of labels (and its paired test)."""
        labels = self.labels
        lines = [f"# Comparison: {' vs '.join(labels)}", ""]
        for label, documents in self.groups.items():
            sources = ", ".join(f"`{d.get('source', '?')}`" for d in documents)
            files = f"{len(documents)} files" if len(documents) > 1 else "1 file: 1 seed"
            lines.append(f"- {label} ({self.kinds[label]}, {files}): {sources}")
        lines.append(f"- {regimes_line(self.regimes, self.train_sizes)}")
        if any(len(documents) > 1 for documents in self.groups.values()):
            lines.append(
                "- mean ± standard deviation over the files of a label (its training "
                "seeds); a label with one file shows its single values"
            )
        if not self.same_data():
            lines.append(
                "- **warning**: the files were not evaluated on the same questions; "
                "only cells present in all are compared"
            )
        for first, second in self.pairs:
            higher, lower, equal = self.wins_between(first, second)
            lines.append(
                f"- CLRS score per algorithm and size: {first} higher than {second} in "
                f"{higher} of {higher + lower + equal} cells, lower in {lower}, equal in {equal}"
                + self._significant_text(first, second)
            )
        lines += self.test_notes()

        def score_columns(metrics: Sequence[str]) -> list[str]:
            header = [f"{label} {_SHORT[m]}" for m in metrics for label in labels]
            return header + [f"Δ CLRS {a} − {b}" for a, b in self.pairs]

        def score_cells(level: str, key, metrics: Sequence[str]) -> list[str]:
            cells = [self.cell(label, level, key, m).text() for m in metrics for label in labels]
            return cells + [self.delta_text(a, b, level, key) for a, b in self.pairs]

        all_metrics = ("parse", "shape", "clrs")
        lines += ["", "## Overall (mean over algorithms)", ""]
        lines += markdown_table(
            ["size", "regime", *score_columns(all_metrics)],
            [
                [_size(n), regime_name(n, self.regimes), *score_cells("size", n, all_metrics)]
                for n in self.keys("size")
            ],
        )
        lines += ["", "## Per family (CLRS score, mean over its algorithms)", ""]
        lines += markdown_table(
            ["family", "size", *score_columns(("clrs",))],
            [
                [f, _size(n), *score_cells("family_size", (f, n), ("clrs",))]
                for f, n in self.keys("family_size")
            ],
        )
        lines += ["", "## Per algorithm and size", ""]
        lines += markdown_table(
            ["algorithm", "size", *score_columns(all_metrics)],
            [
                [a, _size(n), *score_cells("algorithm_size", (a, n), all_metrics)]
                for a, n in self.keys("algorithm_size")
            ],
        )
        return "\n".join(lines) + "\n"

    def test_notes(self) -> list[str]:
        """Bullet lines saying what the ``Δ CLRS`` columns hold, and which tests are missing."""
        if not self.pairs:
            return []
        paired = self.paired
        lines = []
        if paired.available:
            lines.append(
                f"- Δ CLRS A − B: the mean difference over the questions both answered, with "
                f"its {paired.level:.0%} paired bootstrap interval ({paired.resamples:,} "
                "resamples of the questions, stratified by algorithm and size); * = the "
                "interval excludes 0 (significant; no correction for the number of cells tested)"
            )
        reason = paired.reason()
        if reason:
            what = "some differences" if paired.available else "the difference of the means"
            lines.append(f"- Δ CLRS: {what} without a paired test: {reason}")
        lines += [f"- **warning**: {warning}" for warning in paired.warnings]
        return lines


def write_plots(comparison: Comparison, out: str | os.PathLike) -> list[Path]:
    """The PNG plots of :data:`PLOTS` into ``out`` (overwriting)."""
    out = Path(out)
    sizes = comparison.sizes() or None
    regimes = comparison.regimes
    paths = [
        plot_algorithm_scores(
            comparison.series(metric), out / PLOTS[metric], metric, sizes, regimes=regimes
        )
        for metric in ("clrs", "shape", "parse")
    ]
    families = comparison.series("clrs", "family_size")
    paths.append(
        plot_family_scores(families, out / PLOTS["families"], "clrs", sizes, regimes=regimes)
    )
    return paths


def _tables(document: Mapping[str, Any]) -> dict[str, dict]:
    scores = document["scores"]
    metrics = ("parse", "shape", "clrs")

    def pick(entry):
        return {m: float(entry[m]) for m in metrics}

    return {
        "algorithm_size": {
            (e["algorithm"], e["size"]): pick(e) for e in scores["by_algorithm_size"]
        },
        "family_size": {(e["family"], e["size"]): pick(e) for e in scores["by_family_size"]},
        "size": {
            **{e["size"]: pick(e) for e in scores["by_size"]},
            **({"all": pick(scores["overall"])} if scores.get("overall") else {}),
        },
    }


_SHORT = {"parse": "parse", "shape": "shape", "clrs": "CLRS"}
_ALGORITHM_RANK = {name: i for i, name in enumerate(CLRS30_ALGORITHMS)}
_FAMILY_RANK = {family.value: i for i, family in enumerate(Family)}


def _key_order(key):
    def size_rank(n):
        return (n == "all", n is None, n if isinstance(n, int) else 0)

    if isinstance(key, tuple):
        name, size = key
        rank = _ALGORITHM_RANK.get(name, _FAMILY_RANK.get(name, len(_ALGORITHM_RANK)))
        return (rank, name, size_rank(size))
    return size_rank(key)


def _size(size) -> str:
    return "?" if size is None else str(size)


def regimes_of(document: Mapping[str, Any]) -> dict[int, str | None]:
    """Size -> regime of a results document (``{}`` if it has none)."""
    return {int(size): regime for size, regime in (document.get("regimes") or {}).items()}


def regime_name(size, regimes: Mapping[int, str | None]) -> str:
    """The regime of a size, readable (``OOD extrapolation``), or ``-``."""
    regime = regimes.get(size) if isinstance(size, int) else None
    return REGIME_NAMES.get(regime, regime) if regime else "-"


def regimes_line(regimes: Mapping[int, str | None], train_sizes: Sequence[int] | None) -> str:
    """``sizes: 10 = OOD interpolation, ... (training sizes 4, 5)``."""
    known = [f"{n} = {regime_name(n, regimes)}" for n in sorted(regimes) if regimes[n]]
    trained = (
        f"training sizes {', '.join(map(str, train_sizes))}"
        if train_sizes
        else "training sizes unknown"
    )
    return ("sizes: " + ", ".join(known) + f" ({trained})") if known else trained


def _cell_dict(cell: Cell) -> dict[str, Any]:
    return {"mean": cell.mean, "std": cell.std, "files": cell.files}


def _difference_dict(comparison: Comparison, first: str, second: str, level: str, key) -> dict:
    means = [comparison.cell(label, level, key, "clrs").mean for label in (first, second)]
    test = comparison.difference(first, second, level, key)
    return {"delta": means[0] - means[1], "test": None if test is None else test.to_dict()}


__all__ = [
    "ARM_ORDER",
    "COMPARISON_FORMAT",
    "COMPARISON_VERSION",
    "PLOTS",
    "Cell",
    "Comparison",
    "arm_of",
    "regime_name",
    "regimes_line",
    "regimes_of",
    "write_plots",
]
