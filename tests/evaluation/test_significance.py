"""Paired bootstrap statistics (:mod:`transnar.evaluation.significance`) and the pairing
of questions between the labels of a comparison (:mod:`transnar.evaluation.paired`)."""

from __future__ import annotations

import numpy as np
import pytest

from transnar.clrs.text.answer_scores import AnswerScores
from transnar.clrs.text.score_report import ScoredRow, aggregate
from transnar.evaluation import Comparison
from transnar.evaluation.paired import PairedTests, pairs_of
from transnar.evaluation.samples import EvalSample
from transnar.evaluation.significance import (
    Bootstrap,
    Estimate,
    bootstrap_mean,
    bootstrap_means,
    combine,
    difference,
    paired_bootstrap,
    ratio,
    stream_seed,
    summarize,
)

# --- statistics -------------------------------------------------------------------------


def test_a_known_difference_is_covered_and_significant():
    rng = np.random.default_rng(1)
    base = rng.random(400)
    better = base + rng.normal(0.2, 0.3, 400)  # the true mean difference is 0.2
    estimate = paired_bootstrap(better, base, resamples=4000)
    assert estimate.mean == pytest.approx(np.mean(better - base))
    assert estimate.low < 0.2 < estimate.high
    assert estimate.significant and estimate.p_value < 0.001
    # the interval's width is about 2 x 1.96 x sd / sqrt(n)
    assert estimate.high - estimate.low == pytest.approx(2 * 1.96 * 0.3 / 20, rel=0.15)


def test_the_interval_covers_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    covered = 0
    for trial in range(200):
        differences = rng.normal(0.1, 1.0, 60)
        estimate = summarize(bootstrap_mean(differences, 1000, trial))
        covered += estimate.low <= 0.1 <= estimate.high
    assert 0.88 <= covered / 200 <= 0.99


def test_identical_arms_give_zero_and_no_significance():
    scores = np.random.default_rng(3).random(50)
    estimate = paired_bootstrap(scores, scores.copy())
    assert (estimate.mean, estimate.low, estimate.high) == (0.0, 0.0, 0.0)
    assert estimate.p_value == 1.0 and not estimate.significant
    assert estimate.text() == "+0.000 [+0.000, +0.000]"


def test_the_bootstrap_is_deterministic():
    values = np.random.default_rng(0).random(30)
    a = bootstrap_mean(values, 500, stream_seed(0, "bfs|10"))
    b = bootstrap_mean(values, 500, stream_seed(0, "bfs|10"))
    other = bootstrap_mean(values, 500, stream_seed(0, "bfs|12"))
    assert np.array_equal(a.replicates, b.replicates)
    assert not np.array_equal(a.replicates, other.replicates)
    assert stream_seed(3, "dfs|5") == stream_seed(3, "dfs|5") != stream_seed(4, "dfs|5")


def test_rows_resampled_together_are_paired_and_the_same_alone():
    rows = np.random.default_rng(0).random((3, 40))
    together = bootstrap_means(rows, 300, 5)
    alone = bootstrap_mean(rows[1], 300, 5)
    np.testing.assert_allclose(together[1].replicates, alone.replicates, rtol=0, atol=1e-12)
    # the difference of paired bootstraps is the bootstrap of the differences
    paired = difference(together[0], together[2])
    direct = bootstrap_mean(rows[0] - rows[2], 300, 5)
    np.testing.assert_allclose(paired.replicates, direct.replicates, rtol=0, atol=1e-12)


def test_a_hand_checked_example():
    # three questions all won by 1: every resample's mean is 1, so the interval
    # is [1, 1]; no replicate is <= 0, so p = 2 * (0 + 1) / (9 + 1)
    estimate = summarize(bootstrap_mean([1.0, 1.0, 1.0], resamples=9))
    assert (estimate.mean, estimate.low, estimate.high) == (1.0, 1.0, 1.0)
    assert estimate.p_value == pytest.approx(0.2)
    assert estimate.significant and estimate.text() == "+1.000 [+1.000, +1.000] *"
    # two questions, 0 and 1: a resample's mean is 0, 0.5 or 1 with chances 1/4, 1/2, 1/4
    replicates = bootstrap_mean([0.0, 1.0], resamples=20_000).replicates
    shares = [np.mean(replicates == v) for v in (0.0, 0.5, 1.0)]
    assert shares == pytest.approx([0.25, 0.5, 0.25], abs=0.01)
    estimate = summarize(Bootstrap(0.5, replicates, 2))
    assert (estimate.low, estimate.high) == (0.0, 1.0)
    assert estimate.p_value == pytest.approx(0.5, abs=0.02) and not estimate.significant


