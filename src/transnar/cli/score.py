"""``transnar score``: score a model's CLRS-Text predictions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from transnar.clrs.text.formatting import FLOAT_FORMATS
from transnar.clrs.text.score_report import report_paths
from transnar.clrs.text.scoring import (
    MAX_REBUILT_SIZE,
    MAX_REDRAWS,
    PREDICTION_FIELDS,
    Options,
    score_file,
)
from transnar.persistence import refuse_existing

EPILOG = f"""\
rows (JSON Lines, one object per sample):
  {{"prediction": "[0 0 1 2]", "answer": "[0 0 1 1]\\n\\n", "algo_name": "bfs", "length": 4}}
  {{"prediction": "[0 0 1 2]", "question": "bfs:\\ns: 0, A: [[...]]\\npi:\\n"}}
  {{"prediction": "[0 0 1 2]", "algorithm": "bfs", "size": 4, "seed": 3, "index": 17}}

The model's answer is the field 'prediction' (else the first of
{", ".join(PREDICTION_FIELDS[1:])}; or --prediction-field).
The truth is the row's 'answer'; else it is rebuilt from the 'question' (the
instance is read back and the algorithm run); else drawn again from the
sampler stream (algorithm, size, seed, index) of 'transnar data text', at
sizes up to {MAX_REBUILT_SIZE}. Rows of a stream in ascending index cost one draw each;
a row further on is reached at once for the samplers of uniform numbers
(sorting, searching, activities, DP), by at most {MAX_REDRAWS:,} draws for the others.
The size is 'length' or 'size', else read from the question; a
segments_intersect question does not show it (always 4 points), so such rows
are put under size '?', apart. A row's 'use_hints' (else its question) says
whether answers have traces; --use-hints is the default for the others.
Likewise a row's 'index_hints' (else its question) says whether list and
matrix elements carry index markers; --index-hints for the others.

scores (per sample, then means; TransNAR paper section 4):
  parse  1 iff only characters legal for the algorithm's answer and it parses
         into the algorithm's outputs (number, list, matrix)
  shape  1 iff it also has the truth's shape (list lengths, matrix dimensions)
  CLRS   fraction of elements equal to the truth (numbers compared by value,
         0.50 == 0.5), 0 if the shape is wrong
  trace  with traces: fraction of trace steps equal to the truth's (0 if the
         number of steps differs); the other scores are the final answer's
Families, sizes and 'all' are unweighted means over algorithms.

A bad row (not JSON, a missing field, an unknown algorithm, a truth that
cannot be rebuilt) stops with an error naming its line; --skip-bad-rows skips
and counts them instead, with a warning.

--out DIR gets scores.json (the tables), scores.md and scores.jsonl (one line
per scored row: line, algorithm, size, use_hints, parse, shape, clrs, trace).

examples:
  transnar score predictions.jsonl
  transnar score predictions.jsonl --out results/ --force
  transnar score traced.jsonl --use-hints --skip-bad-rows --out results/
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds the ``score`` command."""
    parser = commands.add_parser(
        "score",
        help="score CLRS-Text predictions (parse, shape and CLRS scores)",
        description=(
            "Score a model's CLRS-Text answers against the truth with the TransNAR\n"
            "paper's parse, shape and CLRS scores, per algorithm x size and per family;\n"
            "print the tables and optionally write scores.json, scores.md and the\n"
            "per-row scores.jsonl."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("predictions", type=Path, help="JSON Lines file of predictions")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write scores.json, scores.md and scores.jsonl into DIR (default: only print)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing score files")
    parser.add_argument(
        "--use-hints",
        action="store_true",
        help="answers have traces ('<steps> | <answer>'), for rows that do not say",
    )
    parser.add_argument(
        "--index-hints",
        action="store_true",
        help="answers have index markers ('[a3 b0]'), for rows that do not say",
    )
    parser.add_argument(
        "--prediction-field", default=None, metavar="NAME", help="the field of the model's answer"
    )
    parser.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="skip and count rows that cannot be scored instead of stopping at the first",
    )
    parser.add_argument(
        "--float-format",
        choices=FLOAT_FORMATS,
        default="default",
        help="float format of truths drawn from (algorithm, size, seed, index) rows",
    )
    parser.add_argument(
        "--truncate-decimals",
        type=int,
        default=3,
        metavar="D",
        help="float truncation of those rows' instances (default 3; -1 for none)",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Scores the file, prints the tables, writes the report."""
    paths = report_paths(args.out) if args.out is not None else []
    refuse_existing(paths, args.force)  # before the (possibly long) scoring
    options = Options(
        use_hints=args.use_hints,
        index_hints=args.index_hints,
        prediction_field=args.prediction_field,
        float_format=args.float_format,
        truncate_decimals=None if args.truncate_decimals < 0 else args.truncate_decimals,
    )
    report = score_file(
        args.predictions,
        options,
        skip_bad_rows=args.skip_bad_rows,
        progress=False if args.no_progress else None,
    )
    print(report.to_markdown(), end="")
    if report.bad_rows:
        first = report.bad_rows[0]
        print(
            f"transnar: warning: skipped {len(report.bad_rows)} bad row(s); "
            f"line {first.line}: {first.error}",
            file=sys.stderr,
        )
    if args.out is not None:
        for path in report.write(args.out, overwrite=args.force):
            print(f"wrote {path}")
    return 0
