"""``transnar export``: a pipeline run's results without its bulk
(:mod:`transnar.pipeline.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
The copy holds what the report reads: the resolved config, the stage records,
every model's training summary, metrics and log, the evaluations (each
question's answer and scores), the distillation manifests, the NAR's results
and metrics, and the report if the run has one. It leaves out the CLRS-Text
splits, the weights, the checkpoints and the TensorBoard events, most of a
run's bytes (a model of the small preset: 3 MB of its 17). 'transnar report
COPY' works on it as on the run, e.g. to publish a run's results beside a
results page.

--resumable copies also what 'transnar run --out COPY' needs to go on from
where the run is, on another machine: an interrupted trainer's checkpoints and
the teachers' answers so far (they resume), and the outputs of the finished
stages that a stage still to run needs (the NAR's checkpoint while a TransNAR
is to be trained, a model's weights while its evaluation or a student of it is
to come). Data that can be written again in seconds are left out even then:
the CLRS-Text splits and the students' datasets (written again from the
teachers' kept answers, without asking the teacher).

The copy's export.json lists the finished stages whose outputs it lacks:
'transnar run' on the copy skips them, and makes one again (first, saying
why) only when a stage that must run needs its outputs.

examples:
  transnar export runs/small --out docs/results/small-run
  transnar export runs/small --out /mnt/shared/small --resumable
  transnar run --out /mnt/shared/small --jobs 2      # on the other machine
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``transnar export``."""
    parser = commands.add_parser(
        "export",
        help="copy a 'transnar run' directory's results (or its resumable state) without its bulk",
        description="Copy a run directory's results, without its data and weights.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", type=Path, metavar="RUN_DIR", help="the run directory")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="the copy")
    parser.add_argument(
        "--resumable",
        action="store_true",
        help="copy also the checkpoints and weights 'transnar run --out DIR' needs to go on there",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing copy")
    parser.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Exports the run and prints what the copy holds."""
    from transnar.pipeline.export import export_run
    from transnar.pipeline.resources import format_bytes

    summary = export_run(args.run, args.out, resumable=args.resumable, overwrite=args.force)
    stages = len(summary.left_out_stages)
    print(
        f"wrote {summary.out}: {summary.files:,} files, {format_bytes(summary.bytes)} "
        f"({format_bytes(summary.left_out)} of the run left out; {stages} finished "
        f"stage(s) without their outputs, listed in {summary.out / 'export.json'})"
    )
    return 0


__all__ = ["register", "run_export"]
