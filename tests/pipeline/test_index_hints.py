"""Index hints end to end: the training data, the evaluation, the pipeline and the
command line (the format itself is tested in ``tests/clrs/test_text_index_hints.py``).

The default (no index hints) must leave every file and hash as it was: the
options are serialised only when true.
"""

from __future__ import annotations

import json

import pytest
import torch

from tests import tiny
from tests.cli.helpers import run_cli
from tests.evaluation.helpers import TruthfulGenerate
from tests.pipeline.helpers import run_fast, statuses
from transnar.clrs.text import has_index_hints, question_answer_bound
from transnar.clrs.text.dataset_files import read_rows, write_dataset
from transnar.clrs.text.datasets import get_preset
from transnar.clrs.text.formatting import marker_offset_of
from transnar.evaluation import EvalSettings, evaluate, write_results
from transnar.lm.tokenizer import CharTokenizer
from transnar.pipeline.estimate import text_cells
from transnar.pipeline.run import build_stages
from transnar.training.lm_config import LMTrainConfig, apply_overrides, preset
from transnar.training.lm_data import DataConfig, build_dataset, generate_pairs

SMALL = {"algorithms": ("bfs", "insertion_sort"), "sizes": (4, 5), "seeds": (2,), "count": 3}


# --- training data ---------------------------------------------------------------------


def test_the_data_option_is_serialised_only_when_true():
    plain = preset("tiny")
    assert "index_hints" not in plain.to_dict()["data"]
    hinted = apply_overrides(plain, ["data.index_hints=true"])
    assert hinted.data.index_hints and hinted.to_dict()["data"]["index_hints"] is True
    assert LMTrainConfig.from_dict(hinted.to_dict()) == hinted
    assert LMTrainConfig.from_dict(plain.to_dict()) == plain
    assert hinted.differences(plain) == ["data.index_hints"]


def test_generated_training_rows_carry_index_hints():
    config = DataConfig(algorithms=("bfs",), train_sizes=(4,), train_count=2, index_hints=True)
    rows = [row for row, _ in generate_pairs(config, "train")]
    assert len(rows) == 2
    assert all(row["index_hints"] and has_index_hints(row["question"]) for row in rows)


def test_sizes_beyond_the_markers_are_refused():
    with pytest.raises(ValueError, match="at most 52"):
        DataConfig(algorithms=("bfs",), train_sizes=(53,), index_hints=True)
    with pytest.raises(ValueError, match="at most 52"):  # 52 keys: 53 nodes
        DataConfig(
            algorithms=("optimal_bst",), train_sizes=(4,), test_sizes=(52,), index_hints=True
        )
    DataConfig(algorithms=("bfs",), train_sizes=(52,), test_sizes=(52,), index_hints=True)
    with pytest.raises(ValueError, match="at most 52"):
        EvalSettings(algorithms=("bfs",), sizes=(60,), index_hints=True)


@pytest.mark.parametrize("written", [False, True])
def test_a_dataset_directory_of_the_other_kind_is_refused(written, tmp_path):
    split = get_preset("transnar")["train"].replace(
        algorithms=["bfs"], sizes=[4], seeds=[0], count=2
    )
    write_dataset(tmp_path, [split], index_hints=written)
    for wanted in (False, True):
        config = DataConfig(
            algorithms=("bfs",), train_sizes=(4,), index_hints=wanted, path=str(tmp_path)
        )
        if wanted == written:
            dataset = build_dataset(config, "train", CharTokenizer(), with_graphs=True)
            assert len(dataset) == 2
        else:
            with pytest.raises(ValueError, match="index hints"):
                build_dataset(config, "train", CharTokenizer(), with_graphs=True)


def test_shifted_markers_are_serialised_only_when_true_and_need_index_hints():
    hinted = apply_overrides(preset("tiny"), ["data.index_hints=true"])
    assert "shift_markers" not in hinted.to_dict()["data"]
    shifted = apply_overrides(hinted, ["data.shift_markers=true"])
    assert shifted.to_dict()["data"]["shift_markers"] is True
    assert LMTrainConfig.from_dict(shifted.to_dict()) == shifted
    assert shifted.differences(hinted) == ["data.shift_markers"]
    with pytest.raises(ValueError, match=r"set data\.index_hints=true"):
        DataConfig(algorithms=("bfs",), train_sizes=(4,), shift_markers=True)


