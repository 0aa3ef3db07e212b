"""Result files of an evaluation, and comparisons of several (baseline vs TransNAR).

An evaluation directory (:func:`write_results`) holds:

- ``results.json``: ``format`` ``transnar.eval_results`` version 1; the model
  (``label``, ``kind``, ``path``, config, parameters), the resolved
  ``settings`` (algorithms, sizes, seeds, count, positions, ...), the size
  ``regimes``, ``data_sha256`` (every question and answer, in order),
  ``transnar_version``, ``torch_version``, ``created``, ``timing``, the
  ``scores`` (:meth:`~transnar.clrs.text.scoring.ScoreReport.to_dict`: per
  algorithm x size, algorithm, family x size, family, size, overall), and,
  unless left out, ``samples``: per sample its stream (algorithm, size, seed,
  index), the prediction, its scores, tokens generated and whether it stopped;
- ``predictions.jsonl``: one row per sample (the CLRS-Text row with its
  ``prediction``): ``transnar score predictions.jsonl`` scores it again;
- ``results.md``: the tables;
- PNG plots (:data:`PLOTS`): per algorithm the CLRS, shape and parse scores
  with one panel per size (the paper's Figures 4-6), and the CLRS score per
  family (Figure 1); with the results of other models beside it when compared.

A comparison (:class:`Comparison`, :func:`write_comparison`) groups result
files by label: several files with the same label (e.g. one per training
seed) give means and standard deviations (error bars). It writes
``comparison.md``, ``comparison.json`` and the same plots with one bar per
label.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from transnar import __version__
from transnar._files import atomic_write, refuse_existing
from transnar.clrs.specs import CLRS30_ALGORITHMS, Family
from transnar.clrs.text.scoring import ScoreReport, markdown_table
from transnar.evaluation.evaluate import EvalResults
from transnar.evaluation.plots import (
    METRICS,
    REGIME_NAMES,
    Series,
    plot_algorithm_scores,
    plot_family_scores,
)

FORMAT = "transnar.eval_results"
VERSION = 1
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
PREDICTIONS_JSONL = "predictions.jsonl"
COMPARISON_JSON = "comparison.json"
COMPARISON_MD = "comparison.md"
COMPARISON_FORMAT = "transnar.eval_comparison"
PLOTS: Mapping[str, str] = {
    "clrs": "clrs_score.png",
    "shape": "shape_score.png",
    "parse": "parse_score.png",
    "families": "family_clrs_score.png",
}
"""Plot -> file name."""

_SAMPLE_FIELDS = (
    "algorithm",
    "size",
    "seed",
    "index",
    "prediction",
    "parse",
    "shape",
    "clrs",
    "trace",
    "num_tokens",
    "stopped",
)


# --- one evaluation -----------------------------------------------------------------


def results_to_dict(results: EvalResults, include_samples: bool = True) -> dict[str, Any]:
    """The ``results.json`` document."""
    document = {
        "format": FORMAT,
        "version": VERSION,
        "transnar_version": __version__,
        "torch_version": torch.__version__,
        "created": results.created,
        "label": results.label,
        "model": results.model,
        "settings": results.settings.to_dict(),
        "regimes": {str(size): regime for size, regime in results.settings.regimes().items()},
        "data_sha256": results.data_sha256,
        "timing": results.timing,
        "scores": results.report.to_dict(),
    }
    if include_samples and results.samples:
        document["samples"] = [{k: s[k] for k in _SAMPLE_FIELDS} for s in results.samples]
    return document


def results_markdown(document: Mapping[str, Any]) -> str:
    """``results.md``: the settings, then the score tables, of a results document."""
    report = ScoreReport.from_dict(document["scores"])
    model, settings = document["model"], document["settings"]
    timing = document.get("timing", {})
    preamble = [
        f"- model: {document['label']} ({model['kind']})"
        + (f", `{model['path']}`" if model.get("path") else "")
        + f", {model['parameters_trainable']:,} trainable parameters",
        f"- algorithms: {', '.join(settings['algorithms'])}",
        f"- sizes {', '.join(map(str, settings['sizes']))}; seeds "
        f"{', '.join(map(str, settings['seeds']))}; {settings['count']} samples per "
        "algorithm, size and seed",
        f"- greedy decoding, {settings['positions']} positions (seed "
        f"{settings['position_seed']}), at most the longest true answer + "
        f"max({settings['min_margin']}, {settings['margin']:g} x it) new tokens",
        f"- {_regimes_line(regimes_of(document), settings.get('train_sizes'))}",
        f"- transnar {document['transnar_version']}, torch {document['torch_version']}, "
        f"{document['created']}; data sha256 `{document['data_sha256'][:16]}`",
    ]
    if timing:
        preamble.append(
            f"- {timing['seconds']:.1f} s on {timing.get('device', '?')} "
            f"({timing['nar_seconds']:.1f} s in the NAR), "
            f"{timing['tokens_per_second']:.0f} generated tokens/s"
        )
    return report.to_markdown(f"Evaluation: {document['label']}", preamble)


def write_results(
    results: EvalResults,
    out: str | os.PathLike,
    overwrite: bool = False,
    include_samples: bool = True,
    plots: bool = True,
    compare_with: Sequence[Mapping[str, Any]] = (),
) -> list[Path]:
    """Writes ``results.json``, ``results.md``, ``predictions.jsonl`` (with
    samples) and the plots into ``out``.

    Args:
        results: the evaluation.
        out: the directory (created).
        overwrite: replace existing files; otherwise refuse before writing any.
        include_samples: per-sample records in ``results.json`` and ``predictions.jsonl``.
        plots: write the PNG plots.
        compare_with: other results documents (:func:`load_results`) to plot
            beside this one; a ``comparison.md`` and ``comparison.json`` are
            written too.

    Returns:
        The files written.
    """
    out = _directory(out)
    document = results_to_dict(results, include_samples)
    documents = [{**document, "source": str(out / RESULTS_JSON)}, *compare_with]
    paths = [out / RESULTS_JSON, out / RESULTS_MD]
    if include_samples and results.samples:
        paths.append(out / PREDICTIONS_JSONL)
    if plots:
        paths += [out / name for name in PLOTS.values()]
    if compare_with:
        paths += [out / COMPARISON_JSON, out / COMPARISON_MD]
    refuse_existing(paths, overwrite)
    comparison = Comparison.of(documents) if compare_with else None
    if comparison is not None and not comparison.keys("algorithm_size"):
        raise ValueError("the results compared with have no algorithm and size in common")
    _write_json(out / RESULTS_JSON, document)
    _write_text(out / RESULTS_MD, results_markdown(document))
    if include_samples and results.samples:
        with atomic_write(out / PREDICTIONS_JSONL, overwrite=True, mode="w") as handle:
            for sample in results.samples:
                handle.write(json.dumps(_prediction_row(sample, results)) + "\n")
    if plots:
        write_plots(comparison or Comparison.of(documents), out)
    if comparison is not None:
        _write_json(out / COMPARISON_JSON, comparison.to_dict())
        _write_text(out / COMPARISON_MD, comparison.to_markdown())
    return paths


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """A ``results.json`` (or the directory holding one), checked.

    Raises:
        ValueError: no such file, not JSON, not a results file of this version.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_JSON
    if not path.is_file():
        raise ValueError(f"{path}: no such results file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file (written by 'transnar lm eval')")
    if document.get("version") != VERSION:
        raise ValueError(f"{path} has version {document.get('version')!r}; expected {VERSION}")
    try:
        ScoreReport.from_dict(document["scores"])
        for keys in (("label",), ("model", "kind"), ("settings", "sizes")):
            node = document
            for key in keys:
                node = node[key]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: incomplete results file ({error})") from None
    document.setdefault("source", str(path))
    return document


