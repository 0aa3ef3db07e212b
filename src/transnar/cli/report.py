"""``transnar report``: (re)write the report of pipeline runs (:mod:`transnar.pipeline.report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from transnar.cli._arguments import (
    add_algorithm_subset_argument,
    add_resamples_argument,
    name_list,
    seed_list,
)

EPILOG = """\
One run: its report.md, report.html and figures/ are written in the run
directory (or into --out). Several runs (e.g. one per seed, or the same config
with another NAR): each arm's scores (baseline, control, TransNAR) are averaged
over the runs' models, mean ± standard deviation per cell; --out is required.
An existing report is kept unless --force (the pipeline's own report stage
rewrites its run's report).

The report holds: a headline (per evaluation size, each arm's CLRS score and
the paired differences between arms, with 95% paired bootstrap intervals over
the questions); the parse, shape and CLRS scores per algorithm and size, per
family and overall, the arms side by side, with the bar charts of the paper's
figures; the language models' training (table and loss curves); the NAR's own
CLRS-30 test scores and training curves; the time of each stage.

With --arms, only those arms are reported (their models must be finished,
the run's other arms need not be): e.g. one question of a run that trained
many variants. With --algorithms, the language models' scores, paired tests
and figures are over those algorithms' questions only (each evaluation's tables
made again from its per-question records): e.g. the index-search algorithms
apart from the rest. With --seeds, only the language models of those seeds
(the others need not be finished): e.g. the seeds done while a long run goes on.

examples:
  transnar report runs/pipeline-tiny --force
  transnar report runs/small-s0 runs/small-s1 runs/small-s2 --out runs/small-3seeds
  transnar report runs/small --arms baseline,transnar,transnar-lockstep,transnar-all \\
      --out runs/small-memory-modes
  transnar report runs/small --algorithms minimum,find_maximum_subarray_kadane \\
      --out runs/small-index-search
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``transnar report``."""
    parser = commands.add_parser(
        "report",
        help="(re)write the report of one or several 'transnar run' directories",
        description="Write report.md and report.html for runs of 'transnar run'.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR", help="run directories")
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="default: the run directory (one run)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing report (in --out or the run)"
    )
    parser.add_argument(
        "--arms",
        type=name_list,
        default=None,
        metavar="A,B,...",
        help="report only these of the runs' arms, e.g. baseline,control,transnar (default: "
        "all; the others need not be finished)",
    )
    add_algorithm_subset_argument(
        parser, "the language models' tables, tests and figures over their questions only"
    )
    parser.add_argument(
        "--seeds",
        type=seed_list,
        default=None,
        metavar="S,T,...",
        help="report only the language models of these seeds, e.g. 0,1 (default: all; the "
        "others need not be finished)",
    )
    add_resamples_argument(parser)
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Writes the report and prints its files."""
    from transnar.pipeline.report import write_report

    paths = write_report(
        args.runs,
        args.out,
        force=args.force,
        replace_own=False,
        resamples=args.resamples,
        arms=args.arms,
        algorithms=args.algorithms,
        seeds=args.seeds,
    )
    for path in paths:
        print(f"wrote {path}")
    return 0


__all__ = ["register", "run_report"]
