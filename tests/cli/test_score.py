"""``transnar score``, :mod:`transnar.clrs.text.scoring` and
:mod:`transnar.clrs.text.score_report`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.cli.helpers import run_cli
from transnar import clrs
from transnar.clrs.text import format_example
from transnar.clrs.text.answer_scores import AnswerScores
from transnar.clrs.text.score_report import ScoredRow, aggregate
from transnar.clrs.text.scoring import Options, score_file, score_row


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def answer_of(algorithm, size, seed=0, use_hints=False, index=0):
    trajectory = clrs.sample(algorithm, size, seed, index + 1, truncate_decimals=3)[index]
    return format_example(trajectory, use_hints)


@pytest.fixture
def predictions(tmp_path):
    """bfs at size 4: perfect, partial; insertion_sort at 5: perfect, broken;
    topological_sort at 4: perfect, wrong shape."""
    _, bfs = answer_of("bfs", 4)  # "[3 3 0 3]"
    _, sort = answer_of("insertion_sort", 5)
    _, topo = answer_of("topological_sort", 4)
    rows = [
        {"prediction": bfs, "answer": bfs, "algo_name": "bfs", "length": 4},
        {"prediction": "[3 3 0 0]", "answer": bfs, "algo_name": "bfs", "length": 4},
        {"prediction": sort, "answer": sort, "algorithm": "insertion_sort", "size": 5},
        {"prediction": "[0.1 zero", "answer": sort, "algorithm": "insertion_sort", "size": 5},
        {"prediction": topo.strip(), "answer": topo, "algo_name": "topological_sort", "length": 4},
        {"prediction": "[0 1], 2", "answer": topo, "algo_name": "topological_sort", "length": 4},
    ]
    assert bfs == "[3 3 0 3]\n\n"
    return write_jsonl(tmp_path / "predictions.jsonl", rows)


def test_help(capsys):
    status, out, _ = run_cli(["score", "--help"], capsys)
    assert status == 0 and "--skip-bad-rows" in out and "prediction" in out


def test_scores_a_file_end_to_end(predictions, tmp_path, capsys):
    out_dir = tmp_path / "scores"
    argv = ["score", str(predictions), "--out", str(out_dir), "--no-progress"]
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    assert "| algorithm" in out and "| parse | shape |  CLRS |" in out
    assert "| bfs              |    4 |   2 | 1.000 | 1.000 | 0.875 |" in out
    assert "| insertion_sort   |    5 |   2 | 0.500 | 0.500 | 0.500 |" in out
    assert "| topological_sort |    4 |   2 | 1.000 | 0.500 | 0.500 |" in out
    assert "| graphs " in out and "| sorting " in out and "trace" not in out
    assert f"wrote {out_dir / 'scores.json'}" in out

    report = json.loads((out_dir / "scores.json").read_text())
    assert report["samples"] == 6 and report["bad_rows"] == 0
    cells = {(c["algorithm"], c["size"]): c for c in report["by_algorithm_size"]}
    bfs = cells["bfs", 4]
    assert (bfs["family"], bfs["count"], bfs["parse"], bfs["shape"]) == ("graphs", 2, 1.0, 1.0)
    assert bfs["clrs"] == pytest.approx(0.875) and bfs["trace"] is None
    families = {f["family"]: f for f in report["by_family"]}
    # graphs: the mean of bfs (0.875) and topological_sort (0.5).
    assert families["graphs"]["clrs"] == pytest.approx((0.875 + 0.5) / 2)
    assert families["graphs"]["algorithms"] == 2 and families["graphs"]["count"] == 4
    assert report["overall"]["clrs"] == pytest.approx((0.875 + 0.5 + 0.5) / 3)
    markdown = (out_dir / "scores.md").read_text()
    assert markdown.startswith("# CLRS-Text scores") and "| bfs " in markdown


def test_refuses_to_overwrite_without_force(predictions, tmp_path, capsys):
    out_dir = tmp_path / "scores"
    out_dir.mkdir()
    (out_dir / "scores.md").write_text("precious")
    argv = ["score", str(predictions), "--out", str(out_dir), "--no-progress"]
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and "transnar: error:" in err and "--force" in err
    assert (out_dir / "scores.md").read_text() == "precious"
    assert not (out_dir / "scores.json").exists()
    assert run_cli([*argv, "--force"], capsys)[0] == 0
    assert (out_dir / "scores.md").read_text().startswith("# CLRS-Text scores")


def test_without_out_only_prints(predictions, tmp_path, capsys):
    status, out, _ = run_cli(["score", str(predictions), "--no-progress"], capsys)
    assert status == 0 and "wrote" not in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.jsonl"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", "line 3: not JSON"),
        ("[1, 2]", "line 3: a row must be a JSON object"),
        ({"answer": "[0 1]\n\n", "algo_name": "bfs"}, "line 3: no prediction"),
        ({"prediction": 3, "answer": "[0 1]", "algo_name": "bfs"}, "must be a string"),
        ({"prediction": "[0 1]", "answer": "[0 1]", "algo_name": "bfz"}, "did you mean 'bfs'"),
        ({"prediction": "[0 1]", "answer": "[0 1]"}, "needs 'algo_name'"),
        ({"prediction": "[0 1]", "answer": "[0 x]", "algo_name": "bfs"}, "not a bfs answer"),
        ({"prediction": "[0 1]", "algo_name": "bfs", "length": 4}, "a row needs the truth"),
        ({"prediction": "[0 1]", "answer": "[0 1]", "algo_name": "bfs", "length": -1}, "length"),
        ({"prediction": "1", "question": "bfs:\ns: 0\npi:\n"}, "line 3: "),
    ],
)
def test_a_bad_row_stops_with_its_line_number(tmp_path, capsys, row, message):
    _, bfs = answer_of("bfs", 4)
    good = {"prediction": bfs, "answer": bfs, "algo_name": "bfs", "length": 4}
    path = write_jsonl(tmp_path / "p.jsonl", [good, "", row, good])  # line 2 is blank
    argv = ["score", str(path), "--out", str(tmp_path / "out"), "--no-progress"]
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and message in err and "Traceback" not in err
    assert err.startswith(f"transnar: error: {path}, line 3: ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()

    status, out, err = run_cli([*argv, "--skip-bad-rows"], capsys)
    assert status == 0 and "skipped 1 bad row(s); line 3" in err
    report = json.loads((tmp_path / "out" / "scores.json").read_text())
    assert report["samples"] == 2 and report["bad_rows"] == 1
    assert report["bad_row_errors"][0]["line"] == 3
    assert "1 bad rows skipped" in out


def test_a_file_without_rows_is_an_error(tmp_path, capsys):
    path = write_jsonl(tmp_path / "p.jsonl", ["", "{oops"])
    status, _, err = run_cli(["score", str(path), "--no-progress", "--skip-bad-rows"], capsys)
    assert status == 2 and "no row to score" in err
    status, _, err = run_cli(["score", str(tmp_path / "missing.jsonl")], capsys)
    assert status == 2 and "is not a file" in err


def test_traces(tmp_path, capsys):
    _, truth = answer_of("bfs", 5, use_hints=True)
    steps, final = truth.strip().split(" | ")
    rows = [
        {"prediction": truth, "answer": truth, "algo_name": "bfs", "length": 5},
        # Twice the steps: a wrong step count, trace accuracy 0.
        {
            "prediction": f"{steps}, {steps} | {final}",
            "answer": truth,
            "algo_name": "bfs",
            "length": 5,
        },
    ]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    status, out, _ = run_cli(["score", str(path), "--use-hints", "--no-progress"], capsys)
    assert status == 0
    assert "|  CLRS | trace |" in out
    assert "| bfs       |    5 |   2 | 1.000 | 1.000 | 1.000 | 0.500 |" in out
    # Without --use-hints the rows say nothing, so the answers are read without traces.
    status, _, err = run_cli(["score", str(path), "--no-progress"], capsys)
    assert status == 2 and "not a bfs answer" in err
    # A row's use_hints wins over the default.
    rows = [{**r, "use_hints": True} for r in rows]
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    assert run_cli(["score", str(path), "--no-progress"], capsys)[0] == 0


def test_prediction_field_and_aliases(tmp_path, capsys):
    _, bfs = answer_of("bfs", 4)
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"generation": bfs, "answer": bfs, "algo_name": "bfs"},
            {"model_answer": bfs, "answer": bfs, "algo_name": "bfs"},
        ],
    )
    status, _, err = run_cli(["score", str(path), "--no-progress"], capsys)
    assert status == 2 and "line 2: no prediction" in err
    argv = ["score", str(path), "--no-progress", "--prediction-field", "model_answer"]
    status, _, err = run_cli(argv, capsys)
    assert status == 2 and "line 1: no field 'model_answer'" in err
    assert run_cli([*argv, "--skip-bad-rows"], capsys)[0] == 0


def test_unknown_size_is_shown_as_a_question_mark(tmp_path, capsys):
    _, bfs = answer_of("bfs", 4)
    path = write_jsonl(
        tmp_path / "p.jsonl", [{"prediction": bfs, "answer": bfs, "algo_name": "bfs"}]
    )
    status, out, _ = run_cli(["score", str(path), "--no-progress"], capsys)
    assert status == 0 and "| bfs       |    ? |   1 | 1.000 | 1.000 | 1.000 |" in out
    assert "Size '?': 1 samples of unknown size, kept apart from the sizes: bfs (1)." in out


def test_segments_intersect_questions_have_an_unknown_size(tmp_path, capsys):
    """Their 4 points do not show the CLRS-Text length: no bogus size-4 row."""
    rows = []
    for algorithm, size in (("segments_intersect", 12), ("bfs", 4)):
        question, answer = answer_of(algorithm, size)
        rows.append({"prediction": answer, "question": question})
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    status, out, _ = run_cli(["score", str(path), "--no-progress", "--out", tmp_path], capsys)
    assert status == 0
    assert "| segments_intersect |    ? |   1 |" in out and "| bfs                |    4 |" in out
    overall = out.split("## Overall")[1]
    assert "|    4 |          1 |   1 |" in overall and "|    ? |          1 |   1 |" in overall
    assert "A segments_intersect question always has 4 points" in out
    scored = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert [(r["line"], r["algorithm"], r["size"], r["clrs"]) for r in scored] == [
        (1, "segments_intersect", None, 1.0),
        (2, "bfs", 4, 1.0),
    ]
    sized = {**rows[0], "length": 12}
    assert score_row(sized).size == 12


def test_runs_as_a_console_command(predictions):
    result = subprocess.run(
        [sys.executable, "-m", "transnar.cli", "score", str(predictions)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "| bfs " in result.stdout


# --- The truth rebuilt from the question or the sampler stream ---------------------


def test_truth_from_the_question():
    pytest.importorskip("transnar.clrs.text.questions")
    for algorithm, size in (("bfs", 5), ("optimal_bst", 4), ("kmp_matcher", 10)):
        for use_hints in (False, True):
            question, answer = answer_of(algorithm, size, seed=1, use_hints=use_hints)
            row = score_row({"prediction": answer, "question": question})
            assert row.algorithm == algorithm and row.size == size
            assert row.use_hints is use_hints  # read from the question
            assert row.scores.parse == row.scores.shape == row.scores.clrs == 1.0
    question, answer = answer_of("bfs", 5, seed=1)
    assert score_row({"prediction": "[0 0 0 0 0]", "question": question}).scores.clrs < 1
    with pytest.raises(ValueError, match="is not its question's"):
        score_row({"prediction": "1", "question": question, "algorithm": "dfs"})


def test_truth_from_the_sampler_stream():
    rows = pytest.importorskip("transnar.clrs.text.rows")
    for use_hints in (False, True):
        expected = rows.make_example("dijkstra", 5, 3, 2, use_hints=use_hints)
        row = {"algorithm": "dijkstra", "size": 5, "seed": 3, "index": 2}
        scored = score_row({**row, "prediction": expected["answer"]}, Options(use_hints=use_hints))
        assert scored.scores.clrs == 1.0 and scored.size == 5 and scored.use_hints is use_hints
        # index 3 is another instance, so its answer is (almost surely) wrong here.
        other = rows.make_example("dijkstra", 5, 3, 3)["answer"]
        assert other != expected["answer"] or use_hints
    with pytest.raises(ValueError, match="seed"):
        score_row({"algorithm": "bfs", "size": 5, "seed": -1, "index": 0, "prediction": "1"})


def test_absurd_sizes_and_indices_are_refused_quickly(tmp_path, capsys):
    rows = [
        {"prediction": "x", "algorithm": "bfs", "size": 1_000_000_000, "seed": 3, "index": 17},
        {"prediction": "x", "algorithm": "bfs", "size": 16, "seed": 3, "index": 10**12},
        {"prediction": "x", "algorithm": "bfs", "size": 5, "seed": 3, "index": 2**64},
    ]
    messages = ["sizes up to 64", "more than the 10,000 allowed per row", "(2**63 - 1)"]
    for row, message in zip(rows, messages, strict=True):
        path = write_jsonl(tmp_path / "p.jsonl", [row])
        status, _, err = run_cli(["score", path, "--no-progress"], capsys)
        assert status == 2 and message in err and err.startswith("transnar: error: ")
        assert "Traceback" not in err and err.count("\n") == 1
    _, bfs = answer_of("bfs", 4)
    good = {"prediction": bfs, "answer": bfs, "algo_name": "bfs", "length": 4}
    path = write_jsonl(tmp_path / "p.jsonl", [*rows, good])
    status, out, err = run_cli(["score", path, "--no-progress", "--skip-bad-rows"], capsys)
    assert status == 0 and "1 samples, 3 bad rows skipped" in out
    assert "transnar: warning: skipped 3 bad row(s); line 1: size 1000000000" in err


def test_far_rows_of_uniform_samplers_are_reached_at_once():
    rows = pytest.importorskip("transnar.clrs.text.rows")
    index = 10**12
    truth = rows.make_example("insertion_sort", 8, 3, index)["answer"]
    row = {"algorithm": "insertion_sort", "size": 8, "seed": 3, "index": index}
    assert score_row({**row, "prediction": truth}).scores.clrs == 1.0
    nearby = rows.make_example("insertion_sort", 8, 3, 5)
    assert nearby == next(rows.examples("insertion_sort", 8, 3, 1, start=5))[0]


def test_rows_of_a_stream_in_order_cost_one_draw_each(tmp_path, monkeypatch):
    from transnar.clrs.text import scoring

    rows = pytest.importorskip("transnar.clrs.text.rows")
    monkeypatch.setattr(scoring, "MAX_REDRAWS", 5)

    def row(index):
        truth = rows.make_example("bfs", 5, 3, index)["answer"]
        return {"algorithm": "bfs", "size": 5, "seed": 3, "index": index, "prediction": truth}

    # ascending: 4 draws between rows at most; behind: the stream restarts (2 draws)
    path = write_jsonl(tmp_path / "p.jsonl", [row(i) for i in (0, 4, 8, 12, 16, 2)])
    report = score_file(path, Options())
    assert report.overall.count == 6 and report.overall.clrs == 1.0
    path = write_jsonl(tmp_path / "p.jsonl", [row(12)])
    with pytest.raises(ValueError, match="12 instances before it one by one, more than the 5"):
        score_file(path, Options())


def test_score_file_library_api(predictions):
    report = score_file(predictions, Options())
    assert report.overall.count == 6 and not report.has_traces
    # CLRS-30 order (the families' order), not the file's.
    order = [a for a in clrs.CLRS30_ALGORITHMS if a in report.by_algorithm]
    assert list(report.by_algorithm) == order == ["insertion_sort", "bfs", "topological_sort"]


def test_aggregate_means():
    def row(algorithm, size, parse, shape, clrs_, trace=None):
        return ScoredRow(0, algorithm, size, False, AnswerScores(parse, shape, clrs_, trace))

    report = aggregate(
        [
            row("bfs", 4, 1, 1, 1, 1.0),
            row("bfs", 4, 1, 0, 0, 0.0),
            row("bfs", 5, 1, 1, 0.5),
            row("dfs", 4, 0, 0, 0),
            row("minimum", None, 1, 1, 1),
        ]
    )
    assert report.by_algorithm_size["bfs", 4].clrs == 0.5
    assert report.by_algorithm_size["bfs", 4].trace == 0.5
    assert report.by_algorithm["bfs"].count == 3
    assert report.by_algorithm["bfs"].clrs == pytest.approx(0.5)
    assert report.by_algorithm["bfs"].trace == 0.5 and report.by_algorithm["bfs"].trace_count == 2
    assert report.by_family["graphs"].clrs == pytest.approx(0.25)  # mean of bfs and dfs
    assert report.by_family_size["graphs", 4].clrs == pytest.approx(0.25)
    assert list(report.by_size) == [4, 5, None]
    assert report.overall.algorithms == 3
    assert report.overall.clrs == pytest.approx((0.5 + 0 + 1) / 3)
    assert list(report.by_family) == ["searching", "graphs"]
