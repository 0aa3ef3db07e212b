"""The report's headline: per size (regime), each arm's CLRS score and the paired differences.

- :func:`headline`: a table with, per evaluation size and overall, every
  label's mean ± std over its seeds ("1 seed": its single value) and each
  pair's difference with its paired bootstrap interval
  (:meth:`~transnar.evaluation.Comparison.difference`), then one sentence per
  pair that says plainly which differences are significant and which are not;
- :func:`seed_warnings`: runs of one arm trained at the same seed (then the
  standard deviation is not over distinct seeds).
"""

from __future__ import annotations

from collections.abc import Sequence

from transnar.evaluation import Comparison
from transnar.evaluation.comparison import regime_name
from transnar.evaluation.significance import Estimate
from transnar.pipeline.report.runs import RunData
from transnar.tables import markdown_table


def headline(runs: Sequence[RunData], comparison: Comparison) -> list[str]:
    """The headline section's lines (without its heading)."""
    labels = comparison.labels
    header = [
        "size",
        "regime",
        *(f"{label} ({_seeds(runs, comparison, label)})" for label in labels),
    ]
    header += [f"{a} − {b}" for a, b in comparison.pairs]
    rows = [
        [
            str(key),
            regime_name(key, comparison.regimes),
            *(comparison.cell(label, "size", key, "clrs").text() for label in labels),
            *(comparison.delta_text(a, b, "size", key) for a, b in comparison.pairs),
        ]
        for key in comparison.keys("size")
    ]
    lines = [
        "CLRS score per evaluation size (mean over algorithms): each model's mean ± standard "
        "deviation over its seeds (one seed: its value), and the difference of each pair in "
        "the columns with its 95% paired bootstrap interval over the questions and its p-value; "
        "* = significant (the interval excludes 0; not significant: it includes 0).",
        "",
        *markdown_table(header, rows),
    ]
    verdicts = [_verdict(comparison, a, b) for a, b in comparison.pairs]
    if verdicts:
        lines += ["", *verdicts]
    warnings = seed_warnings(runs)
    if comparison.pairs and comparison.paired.warnings:
        warnings.append(
            f"- **warning**: {len(comparison.paired.warnings)} cell(s) have no paired test "
            "(see the notes of the scores below)"
        )
    return lines + (["", *warnings] if warnings else [])


def seed_warnings(runs: Sequence[RunData]) -> list[str]:
    """A warning line per arm and seed that several runs trained."""
    trained: dict[tuple[str, int], list[str]] = {}
    for run in runs:
        for model in run.models:
            key = (model.run.label, model.run.seed)
            trained.setdefault(key, []).append(f"`{run.directory}`")
    return [
        f"- **warning**: {label} was trained at seed {seed} in {len(where)} runs "
        f"({', '.join(where)}): likely the same model twice, so its standard deviation is "
        "not over distinct seeds and the paired tests count it twice"
        for (label, seed), where in trained.items()
        if len(where) > 1
    ]


def _verdict(comparison: Comparison, first: str, second: str) -> str:
    """``- **TransNAR vs baseline**: overall ...; size 5 (...): ...``."""
    parts = []
    keys = comparison.keys("size")
    for key in sorted(keys, key=lambda k: k != "all"):  # overall first
        where = "overall" if key == "all" else f"size {key}" + _regime_suffix(comparison, key)
        test = comparison.difference(first, second, "size", key) if comparison.pairs else None
        if test is None:
            delta = comparison.delta_text(first, second, "size", key)
            parts.append(f"{where} {delta} (no paired test)")
        else:
            interval = test.text().removesuffix(" *")
            parts.append(f"{where} {interval} ({test.p_text()}): {_plainly(test, first)}")
    text = f"- **{first} vs {second}**: " + "; ".join(parts) + "."
    reason = comparison.paired.reason() if comparison.pairs else ""
    if reason and any("no paired test" in part for part in parts):
        text += f" No paired test: {reason}."
    return text


def _plainly(test: Estimate, first: str) -> str:
    if not test.significant:
        return "not significant"
    return f"{first} significantly {'higher' if test.mean > 0 else 'lower'}"


def _seeds(runs: Sequence[RunData], comparison: Comparison, label: str) -> str:
    """``1 seed``, ``3 seeds``, or ``2 runs, 1 seed`` when runs share a seed."""
    files = len(comparison.groups[label])
    seeds = {m.run.seed for run in runs for m in run.models if m.run.label == label}
    if files != len(seeds):
        return f"{files} runs, {len(seeds)} seed{'s' if len(seeds) != 1 else ''}"
    return "1 seed" if files == 1 else f"{files} seeds"


def _regime_suffix(comparison: Comparison, key) -> str:
    regime = regime_name(key, comparison.regimes)
    return "" if regime == "-" else f" ({regime})"


__all__ = ["headline", "seed_warnings"]