# --- comparisons ----------------------------------------------------------------------


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
        if self.std is None:
            return f"{self.mean:.3f}"
        return f"{self.mean:.3f} ± {self.std:.3f}"


class Comparison:
    """Results documents grouped by label (baseline first), cell by cell.

    Tables (``level``): ``algorithm_size`` keyed ``(algorithm, size)``,
    ``family_size`` keyed ``(family, size)``, ``size`` keyed ``size``.
    """

    LEVELS = ("algorithm_size", "family_size", "size")

    def __init__(self, groups: Mapping[str, Sequence[Mapping[str, Any]]]):
        if not groups:
            raise ValueError("nothing to compare")
        self.groups = {label: list(documents) for label, documents in groups.items()}
        self.labels = list(self.groups)
        self.kinds = {
            label: documents[0]["model"]["kind"] for label, documents in self.groups.items()
        }
        self._tables = {
            label: [_tables(document) for document in documents]
            for label, documents in self.groups.items()
        }
        first = next(iter(self.groups.values()))[0]
        self.regimes = regimes_of(first)  # size -> regime, as the first file says
        self.train_sizes = (first.get("settings") or {}).get("train_sizes")

    @classmethod
    def of(cls, documents: Sequence[Mapping[str, Any]]) -> Comparison:
        """Groups documents by label: the baselines' labels first, then the
        others, each in order of first appearance."""
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
        order = sorted(
            groups, key=lambda label: groups[label][0]["model"]["kind"] != "baseline"
        )  # stable: first appearance within each kind
        return cls({label: groups[label] for label in order})

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

    def series(self, metric: str, level: str = "algorithm_size") -> list[Series]:
        """The :class:`~transnar.evaluation.plots.Series` of a score, one per label."""
        result = []
        for label in self.labels:
            cells = {key: self.cell(label, level, key, metric) for key in self.keys(level)}
            result.append(
                Series(
                    label,
                    {k: c.mean for k, c in cells.items()},
                    {k: c.std for k, c in cells.items() if c.std is not None},
                    self.kinds[label],
                )
            )
        return result

    def sizes(self) -> list[int]:
        """The sizes every label has, ascending."""
        return sorted(n for n in self.keys("size") if isinstance(n, int))

    def same_data(self) -> bool:
        """Whether every file was evaluated on the same questions."""
        return len({d.get("data_sha256") for docs in self.groups.values() for d in docs}) == 1

    def wins(self, metric: str = "clrs") -> tuple[int, int, int] | None:
        """With two labels: cells where the second scores higher, lower, equal."""
        if len(self.labels) != 2:
            return None
        first, second = self.labels
        higher = lower = equal = 0
        for key in self.keys("algorithm_size"):
            a = self.cell(first, "algorithm_size", key, metric).mean
            b = self.cell(second, "algorithm_size", key, metric).mean
            if math.isclose(a, b, abs_tol=1e-12):
                equal += 1
            elif b > a:
                higher += 1
            else:
                lower += 1
        return higher, lower, equal

    def to_dict(self) -> dict[str, Any]:
        """``comparison.json``: every cell of every table, per label."""

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
                out.append(entry)
            return out

        return {
            "format": COMPARISON_FORMAT,
            "version": VERSION,
            "transnar_version": __version__,
            "labels": self.labels,
            "kinds": self.kinds,
            "files": {
                label: [d.get("source") for d in documents]
                for label, documents in self.groups.items()
            },
            "same_data": self.same_data(),
            "wins_clrs": self.wins(),
            "by_size": rows("size", ["size"]),
            "by_family_size": rows("family_size", ["family", "size"]),
            "by_algorithm_size": rows("algorithm_size", ["algorithm", "size"]),
        }

    def to_markdown(self) -> str:
        """``comparison.md``: overall, per family and per algorithm tables."""
        labels = self.labels
        title = " vs ".join(labels)
        lines = [f"# Comparison: {title}", ""]
        for label, documents in self.groups.items():
            sources = ", ".join(f"`{d.get('source', '?')}`" for d in documents)
            lines.append(f"- {label} ({self.kinds[label]}, {len(documents)} file(s)): {sources}")
        lines.append(f"- {_regimes_line(self.regimes, self.train_sizes)}")
        if any(len(documents) > 1 for documents in self.groups.values()):
            lines.append("- mean ± standard deviation over the files of a label")
        if not self.same_data():
            lines.append(
                "- **warning**: the files were not evaluated on the same questions "
                "(their data hashes differ); only cells present in all are compared"
            )
        wins = self.wins()
        if wins is not None:
            higher, lower, equal = wins
            total = higher + lower + equal
            lines.append(
                f"- CLRS score per algorithm and size: {labels[1]} higher than {labels[0]} "
                f"in {higher} of {total} cells, lower in {lower}, equal in {equal}"
            )
        delta = len(labels) == 2

        def score_columns(metrics: Sequence[str]) -> list[str]:
            header = [f"{label} {_SHORT[m]}" for m in metrics for label in labels]
            return header + (["Δ CLRS"] if delta and "clrs" in metrics else [])

        def score_cells(level: str, key, metrics: Sequence[str]) -> list[str]:
            cells = [self.cell(label, level, key, m).text() for m in metrics for label in labels]
            if delta and "clrs" in metrics:
                a, b = (self.cell(label, level, key, "clrs").mean for label in labels)
                cells.append(f"{b - a:+.3f}")
            return cells

        all_metrics = ("parse", "shape", "clrs")
        lines += ["", "## Overall (mean over algorithms)", ""]
        lines += markdown_table(
            ["size", "regime", *score_columns(all_metrics)],
            [
                [_size(n), _regime(n, self.regimes), *score_cells("size", n, all_metrics)]
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


def write_comparison(
    documents: Sequence[Mapping[str, Any]],
    out: str | os.PathLike,
    overwrite: bool = False,
    plots: bool = True,
) -> tuple[Comparison, list[Path]]:
    """Compares results documents: ``comparison.json``, ``comparison.md`` and the plots.

    Raises:
        OutputExistsError: a file exists and ``overwrite`` is false.
        ValueError: nothing to compare, or no cell that every label has.
    """
    out = _directory(out)
    comparison = Comparison.of(documents)
    if not comparison.keys("algorithm_size"):
        raise ValueError("the results have no algorithm and size in common")
    paths = [out / COMPARISON_JSON, out / COMPARISON_MD]
    if plots:
        paths += [out / name for name in PLOTS.values()]
    refuse_existing(paths, overwrite)
    _write_json(out / COMPARISON_JSON, comparison.to_dict())
    _write_text(out / COMPARISON_MD, comparison.to_markdown())
    if plots:
        write_plots(comparison, out)
    return comparison, paths


# --- helpers -----------------------------------------------------------------------------


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


def _regime(size, regimes: Mapping[int, str | None]) -> str:
    regime = regimes.get(size) if isinstance(size, int) else None
    return REGIME_NAMES.get(regime, regime) if regime else "-"


def _regimes_line(regimes: Mapping[int, str | None], train_sizes: Sequence[int] | None) -> str:
    known = [f"{n} = {_regime(n, regimes)}" for n in sorted(regimes) if regimes[n]]
    trained = (
        f"training sizes {', '.join(map(str, train_sizes))}"
        if train_sizes
        else "training sizes unknown"
    )
    return ("sizes: " + ", ".join(known) + f" ({trained})") if known else trained


def _cell_dict(cell: Cell) -> dict[str, Any]:
    return {"mean": cell.mean, "std": cell.std, "files": cell.files}


def _prediction_row(sample: Mapping[str, Any], results: EvalResults) -> dict[str, Any]:
    """A ``transnar score`` row: the CLRS-Text row's fields and the prediction."""
    settings = results.settings
    return {
        "question": sample["question"],
        "answer": sample["answer"],
        "algo_name": sample["algorithm"],
        "length": sample["size"],
        "use_hints": settings.use_hints,
        "seed": sample["seed"],
        "index": sample["index"],
        "float_format": settings.float_format,
        "truncate_decimals": settings.truncate_decimals,
        "prediction": sample["prediction"],
    }


def _directory(out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; the output must be a directory")
    return out


def _write_json(path: Path, document: Any) -> None:
    with atomic_write(path, overwrite=True, mode="w") as handle:
        json.dump(document, handle, indent=1)
        handle.write("\n")


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path, overwrite=True, mode="w") as handle:
        handle.write(text)


__all__ = [
    "COMPARISON_JSON",
    "COMPARISON_MD",
    "FORMAT",
    "PLOTS",
    "PREDICTIONS_JSONL",
    "RESULTS_JSON",
    "RESULTS_MD",
    "VERSION",
    "Cell",
    "Comparison",
    "load_results",
    "regimes_of",
    "results_markdown",
    "results_to_dict",
    "write_comparison",
    "write_plots",
    "write_results",
]
