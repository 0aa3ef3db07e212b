"""``transnar report``: the report of one pipeline run, or of several (mean ± std,
paired tests between the arms)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from types import SimpleNamespace

import pytest

from tests.cli.helpers import run_cli
from tests.pipeline.helpers import run_fast
from transnar.evaluation import Comparison
from transnar.evaluation.samples import EvalSample, aggregate_samples
from transnar.pipeline import preset
from transnar.pipeline.report import load_run, report_markdown, write_report
from transnar.pipeline.report.curves import moving_average
from transnar.pipeline.report.html import markdown_to_html
from transnar.pipeline.report.runs import is_smoke, nar_stepping

MODELS = ("baseline-s0", "control-s0", "transnar-s0", "baseline-s1", "control-s1", "transnar-s1")
FIGURES = {
    "clrs_score.png",
    "shape_score.png",
    "parse_score.png",
    "family_clrs_score.png",
    "lm_loss.png",
    "nar_training.png",
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished fast run: three arms (baseline, control, TransNAR) x two seeds."""
    run_dir = tmp_path_factory.mktemp("report") / "run"
    run_fast(run_dir, "seeds=2")
    return run_dir


def with_scores(source, target, clrs):
    """A copy of a run whose evaluations score ``clrs(model, sample)`` on each
    sample (parse = shape = 1), their tables recomputed from the samples."""
    shutil.copytree(source, target)
    for directory in (target / "eval").iterdir():
        path = directory / "results.json"
        document = json.loads(path.read_text())
        for sample in document["samples"]:
            sample.update(parse=1.0, shape=1.0, clrs=clrs(directory.name, sample))
        samples = map(EvalSample.from_dict, document["samples"])
        document["scores"] = aggregate_samples(samples).to_dict()
        path.write_text(json.dumps(document))
    return target


def line_of(markdown: str, start: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(start))


