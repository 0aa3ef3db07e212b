"""The ``transnar`` command line: thin wrappers that parse arguments and call the library.

User mistakes (unknown algorithm, bad value, existing output) end with one
``transnar: error: ...`` line and exit status 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from transnar import __version__
from transnar._files import OutputExistsError
from transnar.cli import data, generate, nar, report, score
from transnar.cli import lm as lm_cli
from transnar.cli import run as run_cli


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (all subcommands)."""
    parser = argparse.ArgumentParser(
        prog="transnar",
        description=(
            "TransNAR: Transformers that cross-attend to a frozen Neural Algorithmic "
            "Reasoner, with CLRS-30 and CLRS-Text at parity with DeepMind's reference."
        ),
    )
    parser.add_argument("--version", action="version", version=f"transnar {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    data.register(commands)
    score.register(commands)
    nar.register(commands)
    lm_cli.register(commands)
    generate.register(commands)
    run_cli.register(commands)
    report.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``transnar`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args) or 0
    except (ValueError, OutputExistsError) as error:
        parser.exit(2, f"transnar: error: {error}\n")
    except KeyboardInterrupt:
        parser.exit(130, "transnar: interrupted\n")
