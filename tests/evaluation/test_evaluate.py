"""Evaluation (:mod:`transnar.evaluation`): answers, scores, result files, comparisons."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import pytest
import torch

from tests import tiny
from tests.cli.helpers import run_cli
from tests.evaluation.helpers import TruthfulGenerate, results_document
from transnar import clrs
from transnar.clrs.text import format_example, parse_question, question_answer_bound
from transnar.clrs.text.rows import examples
from transnar.clrs.text.scoring import score_file
from transnar.evaluation import (
    PLOTS,
    Comparison,
    EvalSettings,
    answer_question,
    evaluate,
    load_results,
    normalize_question,
    results_to_dict,
    write_comparison,
    write_results,
)
from transnar.evaluation.answering import load_model
from transnar.evaluation.decoding import question_generator
from transnar.evaluation.evaluate import regime
from transnar.evaluation.results import restrict_results
from transnar.nar import Features
from transnar.nar.memory import GraphMemory

SMALL = {"algorithms": ("bfs", "insertion_sort"), "sizes": (4, 5), "count": 3, "batch_size": 2}


@pytest.fixture(scope="module")
def transnar():
    return tiny.transnar(use_nar=True)


@pytest.fixture(scope="module")
def baseline():
    return tiny.transnar(use_nar=False)


@pytest.fixture(scope="module")
def results(transnar):
    torch.set_num_threads(1)
    return evaluate(transnar, EvalSettings(**SMALL), path="tiny")


# --- evaluate --------------------------------------------------------------------


@pytest.mark.parametrize("use_nar", [True, False])
def test_a_model_answering_the_truth_scores_one(use_nar, transnar, baseline):
    model = transnar if use_nar else baseline
    stub = TruthfulGenerate()
    results = evaluate(model, EvalSettings(**SMALL), generate_fn=stub)
    overall = results.report.overall
    assert (overall.parse, overall.shape, overall.clrs) == (1.0, 1.0, 1.0)
    assert overall.count == 2 * 2 * 3
    assert all(s.clrs == 1.0 for s in results.report.by_algorithm_size.values())
    assert all(s.scores.clrs == 1.0 and s.stopped for s in results.samples)
    assert all(("memory" in call) == use_nar for call in stub.calls)


def test_batches_hold_one_algorithm_and_size_with_its_graph_memory(transnar):
    stub = TruthfulGenerate()
    settings = EvalSettings(**{**SMALL, "count": 5})
    evaluate(transnar, settings, generate_fn=stub)
    # 2 algorithms x 2 sizes x batches of 2, 2, 1
    assert [len(c["prompts"]) for c in stub.calls] == [2, 2, 1] * 4
    for call in stub.calls:
        algorithms = {p.split(":", 1)[0] for p in call["prompts"]}
        assert len(algorithms) == 1
        memory = call["memory"]
        assert isinstance(memory, GraphMemory)
        assert memory.nodes.shape[0] == len(call["prompts"])
        assert memory.node_mask.all()  # one size per batch: no padding nodes
        # each question's own budget: the bound of its inputs, never below its answer
        budgets = [question_answer_bound(p, "default") for p in call["prompts"]]
        truths = [len(format_example(_trajectory(p))[1]) for p in call["prompts"]]
        assert call["max_new_tokens"] == budgets
        assert all(t <= b for t, b in zip(truths, budgets, strict=True))
        assert call["positions"] == "random"
        # one generator per question, from the position seed and its text
        assert len(call["generator"]) == len(call["prompts"])
        for generator, prompt in zip(call["generator"], call["prompts"], strict=True):
            assert generator.initial_seed() == question_generator(0, prompt).initial_seed()


def test_evaluation_set_is_the_dataset_stream(transnar):
    stub = TruthfulGenerate()
    evaluate(transnar, EvalSettings(**{**SMALL, "batch_size": 3}), generate_fn=stub)
    rows = [row for row, _ in examples("bfs", 4, 2, 3)]
    assert stub.calls[0]["prompts"] == [row["question"] for row in rows]


def test_real_decoding_records_every_sample(results):
    assert results.report.overall.count == 12
    assert len(results.samples) == 12
    assert {(s.algorithm, s.size) for s in results.samples} == {
        ("bfs", 4),
        ("bfs", 5),
        ("insertion_sort", 4),
        ("insertion_sort", 5),
    }
    sample = results.samples[0]
    assert sample.seed == 2 and sample.index == 0
    assert sample.question.startswith("bfs:\n") and sample.answer.endswith("\n\n")
    assert 0 <= sample.scores.clrs <= 1 and sample.num_tokens >= 1
    assert results.settings.algorithms == ("bfs", "insertion_sort")
    assert results.settings.positions == "random"
    assert results.model["kind"] == "transnar" and results.model["label"] == "TransNAR"
    assert results.timing["generated_tokens"] == sum(s.num_tokens for s in results.samples)


def test_evaluation_is_deterministic(transnar, results):
    again = evaluate(transnar, EvalSettings(**SMALL))
    assert [s.prediction for s in again.samples] == [s.prediction for s in results.samples]
    assert again.data_sha256 == results.data_sha256


def test_default_algorithms_are_the_nar_s(transnar):
    stub = TruthfulGenerate()
    settings = EvalSettings(sizes=(4,), count=1)
    results = evaluate(transnar, settings, generate_fn=stub)
    assert results.settings.algorithms == ("bfs", "insertion_sort")
    assert results.settings.seeds == (2,) and EvalSettings().sizes == (10, 12, 14)


def test_the_model_is_put_back_in_its_mode(baseline):
    baseline.train()
    try:
        evaluate(baseline, EvalSettings(**{**SMALL, "count": 1}), generate_fn=TruthfulGenerate())
        assert baseline.training
    finally:
        baseline.eval()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"seeds": (0,)}, "training seeds"),
        ({"algorithms": ("bfz",)}, "bfs"),
        ({"count": 0}, "count"),
        ({"sizes": ()}, "sizes"),
        ({"positions": "sinusoidal"}, "positions"),
    ],
)
def test_bad_settings(options, message):
    with pytest.raises(ValueError, match=message):
        EvalSettings(**options)


def test_regimes():
    assert EvalSettings().regimes() == {
        10: "ood-interpolation",
        12: "in-distribution",
        14: "ood-extrapolation",
    }
    assert regime(3, (4, 8)) == "ood-smaller" and regime(6, None) is None


def test_an_algorithm_the_nar_does_not_know(transnar):
    with pytest.raises(ValueError, match="not trained on dfs"):
        evaluate(transnar, EvalSettings(algorithms=("dfs",), count=1))


# --- files -------------------------------------------------------------------------------


def test_write_results_writes_every_file(results, tmp_path):
    paths = write_results(results, tmp_path / "eval")
    names = {p.name for p in paths}
    assert names == {"results.json", "results.md", "predictions.jsonl", *PLOTS.values()}
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)

    document = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert document["format"] == "transnar.eval_results" and document["version"] == 1
    assert document["transnar_version"] and document["torch_version"]
    assert document["settings"]["seeds"] == [2] and document["settings"]["training_seeds"] == [0, 1]
    assert document["settings"]["count"] == 3
    assert document["regimes"] == {"4": "in-distribution", "5": "in-distribution"}
    assert document["settings"]["train_sizes"] == [4, 5, 6, 7, 8, 12]
    assert len(document["data_sha256"]) == 64
    scores = document["scores"]
    assert [(e["algorithm"], e["size"]) for e in scores["by_algorithm_size"]] == [
        ("insertion_sort", 4),
        ("insertion_sort", 5),
        ("bfs", 4),
        ("bfs", 5),
    ]
    assert {e["family"] for e in scores["by_family"]} == {"sorting", "graphs"}
    assert [e["size"] for e in scores["by_size"]] == [4, 5]
    assert scores["overall"]["count"] == 12
    assert len(document["samples"]) == 12 and "question" not in document["samples"][0]
    question = results.samples[0].question.encode()
    assert document["samples"][0]["question_sha256"] == hashlib.sha256(question).hexdigest()[:16]
    # a question asked with index hints is recorded as the same question
    sample = results.samples[0]
    (trajectory,) = clrs.sample(sample.algorithm, sample.size, sample.seed, 1)
    hinted, _ = format_example(trajectory, index_hints=True)
    assert hinted != format_example(trajectory)[0]
    again = dataclasses.replace(sample, question=hinted, question_sha256=None)
    plain = dataclasses.replace(
        sample, question=format_example(trajectory)[0], question_sha256=None
    )
    assert again.to_record()["question_sha256"] == plain.to_record()["question_sha256"]

    markdown = (tmp_path / "eval" / "results.md").read_text()
    for heading in ("# Evaluation: TransNAR", "## Per algorithm and size", "## Per family"):
        assert heading in markdown
    assert "## Overall (mean over algorithms)" in markdown
    assert "| insertion_sort |    4 |   3 |" in markdown

    # predictions.jsonl scores to the same numbers with `transnar score`
    rescored = score_file(tmp_path / "eval" / "predictions.jsonl")
    assert rescored.by_algorithm_size == results.report.by_algorithm_size


def test_write_results_refuses_to_overwrite(results, tmp_path):
    write_results(results, tmp_path, plots=False)
    with pytest.raises(FileExistsError, match="already exist"):
        write_results(results, tmp_path, plots=False)
    write_results(results, tmp_path, plots=False, overwrite=True)


def test_results_without_samples(results, tmp_path):
    paths = write_results(results, tmp_path, include_samples=False, plots=False)
    assert {p.name for p in paths} == {"results.json", "results.md"}
    assert "samples" not in json.loads((tmp_path / "results.json").read_text())


def test_load_results(results, tmp_path):
    write_results(results, tmp_path, plots=False)
    document = load_results(tmp_path)  # the directory or the file
    assert document["scores"] == results_to_dict(results)["scores"]
    assert document["source"] == str(tmp_path / "results.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        load_results(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"format": "something"}')
    with pytest.raises(ValueError, match=r"not a transnar\.eval_results"):
        load_results(tmp_path / "other.json")
    with pytest.raises(ValueError, match="no such results file"):
        load_results(tmp_path / "missing.json")


# --- comparisons ---------------------------------------------------------------------------


def test_comparison_tables_and_wins(tmp_path):
    base = results_document("baseline", "baseline", {("bfs", 10): 0.2, ("minimum", 10): 0.9})
    tn = results_document("TransNAR", "transnar", {("bfs", 10): 0.8, ("minimum", 10): 0.5})
    comparison = Comparison.of([tn, base])  # the baseline goes first
    assert comparison.labels == ["baseline", "TransNAR"]
    assert comparison.wins() == (1, 1, 0)
    assert comparison.cell("TransNAR", "size", 10, "clrs").mean == pytest.approx(0.65)
    markdown = comparison.to_markdown()
    assert "| size | regime" in markdown and "Δ CLRS" in markdown
    assert "+0.600" in markdown and "-0.400" in markdown
    assert "TransNAR higher than baseline in 1 of 2 cells, lower in 1" in markdown
    _, paths = write_comparison([base, tn], tmp_path)
    assert {p.name for p in paths} == {"comparison.json", "comparison.md", *PLOTS.values()}
    document = json.loads((tmp_path / "comparison.json").read_text())
    assert document["labels"] == ["baseline", "TransNAR"] and document["same_data"]
    bfs = document["by_algorithm_size"][-1]
    assert (bfs["algorithm"], bfs["size"]) == ("bfs", 10)
    assert bfs["TransNAR"]["clrs"]["mean"] == pytest.approx(0.8)


def test_files_with_one_label_are_averaged():
    seeds = [results_document("TransNAR", "transnar", {("bfs", 10): v}) for v in (0.4, 0.6)]
    comparison = Comparison.of(
        [*seeds, results_document("baseline", "baseline", {("bfs", 10): 0.1})]
    )
    cell = comparison.cell("TransNAR", "algorithm_size", ("bfs", 10), "clrs")
    assert (cell.mean, cell.files) == (pytest.approx(0.5), 2)
    assert cell.std == pytest.approx(math.sqrt(0.02))
    assert "0.500 ± 0.141" in comparison.to_markdown()
    (series,) = [s for s in comparison.series("clrs") if s.label == "TransNAR"]
    assert series.errors[("bfs", 10)] == pytest.approx(math.sqrt(0.02))


def test_a_pipeline_variants_label_names_its_arm():
    from transnar.evaluation.comparison import arm_of

    assert arm_of("student (test sizes too)", "baseline") == "student"  # its kind: no NAR
    assert arm_of("baseline (index hints)", "baseline") == "baseline"
    assert arm_of("TransNAR (all)", "transnar") == "transnar"
    assert arm_of("control (blank memory)", "control") == "control"
    assert arm_of("TN-big", "transnar") == "transnar" and arm_of("mine", None) is None


def test_labels_are_ordered_baseline_control_transnar_with_a_column_per_pair():
    cells = {("bfs", 10): 0.5}
    documents = [
        results_document("TransNAR", "transnar", cells),
        results_document("TN-big", "transnar", cells),
        results_document("control", "control", cells),
        results_document("base", "baseline", cells),
    ]
    comparison = Comparison.of(documents)
    assert comparison.labels == ["base", "control", "TransNAR", "TN-big"]
    assert comparison.arms == {
        "base": "baseline",
        "control": "control",
        "TransNAR": "transnar",
        "TN-big": "transnar",
    }
    assert comparison.pairs[:3] == [
        ("TN-big", "base"),
        ("TN-big", "control"),
        ("TN-big", "TransNAR"),
    ]
    assert len(comparison.pairs) == 6 and comparison.wins() is None
    markdown = comparison.to_markdown()
    assert "| Δ CLRS TransNAR − control |" in markdown and "| Δ CLRS control − base |" in markdown
    assert "control higher than base in 0 of 1 cells, lower in 0, equal in 1" in markdown
    assert "without a paired test" in markdown and "no per-sample records" in markdown
    assert [s.kind for s in comparison.series("clrs")] == [
        "baseline",
        "control",
        "transnar",
        "transnar",
    ]
    assert all(s.note is None and not s.intervals for s in comparison.series("clrs"))


def test_comparison_warns_about_different_data_and_keeps_common_cells():
    base = results_document("baseline", "baseline", {("bfs", 10): 0.2, ("bfs", 12): 0.3}, sha="a")
    tn = results_document("TransNAR", "transnar", {("bfs", 10): 0.8}, sha="b")
    comparison = Comparison.of([base, tn])
    assert comparison.keys("algorithm_size") == [("bfs", 10)]
    assert "**warning**" in comparison.to_markdown()


def test_comparison_knows_the_same_questions_asked_with_index_markers(results):
    """Data hashes differ between a model with index hints and one without (the
    texts have markers), but the questions are the same: no warning; a question
    of another text is one."""
    transnar = results_to_dict(results)
    hinted = {
        **transnar,
        "label": "baseline (index hints)",
        "model": {**transnar["model"], "kind": "baseline"},
        "data_sha256": "another",
    }
    comparison = Comparison.of([transnar, hinted])
    assert comparison.same_data() and "**warning**" not in comparison.to_markdown()
    samples = [dict(s) for s in transnar["samples"]]
    samples[0]["question_sha256"] = "0" * 16
    other = {**hinted, "samples": samples}
    assert not Comparison.of([transnar, other]).same_data()
    unrecorded = {**hinted, "samples": [{**s, "question_sha256": None} for s in samples]}
    assert not Comparison.of([transnar, unrecorded]).same_data()  # falls back on the hashes


def test_comparison_errors(tmp_path):
    a = results_document("m", "baseline", {("bfs", 10): 0.2})
    b = results_document("m", "transnar", {("bfs", 10): 0.2})
    with pytest.raises(ValueError, match="different kinds"):
        Comparison.of([a, b])
    c = results_document("other", "transnar", {("dfs", 10): 0.2})
    with pytest.raises(ValueError, match="in common"):
        write_comparison([a, c], tmp_path)


def test_write_results_with_a_comparison(results, baseline, tmp_path):
    write_results(results, tmp_path / "transnar", plots=False)
    other = evaluate(baseline, EvalSettings(**SMALL))
    paths = write_results(
        other, tmp_path / "base", compare_with=[load_results(tmp_path / "transnar")]
    )
    assert {"comparison.md", "comparison.json"} <= {p.name for p in paths}
    markdown = (tmp_path / "base" / "comparison.md").read_text()
    assert markdown.startswith("# Comparison: baseline vs TransNAR")
    assert "95% paired bootstrap interval (10,000 resamples" in markdown
    assert "**warning**" not in markdown


def test_three_labels_with_samples_get_paired_tests(results, tmp_path, capsys):
    transnar = results_to_dict(results)
    control = {**transnar, "label": "control", "model": {**transnar["model"], "kind": "control"}}
    for name, document in (("tn", transnar), ("control", control)):
        (tmp_path / f"{name}.json").write_text(json.dumps(document))
    comparison, _ = write_comparison(
        [load_results(tmp_path / f"{n}.json") for n in ("tn", "control")],
        tmp_path / "cmp",
        plots=False,
        resamples=300,
    )
    assert comparison.labels == ["control", "TransNAR"]
    test = comparison.difference("TransNAR", "control", "size", "all")
    assert test.mean == 0.0 and not test.significant  # the same answers
    one = comparison.paired.mean("TransNAR", "size", 4)
    assert one.low <= comparison.cell("TransNAR", "size", 4, "clrs").mean <= one.high
    (series,) = [s for s in comparison.series("clrs") if s.label == "TransNAR"]
    assert series.note == "95% interval over the questions" and series.intervals
    # the command line, with a third label and a second file of one label
    baseline = {**transnar, "label": "baseline", "model": {**transnar["model"], "kind": "baseline"}}
    (tmp_path / "base.json").write_text(json.dumps(baseline))
    files = [str(tmp_path / f"{n}.json") for n in ("tn", "control", "base", "tn")]
    argv = ["lm", "compare", *files, "--out", str(tmp_path / "cli"), "--resamples", "200"]
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    assert "# Comparison: baseline vs control vs TransNAR" in out
    assert "| Δ CLRS TransNAR − baseline | Δ CLRS TransNAR − control | Δ CLRS control − base" in out
    assert "+0.000 [+0.000, +0.000]" in out and "paired bootstrap" in out
    # --algorithms: the comparison over those algorithms' questions only
    argv = [*argv[:-4], "--out", str(tmp_path / "bfs"), "--algorithms", "bfs", "--no-plots"]
    status, out, err = run_cli(argv, capsys)
    assert status == 0, err
    assert "| bfs " in out and "insertion_sort" not in out
    argv[-2] = "bfs,dijkstra"
    status, _, err = run_cli([*argv, "--force"], capsys)
    assert (
        status == 2 and "was not evaluated on dijkstra (its algorithms: bfs, insertion_sort)" in err
    )


def test_results_restricted_to_some_algorithms(results):
    document = results_to_dict(results)
    assert restrict_results(document, ["insertion_sort", "bfs"])["scores"] == document["scores"]
    bfs = restrict_results(document, ["bfs"])
    assert bfs["settings"]["algorithms"] == ["bfs"]
    assert {s["algorithm"] for s in bfs["samples"]} == {"bfs"} and len(bfs["samples"]) == 6
    per_cell = {
        e["size"]: e["clrs"]
        for e in document["scores"]["by_algorithm_size"]
        if e["algorithm"] == "bfs"
    }
    assert {e["size"]: e["clrs"] for e in bfs["scores"]["by_size"]} == per_cell
    assert bfs["scores"]["overall"]["count"] == 6
    assert document["settings"]["algorithms"] == ["bfs", "insertion_sort"]  # not changed
    with pytest.raises(ValueError, match="was not evaluated on dfs"):
        restrict_results(document, ["dfs"])
    with pytest.raises(ValueError, match="has no per-sample records"):
        restrict_results(results_to_dict(results, include_samples=False), ["bfs"])


# --- one question ---------------------------------------------------------------------------


def _trajectory(question):
    return clrs.execute(*parse_question(question))


def test_graph_rebuilt_from_the_question_is_the_dataset_s(transnar):
    (row, trajectory) = next(examples("bfs", 6, 2, 1))
    from_data = transnar.graph_memory(Features.from_trajectories([trajectory]))
    from_text = transnar.graph_memory(Features.from_trajectories([_trajectory(row["question"])]))
    torch.testing.assert_close(from_text.nodes, from_data.nodes, rtol=0, atol=0)
    torch.testing.assert_close(from_text.edges, from_data.edges, rtol=0, atol=0)


@pytest.mark.parametrize("use_nar", [True, False])
def test_answer_question(use_nar, transnar, baseline):
    model = transnar if use_nar else baseline
    trajectory = clrs.sample("insertion_sort", 5, 3, truncate_decimals=3)[0]
    question, answer = format_example(trajectory)
    result = answer_question(model, question)
    assert result.algorithm == "insertion_sort" and result.num_nodes == 5
    assert result.truth == answer.strip()
    assert "\n\n" not in result.text
    assert result.max_new_tokens == question_answer_bound(question) >= len(answer)
    assert 0 <= result.scores.clrs <= 1
    assert answer_question(model, question).text == result.text  # seeded positions


def test_answer_question_errors(transnar):
    with pytest.raises(ValueError, match="line"):
        answer_question(transnar, "bfs:\ns: 0, A: [[0 1], [1 0\npi:\n")
    question, _ = format_example(clrs.sample("dfs", 4, 0)[0])
    with pytest.raises(ValueError, match="not trained on dfs"):
        answer_question(transnar, question)


def test_normalize_question():
    assert normalize_question("bfs:\\ns: 0, A: [[1]]\\npi:") == "bfs:\ns: 0, A: [[1]]\npi:\n"
    assert normalize_question("bfs:\ns: 0\npi:\n\n") == "bfs:\ns: 0\npi:\n"
    with pytest.raises(ValueError, match="empty"):
        normalize_question("  \n")


def test_load_model_from_a_model_or_run_directory(tmp_path):
    tiny.saved_transnar(tmp_path / "run" / "model", use_nar=False)
    for path in (tmp_path / "run", tmp_path / "run" / "model"):
        model, directory = load_model(path)
        assert directory == tmp_path / "run" / "model" and not model.config.use_nar
    with pytest.raises(ValueError, match="no such directory"):
        load_model(tmp_path / "nothing")
    with pytest.raises(ValueError, match="no saved TransNAR"):
        load_model(tmp_path)