def test_strata_combine_with_their_weights():
    # stratum 1 always gains 1, stratum 2 never: equal weights give 0.5 in every resample
    estimate = paired_bootstrap([[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]])
    assert (estimate.mean, estimate.low, estimate.high) == (0.5, 0.5, 0.5)
    estimate = paired_bootstrap(
        [[1.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]], weights=[0.25, 0.75]
    )
    assert estimate.mean == 0.25
    parts = [Bootstrap(1.0, np.ones(4), 2), Bootstrap(3.0, np.full(4, 3.0), 6)]
    combined = combine(parts, [0.5, 0.5])
    assert combined.observed == 2.0 and combined.count == 8
    assert np.array_equal(combined.replicates, np.full(4, 2.0))


def test_estimate_texts():
    gain = Estimate(0.0834, 0.0411, 0.1249, 0.0004, 100)
    assert gain.text() == "+0.083 [+0.041, +0.125] *" and gain.p_text() == "p < 0.001"
    loss = Estimate(-0.02, -0.051, 0.012, 0.21, 100)
    assert loss.text() == "-0.020 [-0.051, +0.012]" and loss.p_text() == "p = 0.210"
    assert not loss.significant and loss.to_dict()["significant"] is False
    assert Estimate(0.5, 0.4, 0.6, 1.0, 10).text(signed=False) == "0.500 [0.400, 0.600]"


