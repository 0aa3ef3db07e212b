"""``transnar report``: the report of one pipeline run, or of several (mean ± std)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from tests.cli_helpers import run_cli
from tests.evaluation_helpers import results_document
from tests.pipeline_helpers import run_fast
from transnar.report import load_run, write_report
from transnar.report.curves import moving_average
from transnar.report.html import markdown_to_html

MODELS = ("baseline-s0", "transnar-s0")
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
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_dir = tmp_path_factory.mktemp("report") / "run"
        run_fast(run_dir)
    finally:
        torch.set_num_threads(before)
    return run_dir


def with_clrs_scores(source, target, clrs: dict[str, float]):
    """A copy of a run whose evaluations score ``clrs[model]`` in every cell."""
    shutil.copytree(source, target)
    for model, value in clrs.items():
        path = target / "eval" / model / "results.json"
        document = json.loads(path.read_text())
        cells = {(a, n): value for a in ("bfs", "insertion_sort") for n in (5, 7)}
        document["scores"] = results_document("x", "baseline", cells)["scores"]
        path.write_text(json.dumps(document))
    return target


def test_the_pipeline_report(finished):
    markdown = (finished / "report.md").read_text()
    for heading in (
        "# TransNAR vs the Transformer baseline",
        "## Scores: baseline vs TransNAR",
        "### Overall (mean over algorithms)",
        "### Per family (CLRS score, mean over its algorithms)",
        "### Per algorithm and size",
        "## Training the language models",
        "## The NAR on CLRS-30",
        "## Stages",
    ):
        assert f"\n{heading}\n" in f"\n{markdown}"
    assert "baseline parse | TransNAR parse | baseline shape" in markdown
    assert "| bfs            | graphs  |" in markdown  # the NAR's table
    assert "5 (in distribution), 7 (OOD extrapolation)" in markdown
    assert {p.name for p in (finished / "figures").iterdir()} == FIGURES
    page = (finished / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("data:image/png;base64,") == 6
    assert "<th>algorithm</th>" in page and "figures/" not in page  # every image embedded
    run = load_run(finished)
    assert [m.run.name for m in run.models] == list(MODELS)
    assert list(run.stages)[:2] == ["data", "nar"]


def test_rewriting_a_runs_report_gives_the_same_report(finished, capsys):
    before = (finished / "report.md").read_text()
    status, out, _ = run_cli(["report", finished], capsys)
    assert status == 0 and f"wrote {finished / 'report.html'}" in out
    assert (finished / "report.md").read_text() == before


def test_two_runs_give_mean_and_std(finished, tmp_path, capsys):
    a = with_clrs_scores(finished, tmp_path / "a", {"baseline-s0": 0.2, "transnar-s0": 0.4})
    b = with_clrs_scores(finished, tmp_path / "b", {"baseline-s0": 0.4, "transnar-s0": 0.8})
    out = tmp_path / "ab"
    status, _, err = run_cli(["report", a, b, "--out", out], capsys)
    assert status == 0, err
    markdown = (out / "report.md").read_text()
    assert "baseline (baseline, 2 file(s))" in markdown
    assert "mean ± standard deviation over the files of a label" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| bfs            |    5"))
    assert "0.300 ± 0.141" in row and "0.600 ± 0.283" in row and "+0.300" in row
    assert "± 0.000" in markdown  # the two runs' NARs are the same
    assert f"`{a}`: data " in markdown and f"`{b}`: data " in markdown
    assert {p.name for p in (out / "figures").iterdir()} == FIGURES

    status, _, err = run_cli(["report", a, b, "--out", out], capsys)
    assert status == 2 and "already exist" in err and "--force" in err
    assert run_cli(["report", a, b, "--out", out, "--force"], capsys)[0] == 0


def test_errors(finished, tmp_path, capsys):
    status, _, err = run_cli(["report", finished, finished], capsys)
    assert status == 2 and "needs an output directory (--out)" in err
    status, _, err = run_cli(["report", tmp_path], capsys)
    assert status == 2 and "is not a transnar run directory" in err
    unfinished = shutil.copytree(finished, tmp_path / "unfinished")
    shutil.rmtree(unfinished / "eval" / "transnar-s0")
    with pytest.raises(ValueError, match=r"is not finished: it has no eval/transnar-s0"):
        write_report([unfinished])


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
