"""The report of a scored predictions file: its means per algorithm, size and family.

:func:`aggregate` turns scored rows (:class:`ScoredRow`, from
:mod:`~transnar.clrs.text.scoring`) and the bad rows skipped into a
:class:`ScoreReport`, which :meth:`~ScoreReport.write` saves as
``scores.json``, ``scores.md`` and ``scores.jsonl``.

Aggregates (:class:`ScoreReport`): means of the per-sample scores
(:func:`~transnar.clrs.text.answer_scores.score_answer`) per algorithm and size,
per algorithm (all its samples), per family and size and per family (the
unweighted mean of its algorithms' means, each algorithm weighing the same,
as in the TransNAR paper's per-family averages), per size and overall (the
mean over algorithms). The trace accuracy is averaged over the samples that
have a trace.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transnar.clrs.specs import CLRS30_ALGORITHMS, SPECS, Family
from transnar.clrs.text.answer_scores import AnswerScores
from transnar.persistence import atomic_write, refuse_existing
from transnar.tables import markdown_table

SCORES_JSON = "scores.json"
SCORES_MD = "scores.md"
SCORES_JSONL = "scores.jsonl"
MAX_LISTED_BAD_ROWS = 1000


@dataclass(frozen=True)
class ScoredRow:
    """One scored sample.

    Attributes:
        line: its line number in the file (1-based; 0 for rows not from a file).
        algorithm: the algorithm.
        size: the problem size, ``None`` if unknown.
        use_hints: whether the answers have traces.
        scores: its :class:`~transnar.clrs.text.answer_scores.AnswerScores`.
    """

    line: int
    algorithm: str
    size: int | None
    use_hints: bool
    scores: AnswerScores


@dataclass(frozen=True)
class BadRow:
    """A row that could not be scored, and why."""

    line: int
    error: str


@dataclass(frozen=True)
class Summary:
    """Mean scores over a group of samples.

    Attributes:
        count: number of samples.
        parse: mean parse score.
        shape: mean shape score.
        clrs: mean CLRS score.
        trace: mean trace accuracy over the samples with a trace; ``None`` if none has.
        trace_count: number of samples with a trace.
        algorithms: number of algorithms averaged (family, size and overall
            summaries are means of per-algorithm means).
    """

    count: int
    parse: float
    shape: float
    clrs: float
    trace: float | None
    trace_count: int
    algorithms: int = 1

    @classmethod
    def of_scores(cls, scores: Iterable[AnswerScores]) -> Summary:
        """The means of per-sample scores."""
        scores = list(scores)
        traces = [s.trace for s in scores if s.trace is not None]
        return cls(
            count=len(scores),
            parse=_mean(s.parse for s in scores),
            shape=_mean(s.shape for s in scores),
            clrs=_mean(s.clrs for s in scores),
            trace=_mean(traces) if traces else None,
            trace_count=len(traces),
        )

    @classmethod
    def of_summaries(cls, summaries: Iterable[Summary]) -> Summary:
        """The unweighted mean of per-algorithm summaries."""
        summaries = list(summaries)
        traces = [s.trace for s in summaries if s.trace is not None]
        return cls(
            count=sum(s.count for s in summaries),
            parse=_mean(s.parse for s in summaries),
            shape=_mean(s.shape for s in summaries),
            clrs=_mean(s.clrs for s in summaries),
            trace=_mean(traces) if traces else None,
            trace_count=sum(s.trace_count for s in summaries),
            algorithms=len(summaries),
        )


@dataclass
class ScoreReport:
    """Scores of a set of predictions, aggregated (see the module docstring).

    Keys of the ``by_*`` tables are in the order of
    :data:`~transnar.clrs.CLRS30_ALGORITHMS` and of the families, sizes
    ascending, an unknown size (``None``) last.
    """

    by_algorithm_size: dict[tuple[str, int | None], Summary]
    by_algorithm: dict[str, Summary]
    by_family_size: dict[tuple[str, int | None], Summary]
    by_family: dict[str, Summary]
    by_size: dict[int | None, Summary]
    overall: Summary | None
    bad_rows: list[BadRow] = field(default_factory=list)
    source: str | None = None
    rows: list[ScoredRow] = field(default_factory=list, repr=False)
    """The scored rows (``scores.jsonl``; not in :meth:`to_dict`)."""

    @property
    def has_traces(self) -> bool:
        """Whether any sample has a trace."""
        return self.overall is not None and self.overall.trace_count > 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``scores.json``)."""

        return {
            "source": self.source,
            "samples": 0 if self.overall is None else self.overall.count,
            "bad_rows": len(self.bad_rows),
            "overall": None if self.overall is None else asdict(self.overall),
            "by_algorithm_size": [
                {"algorithm": a, "family": SPECS[a].family.value, "size": n, **asdict(s)}
                for (a, n), s in self.by_algorithm_size.items()
            ],
            "by_algorithm": [
                {"algorithm": a, "family": SPECS[a].family.value, **asdict(s)}
                for a, s in self.by_algorithm.items()
            ],
            "by_family_size": [
                {"family": f, "size": n, **asdict(s)} for (f, n), s in self.by_family_size.items()
            ],
            "by_family": [{"family": f, **asdict(s)} for f, s in self.by_family.items()],
            "by_size": [{"size": k, **asdict(s)} for k, s in self.by_size.items()],
            "bad_row_errors": [asdict(b) for b in self.bad_rows[:MAX_LISTED_BAD_ROWS]],
            "definitions": {
                "parse": "1 iff the answer holds only characters legal for the algorithm's "
                "output grammar and parses into its structure",
                "shape": "1 iff it parses and has exactly the truth's shape",
                "clrs": "fraction of elements equal to the truth (numbers compared by value); "
                "0 if the shape is wrong",
                "trace": "fraction of trace steps equal to the truth's; 0 if the step counts "
                "differ or the trace does not parse",
                "families, sizes, overall": "unweighted means of per-algorithm means",
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreReport:
        """Inverse of :meth:`to_dict` (the listed bad rows only).

        Raises:
            ValueError: not a dictionary written by :meth:`to_dict`.
        """
        try:

            def summary(entry: Mapping[str, Any]) -> Summary:
                return Summary(**{f.name: entry[f.name] for f in dataclasses.fields(Summary)})

            overall = data["overall"]
            return cls(
                by_algorithm_size={
                    (e["algorithm"], e["size"]): summary(e) for e in data["by_algorithm_size"]
                },
                by_algorithm={e["algorithm"]: summary(e) for e in data["by_algorithm"]},
                by_family_size={
                    (e["family"], e["size"]): summary(e) for e in data["by_family_size"]
                },
                by_family={e["family"]: summary(e) for e in data["by_family"]},
                by_size={e["size"]: summary(e) for e in data["by_size"]},
                overall=None if overall is None else summary(overall),
                bad_rows=[BadRow(**b) for b in data.get("bad_row_errors", [])],
                source=data.get("source"),
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a score report: {type(error).__name__} {error}") from None

    def to_markdown(self, title: str = "CLRS-Text scores", preamble: Iterable[str] = ()) -> str:
        """The tables as Markdown (``scores.md``; also what ``transnar score`` prints).

        Args:
            title: the heading.
            preamble: lines put after the sample count, before the tables.
        """
        trace = self.has_traces
        lines = [f"# {title}", ""]
        samples = 0 if self.overall is None else self.overall.count
        about = f"{samples} samples"
        if self.source:
            about = f"`{self.source}`: {about}"
        if self.bad_rows:
            about += f", {len(self.bad_rows)} bad rows skipped"
        lines += [about, ""]
        preamble = list(preamble)
        unknown = self.unknown_size_note()
        if unknown:
            preamble.append(unknown)
        if preamble:
            lines += [*preamble, ""]
        if self.overall is None:
            return "\n".join(lines)
        scores = ["parse", "shape", "CLRS"] + (["trace"] if trace else [])

        def row(*labels, summary: Summary, algorithms: bool = True) -> list[str]:
            counts = [str(summary.algorithms)] if algorithms else []
            return [*labels, *counts, str(summary.count), *_scores(summary, trace)]

        lines += ["## Per algorithm and size", ""]
        lines += markdown_table(
            ["algorithm", "size", "n", *scores],
            [
                row(a, _size(n), summary=s, algorithms=False)
                for (a, n), s in self.by_algorithm_size.items()
            ],
        )
        family_rows = []
        for family, summary in self.by_family.items():
            family_rows += [
                row(f, _size(n), summary=s)
                for (f, n), s in self.by_family_size.items()
                if f == family
            ]
            family_rows.append(row(family, "all", summary=summary))
        lines += ["", "## Per family (mean over its algorithms)", ""]
        lines += markdown_table(["family", "size", "algorithms", "n", *scores], family_rows)
        overall_rows = [row(_size(n), summary=s) for n, s in self.by_size.items()]
        overall_rows.append(row("all", summary=self.overall))
        lines += ["", "## Overall (mean over algorithms)", ""]
        lines += markdown_table(["size", "algorithms", "n", *scores], overall_rows)
        return "\n".join(lines) + "\n"

    def unknown_size_note(self) -> str | None:
        """A sentence on the samples of unknown size, if there are any."""
        unknown = {a: s.count for (a, n), s in self.by_algorithm_size.items() if n is None}
        if not unknown:
            return None
        counts = ", ".join(f"{a} ({count})" for a, count in unknown.items())
        note = (
            f"Size '?': {sum(unknown.values())} samples of unknown size, kept apart from the "
            f"sizes: {counts}."
        )
        if "segments_intersect" in unknown:
            note += (
                " A segments_intersect question always has 4 points, whatever its "
                "CLRS-Text length: give its rows a 'length'."
            )
        return note

    def write(self, out: str | os.PathLike, overwrite: bool = False) -> list[Path]:
        """Writes ``scores.json``, ``scores.md`` and ``scores.jsonl`` (one line
        per scored row: its line, algorithm, size, use_hints and scores) into
        the directory ``out``.

        Raises:
            OutputExistsError: a file exists and ``overwrite`` is false
                (checked for all before writing any).
        """
        paths = report_paths(out)
        refuse_existing(paths, overwrite)
        with atomic_write(paths[0], overwrite=overwrite, mode="w") as handle:
            json.dump(self.to_dict(), handle, indent=1)
            handle.write("\n")
        with atomic_write(paths[1], overwrite=overwrite, mode="w") as handle:
            handle.write(self.to_markdown())
        with atomic_write(paths[2], overwrite=overwrite, mode="w") as handle:
            for row in self.rows:
                record = {k: v for k, v in asdict(row).items() if k != "scores"}
                handle.write(json.dumps({**record, **asdict(row.scores)}) + "\n")
        return paths


def report_paths(out: str | os.PathLike) -> list[Path]:
    """The files :meth:`ScoreReport.write` writes into ``out``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; the scores go into a directory")
    return [out / SCORES_JSON, out / SCORES_MD, out / SCORES_JSONL]


def aggregate(
    rows: Iterable[ScoredRow], bad_rows: Iterable[BadRow] = (), source: str | None = None
) -> ScoreReport:
    """Means per algorithm and size, algorithm, family and size, family, size, overall."""
    rows = list(rows)
    cells: dict[tuple[str, int | None], list[AnswerScores]] = {}
    per_algorithm: dict[str, list[AnswerScores]] = {}
    for row in rows:
        cells.setdefault((row.algorithm, row.size), []).append(row.scores)
        per_algorithm.setdefault(row.algorithm, []).append(row.scores)
    order = {name: i for i, name in enumerate(CLRS30_ALGORITHMS)}
    families = {family.value: i for i, family in enumerate(Family)}

    def size_key(size):
        return (size is None, size or 0)

    by_cell = {
        k: Summary.of_scores(cells[k])
        for k in sorted(cells, key=lambda k: (order[k[0]], size_key(k[1])))
    }
    by_algorithm = {
        a: Summary.of_scores(per_algorithm[a]) for a in sorted(per_algorithm, key=order.get)
    }
    family_of = {a: SPECS[a].family.value for a in by_algorithm}
    by_family = {
        f: Summary.of_summaries(s for a, s in by_algorithm.items() if family_of[a] == f)
        for f in sorted(set(family_of.values()), key=families.get)
    }
    sizes = sorted({n for _, n in by_cell}, key=size_key)
    by_family_size = {}
    for f in by_family:
        for n in sizes:
            group = [s for (a, m), s in by_cell.items() if m == n and family_of[a] == f]
            if group:
                by_family_size[(f, n)] = Summary.of_summaries(group)
    by_size = {n: Summary.of_summaries(s for (_, m), s in by_cell.items() if m == n) for n in sizes}
    overall = Summary.of_summaries(by_algorithm.values()) if by_algorithm else None
    return ScoreReport(
        by_cell,
        by_algorithm,
        by_family_size,
        by_family,
        by_size,
        overall,
        list(bad_rows),
        source,
        rows,
    )


# --- Formatting ------------------------------------------------------------------


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.fsum(values) / len(values) if values else 0.0


def _size(size: int | None) -> str:
    return "?" if size is None else str(size)


def _scores(summary: Summary, trace: bool) -> list[str]:
    cells = [f"{summary.parse:.3f}", f"{summary.shape:.3f}", f"{summary.clrs:.3f}"]
    if trace:
        cells.append("-" if summary.trace is None else f"{summary.trace:.3f}")
    return cells


__all__ = [
    "BadRow",
    "ScoreReport",
    "ScoredRow",
    "Summary",
    "aggregate",
    "report_paths",
]
