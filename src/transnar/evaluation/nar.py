"""Scoring a NAR on evaluation sets, and the NAR's results table (``results.md``).

:func:`score_nar` scores a NAR on a set of batches as the reference does
(:mod:`transnar.evaluation.nar_scoring`); :func:`nar_results_markdown`
writes the results of a NAR run (:func:`transnar.training.nar.evaluate_nar`'s
dict) as Markdown tables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
        output = nar(features, repred=True, steps=steps)
        scorer = scorer or Scorer(nar.head(features.algorithm).spec)
        scorer.update(hard_outputs(nar, features, output), features)
        true_last = (features.lengths - 2).clamp(min=0)
        exact += int((output.last_steps == true_last).sum())
        error += int((output.last_steps - true_last).abs().sum())
        samples += features.batch_size
    if scorer is None:
        raise ValueError("cannot evaluate on an empty set")
    return scorer.scores(), {"stop_accuracy": exact / samples, "stop_error": error / samples}


def nar_results_markdown(results: dict) -> str:
    """``results.md``: a table of scores per algorithm and size, then per output."""
    table = results["algorithms"]
    sizes = list(results["mean"])
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
        "whole test set); sizes marked * are in distribution"
        + ("; val: the best checkpoint's validation score." if "best_step" in results else "."),
        "",
    ]

    def label(size: str) -> str:
        marks = {e["test"][size]["in_distribution"] for e in table.values() if size in e["test"]}
        return f"n={size}" + ("*" if marks == {True} else "" if marks == {False} else " (*)")

    val = any("validation_score" in entry for entry in table.values())
    header = ["algorithm", "family", *(["val"] if val else []), *(label(s) for s in sizes)]
    rows = []
    for name, entry in table.items():
        cells = [f"{entry['validation_score']:.3f}"] if val else []
        cells += [_cell(entry["test"].get(s), "score") for s in sizes]
        rows.append([name, entry["family"], *cells])
    means = ([f"{results['best_val_score']:.3f}"] if val else []) + [
        f"{results['mean'][s]:.3f}" for s in sizes
    ]
    rows.append(["**mean**", "", *means])
    lines += markdown_table(header, rows)
    lines += _stepping_table(results, sizes, label)
    lines += ["", "## Per output", ""]
    rows = []
    for name, entry in table.items():
        outputs = [k for k in next(iter(entry["test"].values()))["scores"] if k != "score"]
        for output in outputs:
            rows.append([name, output, *(_cell(entry["test"].get(s), output) for s in sizes)])
    lines += markdown_table(["algorithm", "output", *(label(s) for s in sizes)], rows)
    return "\n".join(lines) + "\n"


def _stepping_table(results: dict, sizes: list[str], label) -> list[str]:
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
        for size in sizes:
            test = entry["test"].get(size)
            if test is None or "steps" not in test:
                continue
            cells = [f"{test['steps'][m]['scores']['score']:.3f}" for m in modes]
            cells += [f"{test['steps'][m]['stop_accuracy']:.2f}" for m in leak_free]
            rows.append([name, label(size), *cells])
    lines += markdown_table(header, rows)
    lines += ["", "Mean over algorithms: " + _means_line(results, sizes, modes, label) + "."]
    return lines


def _means_line(results: dict, sizes: list[str], modes: list[str], label) -> str:
    by_steps = results["mean_by_steps"]
    return "; ".join(
        f"{label(s)}: " + ", ".join(f"{m} {by_steps[m][s]:.3f}" for m in modes) for s in sizes
    )


def _cell(entry: dict | None, key: str) -> str:
    return "" if entry is None else f"{entry['scores'][key]:.3f}"


__all__ = ["nar_results_markdown", "score_nar", "score_nar_stepping"]
