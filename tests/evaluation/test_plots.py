"""Plots of CLRS-Text scores (:mod:`transnar.evaluation.plots`): pure, PNG out."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.evaluation.helpers import results_document
from transnar.clrs.specs import CLRS30_ALGORITHMS, Family
from transnar.evaluation import PLOTS, Comparison, write_plots
from transnar.evaluation.plots import (
    KIND_COLORS,
    Series,
    plot_algorithm_scores,
    plot_family_scores,
    series_colors,
    size_title,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIZES = (10, 12, 14)


def image(path):
    """The PNG's pixels ``(height, width, channels)``, after checking its signature."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    return imread(path)


def series(label, kind, value, algorithms=("bfs", "insertion_sort", "minimum"), sizes=SIZES):
    return Series(label, {(a, n): value for a in algorithms for n in sizes}, kind=kind)


@pytest.mark.parametrize("metric", ["clrs", "shape", "parse"])
def test_side_by_side_bars_per_algorithm(metric, tmp_path):
    path = plot_algorithm_scores(
        [series("baseline", "baseline", 0.3), series("TransNAR", "transnar", 0.8)],
        tmp_path / "plots" / f"{metric}.png",
        metric,
    )
    assert path == tmp_path / "plots" / f"{metric}.png"
    pixels = image(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 300


def test_one_panel_per_size(tmp_path):
    one = image(plot_algorithm_scores([series("a", None, 0.5)], tmp_path / "1.png", sizes=[12]))
    three = image(plot_algorithm_scores([series("a", None, 0.5)], tmp_path / "3.png"))
    assert three.shape[0] > 2 * one.shape[0]


def test_the_figure_widens_with_the_algorithms(tmp_path):
    few = image(plot_algorithm_scores([series("a", None, 0.5)], tmp_path / "few.png"))
    every = series("a", None, 0.5, algorithms=CLRS30_ALGORITHMS)
    many = image(plot_algorithm_scores([every], tmp_path / "many.png"))
    assert many.shape[1] > 2 * few.shape[1]


def test_error_bars_and_missing_cells(tmp_path):
    values = {("bfs", 10): 0.5, ("bfs", 12): 0.7}  # no size 14, no other algorithm
    with_errors = Series("TransNAR", values, {("bfs", 10): 0.1}, "transnar")
    path = plot_algorithm_scores(
        [with_errors, series("baseline", "baseline", 0.2)], tmp_path / "x.png"
    )
    image(path)


def test_three_arms_with_std_and_interval_error_bars(tmp_path):
    values = {(a, n): 0.4 for a in ("bfs", "minimum") for n in SIZES}
    arms = [
        Series(
            "baseline", values, {k: 0.05 for k in values}, "baseline", note="± std over 3 models"
        ),
        Series(
            "control",
            values,
            kind="control",
            intervals={k: (0.3, 0.6) for k in values},
            note="95% interval over the questions",
        ),
        Series("TransNAR", {k: v + 0.3 for k, v in values.items()}, kind="transnar"),
    ]
    image(plot_algorithm_scores(arms, tmp_path / "arms.png"))
    assert len(set(KIND_COLORS.values())) == len(KIND_COLORS) == 4  # one colour per arm
    # error bars: below and above each bar, from the interval or the std
    assert arms[1].bars([("bfs", 10), ("dfs", 10)]) == [
        [pytest.approx(0.1), 0.0],
        [pytest.approx(0.2), 0.0],
    ]
    assert arms[0].bars([("bfs", 10)]) == [[0.05], [0.05]] and arms[2].bars([("bfs", 10)]) is None
    assert arms[1].legend == "control (95% interval over the questions)"
    assert arms[2].legend == "TransNAR"


def test_every_series_of_a_figure_gets_its_own_colour():
    two_controls = series_colors(["baseline", "control", "control", "transnar"])
    assert len(set(two_controls)) == 4
    assert two_controls[:2] == [KIND_COLORS["baseline"], KIND_COLORS["control"]]
    assert two_controls[3] == KIND_COLORS["transnar"]  # the first of its kind keeps its colour
    variants = series_colors(["baseline", "transnar", "transnar", "transnar", None])
    assert len(set(variants)) == 5 and variants[1] == KIND_COLORS["transnar"]


def test_family_averages(tmp_path):
    values = {(f.value, n): 0.1 * i for i, f in enumerate(Family) for n in SIZES}
    path = plot_family_scores(
        [Series("baseline", values, kind="baseline"), Series("TransNAR", values, kind="transnar")],
        tmp_path / "families.png",
    )
    image(path)


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="metric"):
        plot_algorithm_scores([series("a", None, 0.5)], tmp_path / "x.png", "accuracy")
    with pytest.raises(ValueError, match="no series"):
        plot_algorithm_scores([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="no scores"):
        plot_algorithm_scores([Series("a", {})], tmp_path / "x.png")
    with pytest.raises(ValueError, match="labels must differ"):
        plot_algorithm_scores([series("a", None, 0.1), series("a", None, 0.2)], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_size_titles_name_the_regimes():
    assert size_title(10) == "size 10 (OOD interpolation)"
    assert size_title(12) == "size 12 (in distribution)"
    assert size_title(14) == "size 14 (OOD extrapolation)"
    assert size_title(5) == "size 5"


def test_write_plots_of_a_comparison(tmp_path):
    cells = {(a, n): 0.5 for a in ("bfs", "minimum") for n in SIZES}
    comparison = Comparison.of(
        [
            results_document("baseline", "baseline", cells),
            results_document("TransNAR", "transnar", cells),
        ]
    )
    paths = write_plots(comparison, tmp_path)
    assert [p.name for p in paths] == list(PLOTS.values())
    for path in paths:
        image(path)


def test_plotting_never_touches_pyplot_or_a_display(tmp_path):
    code = (
        "import sys\n"
        "from transnar.evaluation.plots import Series, plot_algorithm_scores\n"
        f"plot_algorithm_scores([Series('a', {{('bfs', 10): 0.5}})], {str(tmp_path / 'p.png')!r})\n"
        "print('matplotlib.pyplot' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "DISPLAY")},
    )
    assert result.stdout.strip() == "False"
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_SIGNATURE