def test_shifted_markers_in_training_and_validation_rows_not_in_test_rows():
    config = DataConfig(
        algorithms=("bfs",),
        train_sizes=(4,),
        train_count=6,
        val_count=6,
        test_sizes=(5,),
        test_count=2,
        index_hints=True,
        shift_markers=True,
    )
    for split in ("train", "val"):
        rows = [row for row, _ in generate_pairs(config, split)]
        assert all(marker_offset_of(row["question"]) == row["marker_offset"] for row in rows)
        assert any(row["marker_offset"] for row in rows)
    test = [row for row, _ in generate_pairs(config, "test")]
    assert all("marker_offset" not in row and row["question"].count("[a") for row in test)


@pytest.mark.parametrize(("written", "wanted"), [(False, True), (True, False)])
def test_a_dataset_of_the_other_marker_kind_is_refused(written, wanted, tmp_path):
    split = get_preset("transnar")["train"].replace(
        algorithms=["bfs"], sizes=[4], seeds=[0], count=2
    )
    write_dataset(tmp_path, [split], index_hints=True, shift_markers=written)
    config = DataConfig(
        algorithms=("bfs",),
        train_sizes=(4,),
        index_hints=True,
        shift_markers=wanted,
        path=str(tmp_path),
    )
    with pytest.raises(ValueError, match=r"shift markers .* data\.shift_markers is"):
        build_dataset(config, "train", CharTokenizer(), with_graphs=False)


# --- evaluation ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def transnar():
    torch.set_num_threads(1)
    return tiny.transnar(use_nar=True)


def test_evaluation_asks_budgets_and_scores_with_index_hints(transnar, tmp_path):
    stub = TruthfulGenerate()
    results = evaluate(transnar, EvalSettings(**SMALL, index_hints=True), generate_fn=stub)
    overall = results.report.overall
    assert (overall.parse, overall.shape, overall.clrs) == (1.0, 1.0, 1.0)
    for call in stub.calls:
        assert all(has_index_hints(p) for p in call["prompts"])
        assert call["max_new_tokens"] == [question_answer_bound(p) for p in call["prompts"]]
    assert results.settings.to_dict()["index_hints"] is True
    write_results(results, tmp_path, plots=False)
    rows = list(read_rows(tmp_path / "predictions.jsonl"))
    assert all(row["index_hints"] is True for row in rows)
    assert "index hints" in (tmp_path / "results.md").read_text()


def test_the_default_evaluation_records_no_index_hints(transnar, tmp_path):
    results = evaluate(transnar, EvalSettings(**SMALL), generate_fn=TruthfulGenerate())
    assert "index_hints" not in results.settings.to_dict()
    write_results(results, tmp_path, plots=False)
    assert all("index_hints" not in row for row in read_rows(tmp_path / "predictions.jsonl"))
    assert "index hints" not in (tmp_path / "results.md").read_text()


# --- pipeline --------------------------------------------------------------------------


def _mentions(stage) -> bool:
    return any("index_hints" in key for key in json.dumps(stage.config).split('"'))


def test_stage_configs_have_index_hints_only_when_set(tmp_path):
    plain = build_stages(tiny.pipeline_config(), tmp_path)
    assert not any(_mentions(stage) for stage in plain)
    hinted = {
        s.name: s for s in build_stages(tiny.pipeline_config("lm.data.index_hints=true"), tmp_path)
    }
    assert hinted["data"].config["index_hints"] is True
    assert hinted["transnar-s0"].config["lm.data.index_hints"] is True
    assert hinted["eval-baseline-s0"].config["index_hints"] is True
    assert not _mentions(hinted["nar"]) and not _mentions(hinted["report"])
    changed = {s.name for s in plain} - {
        s.name for s in plain if s.config_sha256() == hinted[s.name].config_sha256()
    }
    assert changed == {s for s in hinted if s not in ("nar", "report")}