def cells(line: str) -> list[str]:
    """A Markdown table row's cells, stripped."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_the_pipeline_report(finished):
    markdown = (finished / "report.md").read_text()
    assert markdown.startswith(
        "# TransNAR vs the Transformer baseline\n\n**Smoke run: scores mean nothing.**"
    )
    for heading in (
        "# TransNAR vs the Transformer baseline",
        "## Headline: CLRS score per size",
        "## Scores: baseline vs control vs TransNAR",
        "### Overall (mean over algorithms)",
        "### Per family (CLRS score, mean over its algorithms)",
        "### Per algorithm and size",
        "## Training the language models",
        "## The NAR on CLRS-30",
        "## Stages",
    ):
        assert f"\n{heading}\n" in f"\n{markdown}"
    assert "baseline parse | control parse | TransNAR parse | baseline shape" in markdown
    assert "| baseline (2 seeds) | control (2 seeds) | TransNAR (2 seeds) |" in markdown
    for pair in ("TransNAR − baseline", "TransNAR − control", "control − baseline"):
        assert f"| Δ CLRS {pair}" in markdown
    assert "- **TransNAR vs baseline**: overall " in markdown
    assert "The baseline (the Transformer alone), the control (" in markdown
    assert "\n- NAR stepping: " in markdown
    assert "| bfs            | graphs  |" in markdown  # the NAR's table
    assert "5 (in distribution), 7 (OOD extrapolation)" in markdown
    assert "Error bars: " in markdown and "TransNAR: ± std over 2 models" in markdown
    assert "### Index markers" not in markdown  # no index hints
    assert {p.name for p in (finished / "figures").iterdir()} == FIGURES
    document = json.loads((finished / "comparison.json").read_text())
    assert document["labels"] == ["baseline", "control", "TransNAR"]
    assert "index_markers" not in document
    page = (finished / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("data:image/png;base64,") == 6
    assert "<th>algorithm</th>" in page and "figures/" not in page  # every image embedded
    run = load_run(finished)
    assert [m.run.name for m in run.models] == list(MODELS)
    assert list(run.stages)[:2] == ["data", "nar"]
    training = line_of(markdown, "| control  |    1 |")
    assert training  # one training row per arm and seed


def test_a_runs_report_is_kept_unless_forced(finished, capsys):
    before = (finished / "report.md").read_text()
    status, _, err = run_cli(["report", finished], capsys)
    assert status == 2 and "already exist" in err and "--force" in err
    status, out, _ = run_cli(["report", finished, "--force"], capsys)
    assert status == 0 and f"wrote {finished / 'report.html'}" in out
    assert (finished / "report.md").read_text() == before  # the same tests, to the digit


def test_a_report_keeps_another_comparison_unless_forced(finished, tmp_path, capsys):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "comparison.json").write_text("{}")  # e.g. of transnar lm compare
    status, _, err = run_cli(["report", finished, "--out", out], capsys)
    assert status == 2 and "comparison.json" in err and "already exist" in err
    assert (out / "comparison.json").read_text() == "{}" and not (out / "report.md").exists()


def test_paired_tests_in_the_report(finished, tmp_path, placeholder_figures):
    def clrs(model, sample):  # TransNAR right everywhere, the control on question 0 only
        return {"baseline": 0.0, "transnar": 1.0}.get(model.split("-")[0], sample["index"] == 0)

    scored = with_scores(finished, tmp_path / "scored", clrs)
    write_report([scored], resamples=2000)
    markdown = (scored / "report.md").read_text()
    headline = cells(line_of(markdown, "|    5 | in distribution "))
    assert headline[2:] == [
        "0.000 ± 0.000",
        "0.500 ± 0.000",
        "1.000 ± 0.000",
        "+1.000 [+1.000, +1.000] *",
        "+0.500 [+0.000, +1.000]",  # TransNAR - control: not significant
        "+0.500 [+0.000, +1.000]",  # control - baseline, likewise
    ]
    assert "(p < 0.001): TransNAR significantly higher" in markdown
    wins = line_of(markdown, "- CLRS score per algorithm and size: TransNAR higher than baseline")
    assert wins.endswith(
        "; significantly higher in 4 (insertion_sort at 5, 7; bfs at 5, 7), lower in 0"
    )
    wins = line_of(markdown, "- CLRS score per algorithm and size: TransNAR higher than control")
    assert wins.endswith("; significantly higher in 0, lower in 0")
    verdict = line_of(markdown, "- **TransNAR vs control**: ")
    assert "size 5 (in distribution) +0.500 [+0.000, +1.000] (p = " in verdict
    assert verdict.count("not significant") >= 2
    bfs = cells(line_of(markdown, "| bfs            |    5 |"))
    assert bfs[-3:] == [
        "+1.000 [+1.000, +1.000] *",
        "+0.500 [+0.000, +1.000]",
        "+0.500 [+0.000, +1.000]",
    ]


def test_two_runs_give_mean_and_std(finished, tmp_path, capsys):
    def scores(values):
        return lambda model, sample: values[model.split("-")[0]]

    a = with_scores(
        finished, tmp_path / "a", scores({"baseline": 0.2, "control": 0.2, "transnar": 0.4})
    )
    b = with_scores(
        finished, tmp_path / "b", scores({"baseline": 0.4, "control": 0.4, "transnar": 0.8})
    )
    out = tmp_path / "ab"
    status, _, err = run_cli(["report", a, b, "--out", out, "--resamples", "500"], capsys)
    assert status == 0, err
    markdown = (out / "report.md").read_text()
    assert "baseline (baseline, 4 files)" in markdown
    assert "mean ± standard deviation over the files of a label" in markdown
    row = cells(line_of(markdown, "| bfs            |    5"))
    assert row[-6:] == [
        "0.300 ± 0.115",  # baseline
        "0.300 ± 0.115",  # control
        "0.600 ± 0.231",  # TransNAR
        "+0.300 [+0.300, +0.300] *",
        "+0.300 [+0.300, +0.300] *",
        "+0.000 [+0.000, +0.000]",
    ]
    assert "± 0.000" in markdown  # the two runs' NARs are the same
    assert f"`{a}`: data " in markdown and f"`{b}`: data " in markdown
    # the runs are copies: each arm was trained twice at each seed
    assert "| baseline (4 runs, 2 seeds) |" in markdown
    assert f"**warning**: baseline was trained at seed 0 in 2 runs (`{a}`, `{b}`)" in markdown
    assert {p.name for p in (out / "figures").iterdir()} == FIGURES

    status, _, err = run_cli(["report", a, b, "--out", out], capsys)
    assert status == 2 and "already exist" in err and "--force" in err
    assert run_cli(["report", a, b, "--out", out, "--force", "--resamples", "100"], capsys)[0] == 0


def test_one_seed_shows_single_values_and_intervals(finished):
    run = load_run(finished)
    run = dataclasses.replace(run, models=[m for m in run.models if m.run.seed == 0])
    documents = [{**m.results, "source": m.run.name} for m in run.models]
    markdown = report_markdown([run], Comparison.of(documents, resamples=200))
    assert "| baseline (1 seed) | control (1 seed) | TransNAR (1 seed) |" in markdown
    table = markdown.split("## Headline", 1)[1].split("## Scores", 1)[0].split("\n| ", 1)[1]
    assert "±" not in table.split("\n\n", 1)[0]  # the headline's table
    assert "- baseline (baseline, 1 file: 1 seed): `baseline-s0`" in markdown
    assert "TransNAR: 95% interval over the questions" in markdown


def test_the_nar_section_with_sizes_per_algorithm(finished, tmp_path, placeholder_figures):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    path = run_dir / "nar" / "results.json"
    results = json.loads(path.read_text())
    tests = results["algorithms"]["insertion_sort"]["test"]
    tests["7"] = tests.pop("6")  # e.g. the string matchers' in-distribution size
    results["mean"]["7"] = tests["7"]["scores"]["score"]
    path.write_text(json.dumps(results))
    write_report([run_dir])
    markdown = (run_dir / "report.md").read_text().split("## The NAR on CLRS-30", 1)[1]
    # every algorithm's in-distribution test in one column, its mean over all of them
    header = cells(line_of(markdown, "| algorithm      | family  |   val |"))
    assert header == ["algorithm", "family", "val", "in distribution", "n=8"]
    assert "in distribution: each algorithm at its largest training size, n=6 (n=7: " in markdown
    in_distribution = [e["test"] for e in results["algorithms"].values()]
    scores = [t.get("6", t.get("7"))["scores"]["score"] for t in in_distribution]
    mean = cells(line_of(markdown, "| **mean** "))[3]
    assert mean == f"{sum(scores) / len(scores):.3f}"
    insertion_sort = cells(line_of(markdown, "| insertion_sort |"))
    assert insertion_sort[3] == f"{tests['7']['scores']['score']:.3f}"
    families = markdown.split("### By family", 1)[1]
    assert cells(line_of(families, "| family "))[2:4] == ["in distribution", "n=8"]


def test_smoke_runs_and_nar_stepping():
    assert is_smoke(preset("tiny")) and not is_smoke(preset("small"))
    assert not is_smoke(preset("paper"))
    assert nar_stepping({"lm": {"model": {}}}) == "oracle"  # a run from before the option
    assert nar_stepping(preset("small").to_dict()) == "learned"


def test_errors(finished, tmp_path, capsys):
    status, _, err = run_cli(["report", finished, finished], capsys)
    assert status == 2 and "needs an output directory (--out)" in err
    status, _, err = run_cli(["report", tmp_path], capsys)
    assert status == 2 and "is not a transnar run directory" in err
    status, _, err = run_cli(["report", finished, "--force", "--resamples", "0"], capsys)
    assert status == 2 and "--resamples: must be >= 1, got 0" in err
    unfinished = shutil.copytree(finished, tmp_path / "unfinished")
    shutil.rmtree(unfinished / "eval" / "control-s1")
    with pytest.raises(ValueError, match=r"is not finished: it has no eval/control-s1"):
        write_report([unfinished])


def test_an_evaluation_with_other_settings_is_not_reported(finished, tmp_path):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    record = run_dir / "stages" / "eval-transnar-s1.json"
    # a run changed (e.g. --force data.test_count=200) and interrupted before this one
    record.write_text(json.dumps({**json.loads(record.read_text()), "config_sha256": "other"}))
    with pytest.raises(ValueError, match="eval/transnar-s1 was not evaluated with the settings"):
        write_report([run_dir], tmp_path / "out")
    write_report([run_dir], tmp_path / "out", arms=["baseline", "control"])  # not reported


def test_markdown_to_html(tmp_path):
    (tmp_path / "plot.png").write_bytes(b"\x89PNG fake")
    text = "\n".join(
        [
            "# Title <1>",
            "",
            "- one **bold** item with `code`",
            "  continued",
            "- a [link](https://example.org)",
            "",
            "| name | score |",
            "| ---- | ----: |",
            "| a&b  | 0.500 |",
            "",
            "![a plot](plot.png)",
            "![missing](nowhere.png)",
            "Some text",
            "on two lines.",
        ]
    )
    page = markdown_to_html(text, "T", tmp_path)
    assert "<h1>Title &lt;1&gt;</h1>" in page
    assert "<li>one <strong>bold</strong> item with <code>code</code> continued</li>" in page
    assert "<a href='https://example.org'>link</a>" in page
    assert "<tr><th>name</th><th>score</th></tr>" in page
    assert "<tr><td>a&amp;b</td><td class='num'>0.500</td></tr>" in page
    assert "src='data:image/png;base64,iVBORyBmYWtl'" in page
    assert "src='nowhere.png'" in page
    assert "<p>Some text on two lines.</p>" in page


def test_moving_average():
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([2.0], 5) == [2.0]


@pytest.mark.parametrize(("high", "low"), [(4.0, 0.02), (3.9, 2.5), (10.0, 1.0), (60.0, 0.3)])
def test_log_axis_tick_labels_do_not_overlap(tmp_path, monkeypatch, high, low):
    import matplotlib.figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from transnar.pipeline.report import curves

    figures = []
    real_figure = matplotlib.figure.Figure

    def keep(*args, **kwargs):
        figures.append(real_figure(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(matplotlib.figure, "Figure", keep)
    steps = list(range(1, 101))
    values = [high * (low / high) ** (k / 99) for k in range(100)]
    panel = curves.Panel("loss", "cross-entropy", [curves.Line("a", steps, values)], log_y=True)
    curves.plot_panels([panel], tmp_path / "loss.png", "title")
    (fig,) = figures
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    bottom, top = ax.get_ylim()
    labels = [*ax.yaxis.get_majorticklabels(), *ax.yaxis.get_minorticklabels()]
    boxes = sorted(
        (
            text.get_window_extent(renderer)
            for text in labels
            if text.get_visible() and text.get_text() and bottom <= text.get_position()[1] <= top
        ),
        key=lambda box: box.y0,
    )
    assert len(boxes) >= 2
    for below, above in itertools.pairwise(boxes):
        assert below.y1 <= above.y0 + 0.5, (high, low, [b.bounds for b in boxes])


def test_a_report_on_some_of_the_arms(finished, tmp_path, capsys, placeholder_figures):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    shutil.rmtree(run_dir / "eval" / "control-s1")  # an arm left out need not be finished
    record = run_dir / "stages" / "transnar-s1.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "resumed": True}))
    out = tmp_path / "two-arms"
    status, _, _ = run_cli(["report", run_dir, "--out", out, "--arms", "baseline,transnar"], capsys)
    assert status == 0
    markdown = (out / "report.md").read_text()
    assert (
        "## Scores: baseline vs TransNAR\n" in markdown
        and "| Δ CLRS TransNAR − baseline" in markdown
    )
    assert "control −" not in markdown and "− control" not in markdown
    assert "- this report shows the arms baseline, transnar; the run also has control" in markdown
    stages = markdown.split("## Stages", 1)[1]
    assert "control-s" not in stages and "eval-transnar-s1 " in stages
    assert "transnar-s1 " in stages and "+ (" in stages.split("transnar-s1 ", 1)[1][:20]
    assert "(total at least " in stages and "- `+`: resumed after an interruption" in stages
    training = markdown.split("## Training the language models", 1)[1].split("##", 1)[0]
    assert "train time" in training and "| control" not in training
    assert "peak memory" in training and " MiB " in training  # each training's peak
    status, _, err = run_cli(["report", run_dir, "--out", out, "--arms", "student"], capsys)
    assert status == 2 and "has no arm student (its arms: baseline, control, transnar)" in err
    with pytest.raises(ValueError, match="not finished: it has no eval/control-s1"):
        write_report([run_dir], out, force=True, arms=["control"])


def test_a_report_on_some_of_the_algorithms(finished, tmp_path, capsys, placeholder_figures):
    out = tmp_path / "bfs"
    argv = ["report", finished, "--out", out, "--algorithms", "bfs"]
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    markdown = (out / "report.md").read_text()
    assert "- this report shows the algorithms bfs: every score" in markdown
    assert "the run also has insertion_sort (left out here)" in markdown
    scores = markdown.split("## Scores", 1)[1].split("## Training", 1)[0]
    assert "| bfs " in scores and "insertion_sort" not in scores
    whole = json.loads((finished / "comparison.json").read_text())
    part = json.loads((out / "comparison.json").read_text())
    bfs = {
        (e["size"], label): e[label]["clrs"]["mean"]
        for e in whole["by_algorithm_size"]
        if e["algorithm"] == "bfs"
        for label in whole["kinds"]
    }
    assert {
        (e["size"], label): e[label]["clrs"]["mean"]
        for e in part["by_size"]
        if e["size"] != "all"
        for label in part["kinds"]
    } == bfs
    status, _, err = run_cli([*argv[:-1], "dfs", "--force"], capsys)
    assert status == 2 and "has no algorithm dfs (its algorithms: bfs, insertion_sort)" in err


def test_a_report_on_some_of_the_seeds(finished, tmp_path, capsys, placeholder_figures):
    run_dir = shutil.copytree(finished, tmp_path / "run")
    for name in ("eval/transnar-s1", "transnar-s1"):  # a seed still training
        shutil.rmtree(run_dir / name)
    status, _, err = run_cli(["report", run_dir, "--out", tmp_path / "all"], capsys)
    assert status == 2 and "not finished" in err
    out = tmp_path / "seed-0"
    status, _, err = run_cli(["report", run_dir, "--out", out, "--seeds", "0"], capsys)
    assert status == 0, err
    markdown = (out / "report.md").read_text()
    assert "- this report shows the language models of seed(s) 0; the run also has seed(s) 1" in (
        markdown
    )
    assert "(1 seed)" in markdown and "(2 seeds)" not in markdown
    stages = markdown.split("## Stages", 1)[1]
    assert "baseline-s0 " in stages and "-s1 " not in stages
    whole = json.loads((finished / "comparison.json").read_text())
    part = json.loads((out / "comparison.json").read_text())
    assert part["kinds"] == whole["kinds"] and part != whole
    status, _, err = run_cli(["report", run_dir, "--out", out, "--seeds", "0,5", "--force"], capsys)
    assert status == 2 and "has no seed 5 (its seeds: 0, 1)" in err
    status, _, err = run_cli(["report", run_dir, "--out", out, "--seeds", "x"], capsys)
    assert status == 2 and "not an integer: 'x'" in err


def test_training_curves_give_each_arm_one_colour_and_each_seed_a_style():
    from transnar.evaluation.plots import KIND_COLORS
    from transnar.pipeline.layout import ModelRun
    from transnar.pipeline.report.document import _lm_lines

    arms = ("baseline", "control", "control-blank", "transnar", "transnar-lockstep")
    models = [
        SimpleNamespace(run=ModelRun(arm, seed), metrics=[]) for arm in arms for seed in (0, 1)
    ]
    lines = _lm_lines([SimpleNamespace(models=models, directory=None)])
    colors = {label.rsplit(" s", 1)[0]: color for label, color, _, _ in lines}
    assert len(set(colors.values())) == len(arms)  # the two controls, the two TransNARs differ
    assert (
        colors["baseline"] == KIND_COLORS["baseline"]
        and colors["TransNAR"] == KIND_COLORS["transnar"]
    )
    assert colors["control"] == KIND_COLORS["control"]  # as in the bar charts
    assert [style for *_, style, _ in lines] == [0, 1] * len(arms)


def test_a_report_on_students_only_has_no_same_data_line():
    from transnar.pipeline.report.document import _same_data_line

    assert _same_data_line(["student", "student-wide"], [0]) == []
    (line,) = _same_data_line(["baseline", "student"], [0, 1])
    assert line.startswith("- The baseline") and line.endswith("at seed(s) 0, 1")
