"""Evaluation of TransNAR, its control and its baseline on CLRS-Text: answers, scores,
tables, plots, paired tests.

- :func:`evaluate` (:class:`EvalSettings`, :class:`EvalResults`): greedy answers
  to an evaluation set by algorithm x size (default the ``transnar`` preset's
  test split: sizes 10, 12, 14), scored with the CLRS-Text metrics and
  aggregated with :mod:`transnar.clrs.text.score_report`.
- :class:`EvalSample`: one evaluated question (``EvalResults.samples``) and its
  stored forms (:mod:`transnar.evaluation.samples`).
- :func:`write_results` / :func:`load_results`: ``results.json``,
  ``results.md``, ``predictions.jsonl`` and the PNG plots.
- :class:`Comparison` / :func:`write_comparison`: any number of arms (baseline,
  control, TransNAR; means ± std over seeds) as tables and plots, with paired
  bootstrap tests over the same questions (:mod:`transnar.evaluation.significance`).
- :mod:`transnar.evaluation.plots`: the bar charts of the paper's Figures 1 and 4-6.
- :func:`answer_question`: one question's answer, its graph rebuilt from the text
  (the algorithm's first step only: the answer is computed only to score it).
- The NAR's scores: :mod:`transnar.evaluation.nar_scoring` (the reference's
  per-output metrics) and :mod:`transnar.evaluation.nar` (a NAR on a set, the
  ``results.md`` table of a NAR run).

Imports: ``clrs``, ``nar``, ``lm`` and ``model``; never ``training`` (which
imports the NAR's scoring from here), ``pipeline`` or ``cli``.
"""

from transnar.evaluation.answering import Answer, answer_question, normalize_question
from transnar.evaluation.evaluate import (
    DEFAULT_COUNT,
    TRAINING_SEEDS,
    EvalResults,
    EvalSettings,
    default_algorithms,
    default_split,
    evaluate,
    model_kind,
)
from transnar.evaluation.results import (
    PLOTS,
    Comparison,
    load_results,
    results_markdown,
    results_to_dict,
    write_comparison,
    write_plots,
    write_results,
)
from transnar.evaluation.samples import EvalSample

__all__ = [
    "DEFAULT_COUNT",
    "PLOTS",
    "TRAINING_SEEDS",
    "Answer",
    "Comparison",
    "EvalResults",
    "EvalSample",
    "EvalSettings",
    "answer_question",
    "default_algorithms",
    "default_split",
    "evaluate",
    "load_results",
    "model_kind",
    "normalize_question",
    "results_markdown",
    "results_to_dict",
    "write_comparison",
    "write_plots",
    "write_results",
]
