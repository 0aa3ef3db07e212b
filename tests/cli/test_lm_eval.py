"""``transnar lm eval``, ``transnar lm compare`` and ``transnar generate``."""

from __future__ import annotations

import io
import json

import pytest
import torch

from tests import tiny
from tests.cli.helpers import run_cli
from transnar.clrs import sample
from transnar.clrs.text import format_example
from transnar.evaluation import PLOTS

QUESTION = "bfs:\ns: 0, A: [[1 1 0 0], [1 1 1 0], [0 1 1 1], [0 0 1 1]]\npi:\n"
FAST = ["--count", "2", "--sizes", "4", "5", "--no-progress"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny TransNAR (bfs, insertion_sort) and a baseline, saved."""
    root = tmp_path_factory.mktemp("models")
    torch.set_num_threads(1)
    return {
        "transnar": tiny.saved_transnar(root / "transnar"),
        "baseline": tiny.saved_transnar(root / "baseline", use_nar=False),
    }


def assert_one_error_line(status, err, *fragments):
    assert status == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("transnar: error: "), err
    for fragment in fragments:
        assert fragment in lines[0]


# --- lm eval -----------------------------------------------------------------------------


def test_eval_writes_results_tables_and_plots(models, tmp_path, capsys):
    out = tmp_path / "eval"
    status, stdout, err = run_cli(
        ["lm", "eval", str(models["transnar"]), *FAST, "--out", str(out)], capsys
    )
    assert status == 0, err
    assert "| size | algorithms |   n | parse | shape |  CLRS |" in stdout
    expected = {"results.json", "results.md", "predictions.jsonl", *PLOTS.values()}
    assert {p.name for p in out.iterdir()} == expected
    document = json.loads((out / "results.json").read_text())
    assert document["settings"]["algorithms"] == ["bfs", "insertion_sort"]
    assert document["settings"]["sizes"] == [4, 5] and document["scores"]["overall"]["count"] == 8
    assert document["model"]["path"] == str(models["transnar"])
    # twice: refused, then forced
    status, _, err = run_cli(
        ["lm", "eval", str(models["transnar"]), *FAST, "--out", str(out)], capsys
    )
    assert_one_error_line(status, err, "already exist")
    status, _, _ = run_cli(
        ["lm", "eval", str(models["transnar"]), *FAST, "--out", str(out), "--force"], capsys
    )
    assert status == 0


def test_eval_of_a_run_directory_writes_beside_the_model(tmp_path, capsys):
    run = tmp_path / "run"
    tiny.saved_transnar(run / "model", use_nar=False)
    data = {
        "algorithms": ["minimum"],
        "train_sizes": [4, 6],
        "train_seed": 5,
        "val_seed": 6,
        "test_sizes": [4, 5, 7],
        "test_seed": 7,
        "test_count": 50,
    }
    (run / "config.json").write_text(json.dumps({"model": {}, "data": data}))
    status, _, err = run_cli(["lm", "eval", str(run), *FAST, "--no-plots", "--no-samples"], capsys)
    assert status == 0, err
    assert "from the run's config.json: algorithms, test_seed, train_sizes" in err
    document = json.loads((run / "eval" / "results.json").read_text())
    settings = document["settings"]
    assert settings["algorithms"] == ["minimum"]  # from the run's config ...
    assert (settings["seeds"], settings["training_seeds"]) == ([7], [5, 6])
    assert (settings["sizes"], settings["count"]) == ([4, 5], 2)  # ... unless given
    assert document["regimes"] == {"4": "in-distribution", "5": "ood-interpolation"}
    assert document["label"] == "baseline" and "samples" not in document
    assert {p.name for p in (run / "eval").iterdir()} == {"results.json", "results.md"}
    status, _, err = run_cli(["lm", "eval", str(run), *FAST, "--seeds", "6", "--force"], capsys)
    assert_one_error_line(status, err, "training seeds [5, 6]")


def test_eval_with_compare_and_the_compare_command(models, tmp_path, capsys, placeholder_figures):
    base, tn = tmp_path / "base", tmp_path / "tn"
    options = [*FAST, "--algorithms", "bfs", "--no-plots"]
    assert (
        run_cli(["lm", "eval", str(models["baseline"]), *options, "--out", str(base)], capsys)[0]
        == 0
    )
    status, _, err = run_cli(
        ["lm", "eval", str(models["transnar"]), "--algorithms", "bfs", *FAST, "--out", str(tn),
         "--compare", str(base / "results.json")],
        capsys,
    )  # fmt: skip
    assert status == 0, err
    assert (tn / "comparison.md").read_text().startswith("# Comparison: baseline vs TransNAR")
    assert (tn / "clrs_score.png").is_file()

    out = tmp_path / "cmp"
    status, stdout, err = run_cli(["lm", "compare", str(tn), str(base), "--out", str(out)], capsys)
    assert status == 0, err
    assert "# Comparison: baseline vs TransNAR" in stdout and "Δ CLRS" in stdout
    expected = {"comparison.json", "comparison.md", *PLOTS.values()}
    assert {p.name for p in out.iterdir()} == expected

    # LABEL=RESULTS: one model's two evaluations under two labels, paired question by question
    relabelled = tmp_path / "relabelled"
    argv = ["lm", "compare", f"first={base}", f"second={base / 'results.json'}", "--no-plots"]
    status, stdout, err = run_cli([*argv, "--out", str(relabelled)], capsys)
    assert status == 0, err
    assert "# Comparison: first vs second" in stdout and "Δ CLRS second − first" in stdout
    status, _, err = run_cli(["lm", "compare", f"={base}", "--out", str(relabelled)], capsys)
    assert_one_error_line(status, err, "the label before '=' is empty")


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        (["--algorithms", "bfz"], ["unknown algorithm 'bfz'"]),
        (["--algorithms", "dfs"], ["not trained on dfs"]),
        (["--seeds", "0"], ["training seeds"]),
        (["--count", "0"], ["count must be a positive integer"]),
        (["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "nope"], []),
        (["--compare", "missing.json"], ["no such results file"]),
    ],
)
def test_eval_bad_inputs(arguments, fragments, models, tmp_path, capsys):
    argv = ["lm", "eval", str(models["transnar"]), *FAST, "--out", str(tmp_path), *arguments]
    status, _, err = run_cli(argv, capsys)
    assert_one_error_line(status, err, *fragments)


def test_eval_of_a_directory_without_a_model(tmp_path, capsys):
    status, _, err = run_cli(["lm", "eval", str(tmp_path), *FAST], capsys)
    assert_one_error_line(status, err, "no saved TransNAR")
    status, _, err = run_cli(["lm", "eval", str(tmp_path / "nothing"), *FAST], capsys)
    assert_one_error_line(status, err, "no such directory")


def test_compare_bad_inputs(tmp_path, capsys):
    (tmp_path / "x.json").write_text("[1, 2]")
    status, _, err = run_cli(
        ["lm", "compare", str(tmp_path / "x.json"), "--out", str(tmp_path)], capsys
    )
    assert_one_error_line(status, err, "not a transnar.eval_results file")


def test_help(capsys):
    for argv in (["lm", "eval", "--help"], ["lm", "compare", "--help"], ["generate", "--help"]):
        status, stdout, _ = run_cli(argv, capsys)
        assert status == 0 and "examples:" in stdout


# --- generate ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["transnar", "baseline"])
def test_generate_from_a_question_alone(kind, models, capsys):
    status, stdout, err = run_cli(["generate", str(models[kind]), "--question", QUESTION], capsys)
    assert status == 0, err
    assert "\n\n" not in stdout.rstrip("\n")
    again = run_cli(["generate", str(models[kind]), "--question", QUESTION], capsys)[1]
    assert again == stdout  # seeded positions


def test_generate_with_the_position_seed_prints_what_eval_predicted(models, tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["lm", "eval", str(models["transnar"]), *FAST, "--position-seed", "3", "--out", str(out)]
    assert run_cli(argv, capsys)[0] == 0
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    for row in rows[:2] + rows[-2:]:
        argv = ["generate", str(models["transnar"]), "--question", row["question"], "--seed", "3"]
        status, stdout, err = run_cli(argv, capsys)
        assert status == 0, err
        assert stdout == row["prediction"].split("\n\n", 1)[0].strip("\n") + "\n"
        assert "random positions, seed 3" in err


def test_generate_with_escaped_newlines_and_scores(models, capsys):
    typed = QUESTION.strip().replace("\n", "\\n")  # as typed in a shell
    argv = ["generate", str(models["transnar"]), "--question", typed, "--score"]
    status, stdout, err = run_cli(argv, capsys)
    assert status == 0, err
    lines = stdout.splitlines()
    assert "truth: [0 0 1 2]" in lines
    assert lines[-1].startswith("parse ")


def test_generate_reads_standard_input(models, monkeypatch, capsys):
    question, _ = format_example(sample("insertion_sort", 4, 1, truncate_decimals=3)[0])
    monkeypatch.setattr("sys.stdin", io.StringIO(question))
    argv = ["generate", str(models["transnar"]), "--question", "-", "--max-new-tokens", "3"]
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err


@pytest.mark.parametrize(
    ("question", "fragments"),
    [
        ("bfs:\ns: 0, A: [[1 1], [1 1\npi:\n", ["line 2"]),
        ("bogus:\nx: 1\ny:\n", ["unknown algorithm"]),
        ("bfs: [[1]]", []),
        ("", ["empty"]),
    ],
)
def test_generate_malformed_question(question, fragments, models, capsys):
    argv = ["generate", str(models["transnar"]), "--question", question]
    status, stdout, err = run_cli(argv, capsys)
    assert stdout == ""
    assert_one_error_line(status, err, *fragments)


def test_generate_other_errors(models, tmp_path, capsys):
    question, _ = format_example(sample("dfs", 4, 0)[0])
    status, _, err = run_cli(["generate", str(models["transnar"]), "--question", question], capsys)
    assert_one_error_line(status, err, "not trained on dfs")
    status, _, err = run_cli(["generate", str(tmp_path), "--question", QUESTION], capsys)
    assert_one_error_line(status, err, "no saved TransNAR")
    argv = ["generate", str(models["transnar"]), "--question", QUESTION, "--max-new-tokens", "0"]
    assert_one_error_line(*run_cli(argv, capsys)[::2], "max-new-tokens")


# --- a pipeline run directory -------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory, models):
    """A pipeline run's layout: config.yaml, stages/ and <arm>-s<seed>/model (copies)."""
    import shutil

    run = tmp_path_factory.mktemp("pipeline") / "run"
    (run / "stages").mkdir(parents=True)
    (run / "config.yaml").write_text("seeds: 2\n")
    for name, kind in (("baseline-s0", "baseline"), ("transnar-s1", "transnar")):
        shutil.copytree(models[kind], run / name / "model")
    shutil.copytree(models["transnar"], run / "transnar-s3" / "model")
    (run / "control-s0").mkdir()  # not trained yet: no model/
    return run


def test_generate_picks_a_model_of_a_pipeline_run(pipeline_run, models, capsys):
    argv = ["generate", str(pipeline_run), "--question", QUESTION]
    status, stdout, err = run_cli(argv, capsys)
    same = run_cli(["generate", str(models["transnar"]), "--question", QUESTION], capsys)[1]
    assert status == 0 and stdout == same
    assert err.splitlines()[0] == (
        f"transnar: using {pipeline_run / 'transnar-s1' / 'model'}: the transnar model of seed 1 "
        f"of the pipeline run {pipeline_run} (others: baseline-s0, transnar-s3; pick with "
        "--arm and --model-seed)"
    )
    expected = run_cli(["generate", str(models["baseline"]), "--question", QUESTION], capsys)[1]
    status, stdout, err = run_cli([*argv, "--arm", "baseline"], capsys)
    assert status == 0 and stdout == expected and "baseline-s0" in err
    status, _, err = run_cli([*argv, "--arm", "control"], capsys)
    assert_one_error_line(
        status, err, "pipeline run without a trained control model (trained: baseline-s0,"
    )
    status, _, err = run_cli([*argv, "--model-seed", "2"], capsys)
    assert_one_error_line(status, err, "without a trained transnar-s2 model")
    argv = ["generate", str(models["baseline"]), "--question", QUESTION, "--arm", "baseline"]
    assert_one_error_line(*run_cli(argv, capsys)[::2], "is not one")


def test_eval_of_a_pipeline_run_writes_beside_the_model_picked(pipeline_run, capsys):
    argv = ["lm", "eval", str(pipeline_run), *FAST, "--no-plots", "--model-seed", "3"]
    status, _, err = run_cli(argv, capsys)
    assert status == 0, err
    assert f"using {pipeline_run / 'transnar-s3' / 'model'}: the transnar model of seed 3" in err
    document = json.loads((pipeline_run / "transnar-s3" / "eval" / "results.json").read_text())
    assert document["model"]["path"] == str(pipeline_run / "transnar-s3" / "model")


def test_a_pipeline_run_is_known_by_the_pipelines_file_names():
    from transnar.pipeline.layout import CONFIG_YAML, STAGES_DIR

    assert (CONFIG_YAML, STAGES_DIR) == ("config.yaml", "stages")
