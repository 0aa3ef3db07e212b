"""Result files of an evaluation, and comparisons of several (baseline, control, TransNAR).

An evaluation directory (:func:`write_results`) holds:

- ``results.json``: ``format`` ``transnar.eval_results`` version 1; the model
  (``label``, ``kind``, ``path``, config, parameters), the resolved
  ``settings`` (algorithms, sizes, seeds, count, positions, ...), the size
  ``regimes``, ``data_sha256`` (every question and answer, in order),
  ``transnar_version``, ``torch_version``, ``created``, ``timing``, the
  ``scores`` (:meth:`~transnar.clrs.text.score_report.ScoreReport.to_dict`: per
  algorithm x size, algorithm, family x size, family, size, overall), and,
  unless left out, ``samples``: per question its record
  (:meth:`~transnar.evaluation.samples.EvalSample.to_record`: its stream,
  ``question_sha256``, by which comparisons check that paired questions are the
  same instance, the prediction, its scores, tokens generated and whether it
  stopped);
- ``predictions.jsonl``: one row per sample (the CLRS-Text row with its
  ``prediction``): ``transnar score predictions.jsonl`` scores it again;
- ``results.md``: the tables;
- PNG plots (:data:`PLOTS`): per algorithm the CLRS, shape and parse scores
  with one panel per size (the paper's Figures 4-6), and the CLRS score per
  family (Figure 1); with the results of other models beside it when compared.

:func:`restrict_results` keeps some of a document's algorithms (its tables made
again from their samples).

:func:`write_comparison` writes a :class:`~transnar.evaluation.comparison.Comparison`
of several results files (labels side by side, means ± std over a label's
files, paired tests between labels): ``comparison.md``, ``comparison.json``
and the same plots with one bar per label. (``Comparison``, ``Cell``,
``write_plots``, ``PLOTS`` and ``regimes_of`` live in
:mod:`transnar.evaluation.comparison` and are importable from here too.)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from transnar import __version__
from transnar.clrs.text.score_report import ScoreReport
from transnar.evaluation.comparison import (
    COMPARISON_FORMAT,
    PLOTS,
    Cell,
    Comparison,
    regimes_of,
    write_plots,
)
from transnar.evaluation.comparison import regimes_line as _regimes_line
from transnar.evaluation.evaluate import EvalResults
from transnar.evaluation.samples import EvalSample, aggregate_samples
from transnar.evaluation.significance import RESAMPLES
from transnar.persistence import atomic_write, refuse_existing, write_json

FORMAT = "transnar.eval_results"
VERSION = 1
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
PREDICTIONS_JSONL = "predictions.jsonl"
COMPARISON_JSON = "comparison.json"
COMPARISON_MD = "comparison.md"


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
        document["samples"] = [sample.to_record() for sample in results.samples]
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
        f"{settings['position_seed']}), {_budget_line(settings)}",
        f"- {_regimes_line(regimes_of(document), settings.get('train_sizes'))}",
        f"- transnar {document['transnar_version']}, torch {document['torch_version']}, "
        f"{document['created']}; data sha256 `{document['data_sha256'][:16]}`",
    ]
    if settings.get("index_hints"):
        preamble.insert(3, "- index hints: list and matrix elements carry their index markers")
    if timing:
        preamble.append(
            f"- {timing['seconds']:.1f} s on {timing.get('device', '?')} "
            f"({timing['nar_seconds']:.1f} s in the NAR), "
            f"{timing['tokens_per_second']:.0f} generated tokens/s"
        )
    return report.to_markdown(f"Evaluation: {document['label']}", preamble)


def _budget_line(settings: Mapping[str, Any]) -> str:
    """How many tokens each sample could generate (results files before the
    leak-free budget recorded a margin over the longest true answer)."""
    if "min_margin" in settings:
        return (
            f"at most the longest true answer + max({settings['min_margin']}, "
            f"{settings['margin']:g} x it) new tokens"
        )
    return "at most the bound on the answer's length from its algorithm and inputs"


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
    write_json(out / RESULTS_JSON, document, indent=1)
    _write_text(out / RESULTS_MD, results_markdown(document))
    if include_samples and results.samples:
        with atomic_write(out / PREDICTIONS_JSONL, overwrite=True, mode="w") as handle:
            for sample in results.samples:
                handle.write(json.dumps(_prediction_row(sample, results)) + "\n")
    if plots:
        write_plots(comparison or Comparison.of(documents), out)
    if comparison is not None:
        write_json(out / COMPARISON_JSON, comparison.to_dict(), indent=1)
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


def restrict_results(document: Mapping[str, Any], algorithms: Sequence[str]) -> dict[str, Any]:
    """A results document of ``document``'s answers to ``algorithms`` only: its
    samples of those algorithms, its score tables made again from them
    (:func:`~transnar.evaluation.samples.aggregate_samples`) and its settings
    naming them; the rest as it is. Comparisons of such documents are the
    comparisons of those algorithms' cells (e.g. the index-search algorithms).

    Raises:
        ValueError: a document without samples (evaluated with ``--no-samples``),
            or an algorithm it was not evaluated on.
    """
    source = document.get("source", document.get("label", "?"))
    samples = document.get("samples")
    if not samples:
        raise ValueError(
            f"{source} has no per-sample records (evaluated with --no-samples): its scores "
            "cannot be restricted to some algorithms"
        )
    settings = document["settings"]
    unknown = [name for name in algorithms if name not in settings["algorithms"]]
    if unknown:
        raise ValueError(
            f"{source} was not evaluated on {', '.join(unknown)} "
            f"(its algorithms: {', '.join(settings['algorithms'])})"
        )
    kept = [record for record in samples if record["algorithm"] in algorithms]
    report = aggregate_samples(
        map(EvalSample.from_dict, kept),
        bool(settings.get("use_hints")),
        document["scores"].get("source"),
    )
    return {
        **document,
        "settings": {
            **settings,
            "algorithms": [a for a in settings["algorithms"] if a in algorithms],
        },
        "scores": report.to_dict(),
        "samples": kept,
    }


# --- comparisons ----------------------------------------------------------------------


def write_comparison(
    documents: Sequence[Mapping[str, Any]],
    out: str | os.PathLike,
    overwrite: bool = False,
    plots: bool = True,
    resamples: int = RESAMPLES,
) -> tuple[Comparison, list[Path]]:
    """Compares results documents: ``comparison.json``, ``comparison.md`` and the plots.

    Args:
        documents: results documents (:func:`load_results`).
        out: the directory (created).
        overwrite: replace existing files; otherwise refuse before writing any.
        plots: write the PNG plots.
        resamples: of the paired bootstrap tests between labels.

    Raises:
        OutputExistsError: a file exists and ``overwrite`` is false.
        ValueError: nothing to compare, or no cell that every label has.
    """
    out = _directory(out)
    comparison = Comparison.of(documents, resamples=resamples)
    if not comparison.keys("algorithm_size"):
        raise ValueError("the results have no algorithm and size in common")
    paths = [out / COMPARISON_JSON, out / COMPARISON_MD]
    if plots:
        paths += [out / name for name in PLOTS.values()]
    refuse_existing(paths, overwrite)
    write_json(out / COMPARISON_JSON, comparison.to_dict(), indent=1)
    _write_text(out / COMPARISON_MD, comparison.to_markdown())
    if plots:
        write_plots(comparison, out)
    return comparison, paths


# --- helpers -----------------------------------------------------------------------------


def _prediction_row(sample: EvalSample, results: EvalResults) -> dict[str, Any]:
    """A ``transnar score`` row: the CLRS-Text row's fields (``index_hints``
    only when true, as in the datasets) and the prediction."""
    settings = results.settings
    row = {
        "question": sample.question,
        "answer": sample.answer,
        "algo_name": sample.algorithm,
        "length": sample.size,
        "use_hints": settings.use_hints,
        "seed": sample.seed,
        "index": sample.index,
        "float_format": settings.float_format,
        "truncate_decimals": settings.truncate_decimals,
    }
    if settings.index_hints:
        row["index_hints"] = True
    return {**row, "prediction": sample.prediction}


def _directory(out: str | os.PathLike) -> Path:
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; the output must be a directory")
    return out


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path, overwrite=True, mode="w") as handle:
        handle.write(text)


__all__ = [
    "COMPARISON_FORMAT",
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
