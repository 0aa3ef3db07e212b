"""Training curves: the language models' losses and the NAR's, from their ``metrics.jsonl``.

- :func:`lm_panels`: training loss (smoothed) and validation loss against the
  step, one line per model (one colour per arm, as the bar charts': the baseline
  grey, TransNAR blue, as in the paper's figures, the control orange; one line
  style per seed or run);
- :func:`nar_panels`: the NAR's training loss and validation score (means over
  its algorithms) against the step, one line per run;
- :func:`plot_panels`: draws panels side by side into a PNG, on matplotlib's
  Agg canvas (no ``pyplot``, no display), as :mod:`transnar.evaluation.plots`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transnar.persistence import atomic_write

_STYLES = ("-", "--", ":", "-.")
_OTHER_COLOR = "#3a9d5d"


@dataclass(frozen=True)
class Line:
    """One curve.

    Attributes:
        label: its legend entry.
        steps: the x values.
        values: the y values.
        color: its colour (None: the colour of lines without one).
        style: its index among the lines of its colour (its line style).
        smooth: draw the raw values faintly and a moving average over them.
    """

    label: str
    steps: Sequence[float]
    values: Sequence[float]
    color: str | None = None
    style: int = 0
    smooth: bool = False


@dataclass(frozen=True)
class Panel:
    """One axes: a title, a y label and its lines."""

    title: str
    ylabel: str
    lines: Sequence[Line]
    log_y: bool = False


def lm_panels(models: Sequence[tuple[str, str, int, Sequence[Mapping[str, Any]]]]) -> list[Panel]:
    """Training and validation loss panels.

    Args:
        models: ``(label, colour, style, metrics records)`` per language model.
    """
    train, val = [], []
    for label, color, style, records in models:
        steps = [r for r in records if "loss" in r]
        evals = [r for r in records if "val_loss" in r]
        train.append(
            Line(
                label,
                [r["step"] for r in steps],
                [r["loss"] for r in steps],
                color,
                style,
                smooth=True,
            )
        )
        val.append(
            Line(label, [r["step"] for r in evals], [r["val_loss"] for r in evals], color, style)
        )
    return [
        Panel("training loss (answer tokens)", "cross-entropy", train, log_y=True),
        Panel("validation loss", "cross-entropy", val, log_y=True),
    ]


def nar_panels(runs: Sequence[tuple[str, int, Sequence[Mapping[str, Any]]]]) -> list[Panel]:
    """The NAR's training loss and validation score panels.

    Args:
        runs: ``(label, style, metrics records)`` per NAR.
    """
    loss, score = [], []
    for label, style, records in runs:
        steps = [r for r in records if isinstance(r.get("loss"), Mapping)]
        evals = [r for r in records if "val_mean" in r]
        mean_loss = [sum(r["loss"].values()) / len(r["loss"]) for r in steps]
        loss.append(Line(label, [r["step"] for r in steps], mean_loss, None, style, smooth=True))
        score.append(
            Line(label, [r["step"] for r in evals], [r["val_mean"] for r in evals], None, style)
        )
    return [
        Panel("training loss (mean over algorithms)", "loss", loss, log_y=True),
        Panel("validation score (mean over algorithms)", "score", score),
    ]


def plot_panels(panels: Sequence[Panel], path: str | os.PathLike, title: str) -> Path:
    """Draws the panels side by side into a PNG file; returns ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(5.0 * len(panels), 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels, strict=True):
        for line in panel.lines:
            color = line.color or _OTHER_COLOR
            style = _STYLES[line.style % len(_STYLES)]
            if line.smooth and len(line.values) > 2:
                ax.plot(line.steps, line.values, color=color, alpha=0.2, linewidth=0.8)
                values = moving_average(line.values, max(1, len(line.values) // 25))
            else:
                values = list(line.values)
            marker = "o" if len(values) <= 30 and not line.smooth else None
            ax.plot(line.steps, values, style, color=color, label=line.label, marker=marker, ms=3)
        if panel.log_y and all(v > 0 for line in panel.lines for v in line.values):
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(_minor_log_label(ax)))
        ax.set_title(panel.title, fontsize=10, loc="left")
        ax.set_xlabel("step")
        ax.set_ylabel(panel.ylabel)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    if any(panel.lines for panel in panels):
        axes[0].legend(fontsize=8, frameon=False)
    fig.suptitle(title)
    path = Path(path)
    with atomic_write(path, overwrite=True) as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight", pad_inches=0.1)
    return path


def _minor_log_label(ax) -> Callable[[float, int], str]:
    """The labels of a log axis's minor ticks (2 .. 9 times a power of ten), as
    many as fit without overlapping: all up to half a decade, 2, 3 and 5 up to
    one, 2 and 5 up to two, none beyond (the powers of ten are labelled)."""

    def label(value: float, _: int) -> str:
        low, high = sorted(ax.get_ylim())
        decades = math.log10(high / low) if low > 0 else math.inf
        if decades <= 0.5:
            shown: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9)
        elif decades <= 1:
            shown = (2, 3, 5)
        elif decades <= 2:
            shown = (2, 5)
        else:
            shown = ()
        mantissa = round(value / 10 ** math.floor(math.log10(value) + 1e-9))
        return f"{value:g}" if mantissa in shown else ""

    return label


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """The mean of each value and the ``window - 1`` before it (fewer at the start)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


__all__ = ["Line", "Panel", "lm_panels", "moving_average", "nar_panels", "plot_panels"]