def test_the_shifted_arms_have_their_own_data_and_the_same_evaluation(tmp_path):
    hinted = {
        s.name: s for s in build_stages(tiny.pipeline_config("arms=baseline-hints"), tmp_path)
    }
    both = {
        s.name: s
        for s in build_stages(
            tiny.pipeline_config("arms=baseline-hints,baseline-hints-shifted"), tmp_path
        )
    }
    assert list(both)[:4] == ["data", "data-hints", "data-hints-shifted", "nar"]
    for name, stage in hinted.items():  # the shifted arm adds stages, changes none
        if name != "report":
            assert both[name].config_sha256() == stage.config_sha256(), name
    shifted_data = both["data-hints-shifted"]
    assert shifted_data.config["shift_markers"] is True
    assert "shifted markers" in shifted_data.description
    assert {k: v for k, v in shifted_data.config.items() if k != "shift_markers"} == (
        both["data-hints"].config
    )
    assert both["baseline-hints-shifted-s0"].inputs[0] == "data-hints-shifted"
    assert both["baseline-hints-shifted-s0"].config["lm.data.shift_markers"] is True
    same = both["eval-baseline-hints-shifted-s0"].config == both["eval-baseline-hints-s0"].config
    assert same  # the same hinted questions, from a


def test_the_estimate_counts_the_markers():
    plain, hinted = (text_cells(["minimum"], [8], 1, 4, hints)[0] for hints in (False, True))
    assert hinted.mean_tokens == plain.mean_tokens + 8  # a marker per key (the answer: an index)
    assert hinted.mean_budget > plain.mean_budget


def test_a_run_with_index_hints_end_to_end(tmp_path, placeholder_figures):
    run = tmp_path / "run"
    result = run_fast(run, "lm.data.index_hints=true", "arms=baseline,transnar")
    markdown = (run / "report.md").read_text()
    assert "index hints" in markdown
    assert "### Index markers" in markdown and "| baseline | " in markdown  # where markers go wrong
    markers = json.loads((run / "comparison.json").read_text())["index_markers"]
    assert set(markers) == {"baseline", "TransNAR"}
    for cell in markers["TransNAR"].values():
        assert len(cell["right"]) == 1 and 0 <= cell["right"][0] <= 1
        assert cell["wrong"] == sum(cell["first_wrong"].values()) >= cell["unseen"]
    manifest = json.loads((run / "data" / "manifest.json").read_text())
    assert manifest["options"]["index_hints"] is True
    assert all(row["index_hints"] for row in read_rows(run / "data" / "train.jsonl"))
    assert "index_hints: true" in (run / "config.yaml").read_text()
    for arm in ("baseline", "transnar"):
        config = json.loads((run / f"{arm}-s0" / "config.json").read_text())
        assert config["data"]["index_hints"] is True
        document = json.loads((run / "eval" / f"{arm}-s0" / "results.json").read_text())
        assert document["settings"]["index_hints"] is True
        rows = list(read_rows(run / "eval" / f"{arm}-s0" / "predictions.jsonl"))
        assert rows and all(row["index_hints"] and has_index_hints(row["question"]) for row in rows)
    again = run_fast(run, "lm.data.index_hints=true", "arms=baseline,transnar")
    assert set(statuses(again).values()) == {"skipped"}
    assert result.config.lm.data.index_hints


def test_a_run_with_shifted_markers_end_to_end(tmp_path, placeholder_figures):
    run = tmp_path / "run"
    run_fast(run, "arms=baseline-hints,baseline-hints-shifted")
    rows = list(read_rows(run / "data-hints-shifted" / "train.jsonl"))
    assert rows and all(marker_offset_of(r["question"]) == r["marker_offset"] for r in rows)
    assert len({r["marker_offset"] for r in rows}) > 1
    assert all("marker_offset" not in r for r in read_rows(run / "data-hints" / "train.jsonl"))
    config = json.loads((run / "baseline-hints-shifted-s0" / "config.json").read_text())
    assert config["data"]["shift_markers"] is True
    asked = [
        [row["question"] for row in read_rows(run / "eval" / name / "predictions.jsonl")]
        for name in ("baseline-hints-s0", "baseline-hints-shifted-s0")
    ]
    assert asked[0] == asked[1] and all(marker_offset_of(q) == 0 for q in asked[0])
    markdown = (run / "report.md").read_text()
    assert "| baseline (index hints, shifted) |" in markdown and "### Index markers" in markdown


# --- command line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["data", "text"], ["score"], ["lm", "eval"], ["lm", "train"], ["generate"], ["run"]],
)
def test_help_says_what_index_hints_do(command, capsys):
    status, out, _ = run_cli([*command, "--help"], capsys)
    assert status == 0 and "index" in out and "marker" in out


