"""The ``transnar`` command line: thin wrappers that parse arguments and call the library.

User mistakes (unknown algorithm, bad value, existing output) end with one
``transnar: error: ...`` line and exit status 2; a file system error (a path that
cannot be written or read, a full disk) with one such line and exit status 1;
nothing is left half-written.
Ctrl-C ends with ``transnar: interrupted`` (exit status 130) and, for the
trainers and ``transnar run``, the command that continues.
Started by ``torchrun`` (``WORLD_SIZE`` > 1), a command first joins the other
processes (:mod:`transnar.training.distributed`); the trainers are then data-parallel
and only rank 0 writes files and prints.

Imports: anything of the library (each command imports its part when it runs,
so that ``--help`` is fast); nothing imports the CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence

from transnar import __version__
from transnar.cli import data, distill, export, generate, nar, report, score
from transnar.cli import lm as lm_cli
from transnar.cli import run as run_cli
from transnar.persistence import OutputExistsError

EPILOG = """\
examples:
  transnar run                                  # the whole pipeline, tiny preset
  transnar generate runs/pipeline-tiny --question 'bfs:\\ns: 0, A: [[1 1], [1 1]]\\npi:'
  transnar lm eval runs/pipeline-tiny --arm baseline
  transnar data text --preset transnar --split test --out data/text
  transnar score predictions.jsonl --out scores/
  transnar COMMAND --help                       # each command's options and examples
"""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all subcommands)."""
    parser = argparse.ArgumentParser(
        prog="transnar",
        description=(
            "TransNAR: Transformers that cross-attend to a frozen Neural Algorithmic\n"
            "Reasoner, with CLRS-30 and CLRS-Text at parity with DeepMind's reference."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"transnar {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data.register(commands)
    score.register(commands)
    nar.register(commands)
    lm_cli.register(commands)
    generate.register(commands)
    distill.register(commands)
    run_cli.register(commands)
    report.register(commands)
    export.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``transnar`` console script."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parse(parser, argv)
    args.argv = argv
    try:
        with _torchrun():
            return args.handler(args) or 0
    except (ValueError, OutputExistsError) as error:
        parser.exit(2, f"transnar: error: {error}\n")
    except OSError as error:  # a path that cannot be written or read, a full disk
        parser.exit(1, f"transnar: error: {error}\n")
    except KeyboardInterrupt:
        hint = getattr(args, "continue_with", None)
        command = hint() if hint is not None else None
        parser.exit(
            130, "transnar: interrupted" + (f"; to continue: {command}" if command else "") + "\n"
        )


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """The parsed arguments. A command with a positional before its ``KEY=VALUE``
    overrides (``transnar distill MODEL_DIR --out OUT KEY=VALUE``) gets the
    overrides that follow its options too: argparse takes the positionals of
    one run of them only, so it leaves those over."""
    args, extra = parser.parse_known_args(argv)
    overrides = [item for item in extra if "=" in item and not item.startswith("-")]
    if extra and (len(overrides) < len(extra) or getattr(args, "overrides", None) is None):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if overrides:
        args.overrides = [*args.overrides, *overrides]
    return args


@contextlib.contextmanager
def _torchrun() -> Iterator[None]:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1): joins the other processes, silences
    the standard output of all but rank 0, and leaves the group at the end.
    Otherwise nothing (torch is not even imported)."""
    if os.environ.get("WORLD_SIZE", "1").strip() in ("", "1"):
        yield
        return
    from transnar.training.distributed import init_from_env, leave_together, shutdown

    current = init_from_env()
    try:
        with open(os.devnull, "w") as devnull, contextlib.ExitStack() as stack:
            if not current.is_main:
                stack.enter_context(contextlib.redirect_stdout(devnull))
            yield
        leave_together()
    finally:
        shutdown()