def test_bad_inputs():
    with pytest.raises(ValueError, match="1-d"):
        bootstrap_mean([[1.0]])
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_mean([])
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_mean([1.0], resamples=0)
    with pytest.raises(ValueError, match="same strata and questions"):
        paired_bootstrap([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="same questions"):
        difference(bootstrap_mean([1.0, 2.0], 5), bootstrap_mean([1.0], 5))
    with pytest.raises(ValueError, match="one weight per part"):
        combine([bootstrap_mean([1.0], 5)], [])
    with pytest.raises(ValueError, match="level"):
        summarize(bootstrap_mean([1.0], 5), level=1.5)


# --- pairing questions between labels -------------------------------------------------------


def document(label, kind, scores, source=None, texts=None):
    """A results document with per-sample records: ``scores[(algorithm, size)]`` is
    the CLRS score of questions 0, 1, ... (seed 2); parse = shape = 1."""
    samples, rows = [], []
    for (algorithm, size), values in scores.items():
        for index, value in enumerate(values):
            question = (texts or {}).get((algorithm, size, index), f"{algorithm} {size} {index}")
            sample = EvalSample(
                algorithm, size, 2, index, "", AnswerScores(1.0, 1.0, value), 0, True, question
            )
            samples.append(sample.to_record())
            rows.append(ScoredRow(len(rows), algorithm, size, False, AnswerScores(1, 1, value)))
    return {
        "label": label,
        "model": {"kind": kind},
        "data_sha256": "x",
        "scores": aggregate(rows).to_dict(),
        "samples": samples,
        "source": source or f"{label}.json",
    }


GOOD = [1.0, 0.9, 1.0, 0.8, 1.0, 1.0, 0.9, 1.0, 1.0, 0.95] * 3
BAD = [0.1, 0.0, 0.3, 0.2, 0.0, 0.1, 0.2, 0.0, 0.1, 0.05] * 3


def test_pairs_are_every_later_label_against_every_earlier_one():
    assert pairs_of(["baseline", "control", "TransNAR"]) == [
        ("TransNAR", "baseline"),
        ("TransNAR", "control"),
        ("control", "baseline"),
    ]
    assert pairs_of(["a", "b"]) == [("b", "a")] and pairs_of(["a"]) == []
    four = ["final", "lockstep", "all", "pooled"]
    assert len(pairs_of(four)) == 6 and len(pairs_of([*four, "none"])) == 10  # no reference


def test_many_arms_are_tested_against_the_baseline_and_transnar_only():
    labels = ["baseline", "control", "TransNAR", "TransNAR (all)", "student"]
    pairs = pairs_of(labels)
    assert ("student", "baseline") in pairs and ("student", "TransNAR") in pairs
    assert ("TransNAR (all)", "TransNAR") in pairs and ("TransNAR", "control") in pairs
    assert ("student", "control") not in pairs and ("student", "TransNAR (all)") not in pairs
    assert len(pairs) == 4 + 3  # baseline's 4, and TransNAR's 3 besides baseline


def test_paired_differences_per_cell_size_and_overall():
    cells = {("bfs", 5): GOOD, ("insertion_sort", 5): GOOD, ("bfs", 7): GOOD[:20]}
    tn = document("TransNAR", "transnar", cells)
    control = document("control", "control", {k: BAD[: len(v)] for k, v in cells.items()})
    base = document("baseline", "baseline", {k: BAD[: len(v)] for k, v in cells.items()})
    comparison = Comparison.of([tn, control, base], resamples=2000)
    assert comparison.labels == ["baseline", "control", "TransNAR"]
    for level, key in [("algorithm_size", ("bfs", 5)), ("size", 5), ("size", "all")]:
        test = comparison.difference("TransNAR", "baseline", level, key)
        delta = (
            comparison.cell("TransNAR", level, key, "clrs").mean
            - comparison.cell("baseline", level, key, "clrs").mean
        )
        assert test.mean == pytest.approx(delta) and test.significant and test.low > 0.7
        same = comparison.difference("control", "baseline", level, key)
        assert same.mean == 0.0 and not same.significant and same.p_value == 1.0
    family = comparison.difference("TransNAR", "control", "family_size", ("graphs", 7))
    assert family.count == 20 and family.significant
    markdown = comparison.to_markdown()
    assert "Δ CLRS TransNAR − baseline" in markdown and "paired bootstrap" in markdown
    assert "+0.850 [" in markdown and "] *" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| bfs            |    7"))
    assert row.split("|")[-2].strip() == "+0.000 [+0.000, +0.000]"  # control - baseline: no *
    document_ = comparison.to_dict()
    assert document_["pairs"] == [
        ["TransNAR", "baseline"],
        ["TransNAR", "control"],
        ["control", "baseline"],
    ]
    overall = document_["by_size"][-1]["differences"]["TransNAR - baseline"]
    assert overall["test"]["significant"] and overall["delta"] == pytest.approx(
        overall["test"]["mean"]
    )
    assert document_["paired_tests"]["resamples"] == 2000


def test_a_ratio_is_taken_replicate_by_replicate():
    a = Bootstrap(0.5, np.array([0.2, 0.6, 0.0]), 10)
    b = Bootstrap(1.0, np.array([0.4, 1.2, 0.0]), 10)
    share = ratio(a, b)
    assert share.observed == 0.5 and share.count == 10
    np.testing.assert_array_equal(share.replicates[:2], [0.5, 0.5])
    assert np.isnan(share.replicates[2])  # 0 / 0
    with pytest.raises(ValueError, match="same questions and resamples"):
        ratio(a, Bootstrap(1.0, np.ones(3), 11))


def test_a_share_of_a_difference_and_where_there_is_none():
    cells = {("bfs", 5): [1.0] * 60 + [0.0] * 40, ("insertion_sort", 5): [1.0] * 80 + [0.0] * 20}
    half = {  # the student gets right the first half of what the teacher gets right
        ("bfs", 5): [1.0] * 30 + [0.0] * 70,
        ("insertion_sort", 5): [1.0] * 40 + [0.0] * 60,
    }
    nothing = {key: [0.0] * 100 for key in cells}
    tests = PairedTests(
        {
            "baseline": [document("baseline", "baseline", nothing)],
            "TransNAR": [document("TransNAR", "transnar", cells)],
            "student": [document("student", "student", half)],
            "copy": [document("copy", "baseline", nothing)],
        },
        [("TransNAR", "baseline"), ("student", "baseline"), ("copy", "baseline")],
        list(cells),
        resamples=2000,
    )
    share = tests.share(("student", "baseline"), ("TransNAR", "baseline"), "size", 5)
    assert share.mean == pytest.approx(0.5) and share.low < 0.5 < share.high
    assert share.low > 0.3 and share.high < 0.7 and share.significant
    cell = tests.share(
        ("student", "baseline"), ("TransNAR", "baseline"), "algorithm_size", ("bfs", 5)
    )
    assert cell.mean == pytest.approx(0.5)
    # no difference to share: the whole is not significant
    assert tests.share(("student", "baseline"), ("copy", "baseline"), "size", 5) is None
    # a pair without a test
    assert tests.share(("student", "TransNAR"), ("TransNAR", "baseline"), "size", 5) is None


def test_seeds_are_averaged_per_question_before_the_difference():
    base = document("baseline", "baseline", {("bfs", 5): [0.0, 0.0, 1.0, 1.0]})
    tn_a = document("TransNAR", "transnar", {("bfs", 5): [1.0, 0.0, 1.0, 1.0]}, "a.json")
    tn_b = document("TransNAR", "transnar", {("bfs", 5): [0.0, 0.0, 1.0, 1.0]}, "b.json")
    tests = PairedTests(
        {"baseline": [base], "TransNAR": [tn_a, tn_b]},
        [("TransNAR", "baseline")],
        [("bfs", 5)],
        resamples=20_000,
    )
    test = tests.difference(("TransNAR", "baseline"), "algorithm_size", ("bfs", 5))
    # per question: 0.5, 0, 0, 0 -> a mean of 0.125; resamples miss question 0 with
    # chance (3/4)^4 = 0.32, so the interval starts at 0
    assert test.mean == pytest.approx(0.125) and test.low == 0.0 and not test.significant
    assert test.p_value == pytest.approx(2 * (3 / 4) ** 4, abs=0.02)


def test_cells_with_other_questions_are_left_out_with_a_warning():
    base = document("baseline", "baseline", {("bfs", 5): GOOD, ("bfs", 7): GOOD})
    texts = {("bfs", 7, 3): "another question"}
    tn = document("TransNAR", "transnar", {("bfs", 5): GOOD[:-1], ("bfs", 7): BAD}, texts=texts)
    comparison = Comparison.of([base, tn], resamples=200)
    assert comparison.difference("TransNAR", "baseline", "algorithm_size", ("bfs", 5)) is None
    assert comparison.difference("TransNAR", "baseline", "algorithm_size", ("bfs", 7)) is None
    assert comparison.difference("TransNAR", "baseline", "size", "all") is None
    warnings = " ".join(comparison.paired.warnings)
    assert "bfs size 5: TransNAR and baseline did not answer the same questions (29 and 30" in (
        warnings
    )
    assert "bfs size 7: 1 of the questions of TransNAR and baseline" in warnings
    markdown = comparison.to_markdown()
    assert "**warning**: bfs size 5" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| bfs       |    5"))
    assert row.split("|")[-2].strip() == "+0.000"  # the difference of the means, no test


def test_files_without_samples_give_differences_without_tests():
    base = document("baseline", "baseline", {("bfs", 5): BAD})
    tn = document("TransNAR", "transnar", {("bfs", 5): GOOD})
    del tn["samples"]
    comparison = Comparison.of([base, tn])
    assert comparison.difference("TransNAR", "baseline", "size", 5) is None
    assert comparison.delta_text("TransNAR", "baseline", "size", 5) == "+0.850"
    assert "`TransNAR.json` (TransNAR) has no per-sample records" in comparison.paired.reason()
    assert "without a paired test" in comparison.to_markdown()


def test_samples_that_disagree_with_their_scores_are_not_used():
    base = document("baseline", "baseline", {("bfs", 5): BAD})
    tn = document("TransNAR", "transnar", {("bfs", 5): GOOD})
    tn["samples"][0]["clrs"] = 0.0
    comparison = Comparison.of([base, tn])
    assert comparison.difference("TransNAR", "baseline", "size", 5) is None
    assert "do not match its scores (bfs size 5: CLRS" in comparison.paired.reason()