def test_lm_train_with_the_data_key(tmp_path, capsys):
    out = tmp_path / "baseline"
    argv = ["lm", "train", "--preset", "tiny", "--no-nar", "--out", out, "--no-progress"]
    status, _, err = run_cli([*argv, *tiny.LM_TRAIN, "data.index_hints=true"], capsys)
    assert status == 0, err
    assert json.loads((out / "config.json").read_text())["data"]["index_hints"] is True


def test_data_text_writes_a_hinted_dataset(tmp_path, capsys):
    out = tmp_path / "data"
    arguments = ["data", "text", "--split", "test", "--algorithm", "bfs", "--sizes", "4"]
    status, _, err = run_cli([*arguments, "--count", "2", "--index-hints", "--out", out], capsys)
    assert status == 0, err
    rows = list(read_rows(out / "test.jsonl"))
    assert len(rows) == 2 and all(r["index_hints"] and has_index_hints(r["question"]) for r in rows)
    assert json.loads((out / "manifest.json").read_text())["options"]["index_hints"] is True
    status, _, err = run_cli([*arguments, "--sizes", "60", "--index-hints", "--out", out], capsys)
    assert status == 2 and "at most 52" in err


def test_data_text_writes_a_dataset_with_shifted_markers(tmp_path, capsys):
    out = tmp_path / "data"
    arguments = ["data", "text", "--split", "train", "--algorithm", "bfs", "--sizes", "4"]
    status, _, err = run_cli(
        [*arguments, "--count", "3", "--index-hints", "--shift-markers", "--out", out], capsys
    )
    assert status == 0, err
    rows = list(read_rows(out / "train.jsonl"))
    assert len(rows) == 3 and all(
        marker_offset_of(r["question"]) == r["marker_offset"] for r in rows
    )
    assert json.loads((out / "manifest.json").read_text())["options"]["shift_markers"] is True
    status, _, err = run_cli([*arguments, "--shift-markers", "--out", tmp_path / "x"], capsys)
    assert status == 2 and "needs index_hints" in err and "Traceback" not in err


def test_score_index_hints_for_rows_that_do_not_say(tmp_path, capsys):
    from transnar.clrs.text.rows import make_example

    row = make_example("insertion_sort", 4, 3, 0, index_hints=True)
    predictions = tmp_path / "predictions.jsonl"
    fields = {"algorithm": "insertion_sort", "size": 4, "seed": 3, "index": 0}
    predictions.write_text(json.dumps({**fields, "prediction": row["answer"]}) + "\n")
    for flag, clrs in (["--index-hints"], 1.0), ([], 0.0):  # a hinted answer is not a plain one
        out = tmp_path / f"scores{len(flag)}"
        status, _, err = run_cli(["score", predictions, *flag, "--out", out], capsys)
        assert status == 0, err
        assert json.loads((out / "scores.json").read_text())["overall"]["clrs"] == clrs


def test_lm_eval_takes_index_hints_from_the_run_or_the_flag(tmp_path, capsys):
    run = tmp_path / "run"
    tiny.saved_transnar(run / "model", use_nar=False)
    data = {"algorithms": ["minimum"], "train_seed": 5, "val_seed": 6, "index_hints": True}
    (run / "config.json").write_text(json.dumps({"model": {}, "data": data}))
    fast = ["--sizes", "4", "--count", "2", "--no-plots", "--no-progress"]
    status, _, err = run_cli(["lm", "eval", run, *fast], capsys)
    assert status == 0, err
    assert "index_hints" in err  # said to come from the run's config.json
    document = json.loads((run / "eval" / "results.json").read_text())
    assert document["settings"]["index_hints"] is True
    model = tmp_path / "model"
    tiny.saved_transnar(model, use_nar=False)
    out = tmp_path / "flag"
    status, _, err = run_cli(["lm", "eval", model, *fast, "--index-hints", "--out", out], capsys)
    assert status == 0, err
    assert json.loads((out / "results.json").read_text())["settings"]["index_hints"] is True


def test_generate_answers_and_scores_a_hinted_question(tmp_path, capsys):
    from transnar.clrs.text.rows import make_example

    model = tiny.saved_transnar(tmp_path / "model")
    question = make_example("insertion_sort", 4, 3, 0, index_hints=True)["question"]
    status, out, err = run_cli(["generate", model, "--question", question, "--score"], capsys)
    assert status == 0, err
    truth = next(line for line in out.splitlines() if line.startswith("truth: "))
    assert truth.startswith("truth: [a")
