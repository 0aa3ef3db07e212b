"""Bar charts of CLRS-Text scores in the style of the TransNAR paper's figures.

- :func:`plot_algorithm_scores`: one panel per size (10, 12, 14), the algorithms
  along the x axis, one bar per model (baseline, control, TransNAR) side by
  side, with error bars when a series has them (their meaning in the legend);
  of the CLRS, shape or parse score: the paper's Figures 4, 5 and 6.
- :func:`plot_family_scores`: the same per algorithm family (mean over its
  algorithms): Figure 1.

The functions are pure: data in (:class:`Series`), a PNG file out; nothing
is shown. They draw on matplotlib's Agg canvas directly (no ``pyplot``, no
display, no global backend switch).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from transnar.clrs.specs import CLRS30_ALGORITHMS, Family
from transnar.clrs.text.datasets import TRANSNAR_REGIMES
from transnar.persistence import atomic_write

METRICS: Mapping[str, str] = {"clrs": "CLRS score", "shape": "Shape score", "parse": "Parse score"}
"""Score name -> axis label."""

KIND_COLORS: Mapping[str, str] = {
    "baseline": "#9e9e9e",
    "control": "#e07b39",
    "transnar": "#1f5fa8",
    "student": "#3a9d5d",
}
"""Model kind (arm) -> colour: the baseline in grey and TransNAR in blue, as in
the paper; the control in orange, the distilled student in green."""
# Colours of series without a kind colour of their own.
_PALETTE = ("#1f5fa8", "#e07b39", "#3a9d5d", "#b54a7c", "#7c6bb5", "#8c6d31", "#444444")

REGIME_NAMES: Mapping[str, str] = {
    "ood-interpolation": "OOD interpolation",
    "in-distribution": "in distribution",
    "ood-extrapolation": "OOD extrapolation",
    "ood-smaller": "OOD, smaller",
}


@dataclass(frozen=True)
class Series:
    """One model's scores: one bar per (group, size).

    Attributes:
        label: the legend entry (e.g. ``baseline``, ``TransNAR``).
        values: ``(group, size) -> score`` in ``[0, 1]``; a group is an
            algorithm or a family.
        errors: ``(group, size) -> standard deviation`` (symmetric error bars,
            e.g. over seeds); missing entries have none.
        kind: ``baseline``, ``control`` or ``transnar`` (picks the colours), or ``None``.
        intervals: ``(group, size) -> (low, high)`` (error bars from ``low``
            to ``high``, e.g. a confidence interval); used instead of ``errors``
            where given.
        note: what the error bars show, added to the legend entry.
    """

    label: str
    values: Mapping[tuple[str, int], float]
    errors: Mapping[tuple[str, int], float] = field(default_factory=dict)
    kind: str | None = None
    intervals: Mapping[tuple[str, int], tuple[float, float]] = field(default_factory=dict)
    note: str | None = None

    @property
    def legend(self) -> str:
        """The legend entry: the label, and what the error bars show."""
        return self.label + (f" ({self.note})" if self.note else "")

    def bars(self, keys: Sequence[tuple[str, int]]) -> list[list[float]] | None:
        """The ``(2, len(keys))`` lower and upper error bar lengths of ``keys``
        (matplotlib's ``yerr``), or None without error bars."""
        if not self.errors and not self.intervals:
            return None
        lower, upper = [], []
        for key in keys:
            value = self.values.get(key, 0.0)
            if key in self.intervals:
                low, high = self.intervals[key]
                lower.append(max(0.0, value - low))
                upper.append(max(0.0, high - value))
            else:
                lower.append(self.errors.get(key, 0.0))
                upper.append(self.errors.get(key, 0.0))
        return [lower, upper]


def plot_algorithm_scores(
    series: Sequence[Series],
    path: str | os.PathLike,
    metric: str = "clrs",
    sizes: Sequence[int] | None = None,
    title: str | None = None,
    regimes: Mapping[int, str | None] = TRANSNAR_REGIMES,
) -> Path:
    """Per algorithm bars of one score, one panel per size (Figures 4-6).

    Args:
        series: one per model; side by side in this order.
        path: the PNG file (its directory is created).
        metric: ``clrs``, ``shape`` or ``parse`` (the y label).
        sizes: the panels (default every size in ``series``, ascending).
        title: the figure's title (default the score's name).
        regimes: size -> regime (``in-distribution``, ``ood-interpolation``,
            ...), named in the panel titles; default TransNAR's.

    Returns:
        ``path``.
    """
    groups = _ordered({g for s in series for g, _ in s.values}, list(CLRS30_ALGORITHMS))
    label = METRICS[_metric(metric)]
    return _bars(series, path, groups, sizes, label, title, "algorithm", regimes)


def plot_family_scores(
    series: Sequence[Series],
    path: str | os.PathLike,
    metric: str = "clrs",
    sizes: Sequence[int] | None = None,
    title: str | None = None,
    regimes: Mapping[int, str | None] = TRANSNAR_REGIMES,
) -> Path:
    """Per family bars of one score (mean over its algorithms), one panel per
    size (Figure 1). Arguments as :func:`plot_algorithm_scores`."""
    groups = _ordered({g for s in series for g, _ in s.values}, [f.value for f in Family])
    label = METRICS[_metric(metric)]
    return _bars(series, path, groups, sizes, label, title, "family", regimes)


def size_title(size: int, regimes: Mapping[int, str | None] = TRANSNAR_REGIMES) -> str:
    """``size 10 (OOD interpolation)``: the size and its regime, if known."""
    regime = regimes.get(size)
    return f"size {size}" + (f" ({REGIME_NAMES.get(regime, regime)})" if regime else "")


def _bars(
    series: Sequence[Series],
    path: str | os.PathLike,
    groups: list[str],
    sizes: Sequence[int] | None,
    ylabel: str,
    title: str | None,
    what: str,
    regimes: Mapping[int, str | None],
) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not series:
        raise ValueError("nothing to plot: no series")
    if not groups:
        raise ValueError("nothing to plot: the series have no scores")
    labels = [s.label for s in series]
    if len(set(labels)) != len(labels):
        raise ValueError(f"series labels must differ, got {labels}")
    if sizes is None:
        sizes = sorted({n for s in series for _, n in s.values})
    sizes = list(sizes)
    path = Path(path)

    width_per_group = 0.3 + 0.16 * len(series)
    fig = Figure(
        figsize=(max(6.0, 1.2 + width_per_group * len(groups)), 0.6 + 2.4 * len(sizes)),
        layout="constrained",
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(sizes), 1, sharex=True, squeeze=False)[:, 0]
    colors = series_colors([s.kind for s in series])
    bar = 0.8 / len(series)
    x = list(range(len(groups)))
    for ax, size in zip(axes, sizes, strict=True):
        for k, s in enumerate(series):
            keys = [(g, size) for g in groups if (g, size) in s.values]
            offsets = [
                i - 0.4 + bar * (k + 0.5) for i, g in enumerate(groups) if (g, size) in s.values
            ]
            ax.bar(
                offsets,
                [s.values[key] for key in keys],
                bar,
                yerr=s.bars(keys),
                color=colors[k],
                label=s.legend,
                error_kw={"elinewidth": 0.8, "capsize": 1.5},
            )
        ax.set_ylim(0.0, 1.05)
        ax.set_ylabel(ylabel)
        ax.set_title(size_title(size, regimes), fontsize=10, loc="left")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1].set_xticks(x)
    axes[-1].set_xticklabels([g.replace("_", " ") for g in groups], rotation=60, ha="right")
    axes[-1].set_xlim(-0.6, len(groups) - 0.4)
    entries = [s.legend for s in series]
    columns = len(series) if sum(map(len, entries)) <= 70 else 1  # long entries: one a line
    axes[0].legend(loc="lower left", bbox_to_anchor=(0.0, 1.12), ncol=columns, frameon=False)
    fig.suptitle(title or f"{ylabel} per {what}")
    with atomic_write(path, overwrite=True) as handle:
        fig.savefig(handle, format="png", dpi=110, bbox_inches="tight", pad_inches=0.1)
    return path


def series_colors(kinds: Sequence[str | None]) -> list[str]:
    """A colour per series of a figure, all different: the first series of a
    kind gets the kind's colour (:data:`KIND_COLORS`), the others (a second
    control, a variant of TransNAR, a kind without a colour) the palette's
    colours that the figure does not use yet, in turn."""
    colors: list[str | None] = [None] * len(kinds)
    for kind in dict.fromkeys(k for k in kinds if k in KIND_COLORS):
        colors[kinds.index(kind)] = KIND_COLORS[kind]
    palette = iter([c for c in _PALETTE if c not in colors])
    return [color or next(palette, "#000000") for color in colors]


def _ordered(names: set[str], order: list[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(order)}
    return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))


def _metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    return metric


__all__ = [
    "KIND_COLORS",
    "METRICS",
    "Series",
    "plot_algorithm_scores",
    "plot_family_scores",
    "series_colors",
    "size_title",
]
