"""Scoring a NAR on evaluation sets, and the NAR's results table (``results.md``).

:func:`score_nar` scores a NAR on a set of batches as the reference does
(:mod:`transnar.evaluation.nar_scoring`); :func:`nar_results_markdown`
writes the results of a NAR run (:func:`transnar.training.nar_eval.evaluate_nar`'s
dict) as Markdown tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

import torch

from transnar.evaluation.nar_scoring import Scorer, hard_outputs
from transnar.nar.features import Features
from transnar.nar.model import NAR
from transnar.tables import markdown_table


def score_nar(
    nar: NAR, batches: Iterator[Features] | Sequence[Features], steps: str = "oracle"
) -> dict[str, float]:
    """The reference's scores of ``nar`` on a set: per output, and ``score``, their mean.

    Scores are micro averages over the whole set (see
    :mod:`transnar.evaluation.nar_scoring`). The NAR runs in evaluation mode (its own
    hint predictions fed back, no noise), stepping as ``steps`` says
    (:mod:`transnar.nar.stepping`; ``oracle``, the CLRS protocol, by default);
    batches are moved to its device.
    """
    return score_nar_stepping(nar, batches, steps)[0]


@torch.no_grad()
def score_nar_stepping(
    nar: NAR, batches: Iterator[Features] | Sequence[Features], steps: str = "oracle"
) -> tuple[dict[str, float], dict[str, float]]:
    """:func:`score_nar`'s scores, and where the NAR stopped against the truth:
    ``{"stop_accuracy": share of samples whose last step is their true last
    step, "stop_error": mean absolute difference in steps}``."""
    device = next(nar.parameters()).device
    scorer: Scorer | None = None
    exact = error = samples = 0
    for features in batches:
        features = features.to(device)
        output = nar(features, repred=True, steps=steps, keep_hints=False)
        scorer = scorer or Scorer(nar.head(features.algorithm).spec)
        scorer.update(hard_outputs(nar, features, output), features)
        true_last = (features.lengths - 2).clamp(min=0)
        exact += int((output.last_steps == true_last).sum())
        error += int((output.last_steps - true_last).abs().sum())
        samples += features.batch_size
    if scorer is None:
        raise ValueError("cannot evaluate on an empty set")
    return scorer.scores(), {"stop_accuracy": exact / samples, "stop_error": error / samples}


IN_DISTRIBUTION = "in distribution"
"""The column of every algorithm's test at its own in-distribution size (its
largest training size: the string matchers' differs from the others')."""


def size_columns(entry: Mapping) -> dict[str, str]:
    """Test size -> its column in the NAR's tables, for one algorithm's entry of
    ``results.json``: the test at the largest in-distribution size is
    :data:`IN_DISTRIBUTION`, any other ``n=<size>`` (``*`` when in distribution)."""
    tests = entry["test"]
    in_sizes = [size for size, test in tests.items() if test["in_distribution"]]
    home = max(in_sizes, key=int) if in_sizes else None
    return {
        size: IN_DISTRIBUTION
        if size == home
        else f"n={size}" + ("*" if test["in_distribution"] else "")
        for size, test in tests.items()
    }


def by_column(algorithms: Mapping[str, Mapping]) -> dict[str, dict[str, Mapping]]:
    """Column -> algorithm -> its test there, over ``results.json``'s
    ``algorithms``; the in-distribution column first, then by size."""
    columns: dict[str, dict[str, Mapping]] = {}
    for name, entry in algorithms.items():
        for size, column in size_columns(entry).items():
            columns.setdefault(column, {})[name] = entry["test"][size]
    return dict(sorted(columns.items(), key=lambda item: _column_order(item[0])))


def column_order(columns: Iterable[str]) -> list[str]:
    """``columns`` (of several results) in table order, each once."""
    return sorted(set(columns), key=_column_order)


def _column_order(column: str) -> tuple[bool, int]:
    if column == IN_DISTRIBUTION:
        return False, 0
    return True, int(column[2:].rstrip("*"))


def in_distribution_sizes(algorithms: Mapping[str, Mapping]) -> str:
    """Which size the in-distribution column holds: ``n=11`` when it is one
    size for all, else the most common one and the exceptions, e.g.
    ``n=11 (n=13: naive_string_matcher, kmp_matcher)``."""
    sizes: dict[str, list[str]] = {}
    for name, entry in algorithms.items():
        for size, column in size_columns(entry).items():
            if column == IN_DISTRIBUTION:
                sizes.setdefault(size, []).append(name)
    if not sizes:
        return "-"
    common, *others = sorted(sizes, key=lambda size: -len(sizes[size]))
    exceptions = "; ".join(f"n={size}: {', '.join(sizes[size])}" for size in others)
    return f"n={common}" + (f" ({exceptions})" if exceptions else "")


def column_means(algorithms: Mapping[str, Mapping], mode: str | None = None) -> dict[str, float]:
    """Column -> the mean test score over the algorithms tested there
    (stepping ``mode``; default: the results' first mode, ``scores``)."""
    return {
        column: sum(_score(test, mode) for test in tests.values()) / len(tests)
        for column, tests in by_column(algorithms).items()
    }


def _score(test: Mapping, mode: str | None) -> float:
    return (test["scores"] if mode is None else test["steps"][mode]["scores"])["score"]


def in_distribution_note(algorithms: Mapping[str, Mapping]) -> str:
    """The sentence that says what the in-distribution column holds."""
    starred = any(column.endswith("*") for column in by_column(algorithms))
    return (
        f"{IN_DISTRIBUTION}: each algorithm at its largest training size, "
        f"{in_distribution_sizes(algorithms)}"
        + ("; * also in distribution" if starred else "")
        + "; mean: over the algorithms tested in that column"
    )


def nar_results_markdown(results: dict) -> str:
    """``results.md``: a table of scores per algorithm and size, then per output."""
    table = results["algorithms"]
    columns = by_column(table)
    lines = ["# NAR results", ""]
    if "best_step" in results:
        lines += [
            f"Best validation (mean over algorithms) {results['best_val_score']:.4f} at step "
            f"{results['best_step']} of {results['steps']}; "
            f"{results['seconds_per_step']:.3f} s per training step.",
            "",
        ]
    lines += [
        "Scores (micro-F1 as in CLRS: mean over the outputs of per-output scores over the "
        f"whole test set); {in_distribution_note(table)}"
        + ("; val: the best checkpoint's validation score." if "best_step" in results else "."),
        "",
    ]
    val = any("validation_score" in entry for entry in table.values())
    header = ["algorithm", "family", *(["val"] if val else []), *columns]
    rows = []
    for name, entry in table.items():
        cells = [f"{entry['validation_score']:.3f}"] if val else []
        cells += [_cell(tests.get(name), "score") for tests in columns.values()]
        rows.append([name, entry["family"], *cells])
    means = ([f"{results['best_val_score']:.3f}"] if val else []) + [
        f"{mean:.3f}" for mean in column_means(table).values()
    ]
    rows.append(["**mean**", "", *means])
    lines += markdown_table(header, rows)
    lines += _stepping_table(results)
    lines += ["", "## Per output", ""]
    rows = []
    for name, entry in table.items():
        outputs = [k for k in next(iter(entry["test"].values()))["scores"] if k != "score"]
        for output in outputs:
            rows.append([name, output, *(_cell(t.get(name), output) for t in columns.values())])
    lines += markdown_table(["algorithm", "output", *columns], rows)
    return "\n".join(lines) + "\n"


def _stepping_table(results: dict) -> list[str]:
    """The scores under each step mode (and where a leak-free NAR stopped),
    when the results have more than one mode."""
    modes = results.get("step_modes", [])
    if len(modes) < 2:
        return []
    lines = [
        "",
        "## Stepping: leak-free against oracle",
        "",
        "Scores when the NAR stops at the true trajectory length (oracle, the CLRS "
        "protocol) and when it decides itself (learned: its termination head, capped by a "
        "step budget per algorithm and size; budget: the cap alone). stop: the share of "
        "samples a leak-free mode stopped at their true last step.",
        "",
    ]
    header = ["algorithm", "size", *modes]
    leak_free = [m for m in modes if m != "oracle"]
    header += [f"stop ({m})" for m in leak_free]
    rows = []
    for name, entry in results["algorithms"].items():
        for size, test in entry["test"].items():
            if "steps" not in test:
                continue
            cells = [f"{test['steps'][m]['scores']['score']:.3f}" for m in modes]
            cells += [f"{test['steps'][m]['stop_accuracy']:.2f}" for m in leak_free]
            label = f"n={size}" + ("*" if test["in_distribution"] else "")
            rows.append([name, label, *cells])
    lines += markdown_table(header, rows)
    means = {mode: column_means(results["algorithms"], mode) for mode in modes}
    line = "; ".join(
        f"{column}: " + ", ".join(f"{mode} {means[mode][column]:.3f}" for mode in modes)
        for column in means[modes[0]]
    )
    return [*lines, "", f"Mean over algorithms: {line}."]


def _cell(entry: dict | None, key: str) -> str:
    return "" if entry is None else f"{entry['scores'][key]:.3f}"


__all__ = [
    "IN_DISTRIBUTION",
    "by_column",
    "column_means",
    "column_order",
    "in_distribution_note",
    "in_distribution_sizes",
    "nar_results_markdown",
    "score_nar",
    "score_nar_stepping",
    "size_columns",
]
