"""``transnar report``: (re)write the report of pipeline runs (:mod:`transnar.report`)."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
One run: its report.md, report.html and figures/ are rewritten in the run
directory (or written into --out). Several runs (e.g. one per seed, or the same
config with another NAR): the baseline's and TransNAR's scores are averaged over
the runs' models, mean ± standard deviation per cell; --out is required.

The report holds: the parse, shape and CLRS scores per algorithm and size,
per family and overall, baseline and TransNAR side by side, with the bar charts
of the paper's figures; the language models' training (table and loss curves);
the NAR's own CLRS-30 test scores and training curves; the time of each stage.

examples:
  transnar report runs/pipeline-tiny
  transnar report runs/small-s0 runs/small-s1 runs/small-s2 --out runs/small-3seeds
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
    parser.add_argument("--force", action="store_true", help="replace a report in --out")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Writes the report and prints its files."""
    from transnar.report import write_report

    for path in write_report(args.runs, args.out, force=args.force):
        print(f"wrote {path}")
    return 0


__all__ = ["register", "run_report"]
