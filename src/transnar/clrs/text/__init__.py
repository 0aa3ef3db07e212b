"""CLRS-Text: the text view of CLRS-30 trajectories (Markeeva et al. 2024).

- :func:`format_example`: a trajectory as a question and an answer, byte for
  byte as the reference ``clrs_text`` formatter (``float_format="legacy"``:
  as the July 2024 public datasets).
- :func:`parse_question`: back from a question to the algorithm and its input
  probes, so that ``execute(*parse_question(q))`` rebuilds the trajectory
  (:mod:`~transnar.clrs.text.questions`; the question's tokens and values,
  before any spec: :mod:`~transnar.clrs.text.question_syntax`).
- Index hints (``index_hints=True`` in every function above and below; Zhou et
  al. 2023): list and matrix elements preceded by their index markers
  (:data:`INDEX_MARKERS`), ``[a0.548 b0.715]``; :func:`has_index_hints`; shifted
  along the alphabet with ``marker_offset`` (``[d0.548 e0.715]``; training rows
  drawn with ``shift_markers``), read back by :func:`marker_offset_of`.
- :func:`parse_answer` (:mod:`~transnar.clrs.text.answers`) and the scores
  :func:`parse_score`, :func:`shape_score`, :func:`clrs_score` (and
  :func:`trace_accuracy`) of a model's answer; :func:`score_answer` gives all
  four (:mod:`~transnar.clrs.text.answer_scores`).
- :func:`answer_length_bound` (and :func:`question_answer_bound`): an upper
  bound on an answer's length from the algorithm and the inputs alone, the
  leak-free decoding budget.
- :mod:`~transnar.clrs.text.rows`: rows, paired with their graph
  trajectories; :mod:`~transnar.clrs.text.datasets`: splits and presets;
  :mod:`~transnar.clrs.text.dataset_files`: the JSONL/Parquet files of a
  dataset and its manifest; :mod:`~transnar.clrs.text.scoring`: scoring a
  predictions file; :mod:`~transnar.clrs.text.score_report`: its report.
"""

from transnar.clrs.text.answer_scores import (
    AnswerScores,
    clrs_score,
    parse_score,
    score_answer,
    shape_score,
    trace_accuracy,
)
from transnar.clrs.text.answers import ParsedAnswer, parse_answer
from transnar.clrs.text.budget import answer_length_bound, question_answer_bound
from transnar.clrs.text.formatting import (
    FLOAT_FORMATS,
    INDEX_MARKERS,
    format_example,
    marker_offset_of,
    predecessors_to_order,
)
from transnar.clrs.text.questions import has_index_hints, has_trace, parse_question

__all__ = [
    "FLOAT_FORMATS",
    "INDEX_MARKERS",
    "AnswerScores",
    "ParsedAnswer",
    "answer_length_bound",
    "clrs_score",
    "format_example",
    "has_index_hints",
    "has_trace",
    "marker_offset_of",
    "parse_answer",
    "parse_question",
    "parse_score",
    "predecessors_to_order",
    "question_answer_bound",
    "score_answer",
    "shape_score",
    "trace_accuracy",
]
