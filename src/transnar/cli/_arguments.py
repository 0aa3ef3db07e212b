"""Arguments shared by several commands: those that train from a config (``nar
train``, ``lm train``, ``run``) and those that compare arms (``report``, ``lm compare``)."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from pathlib import Path


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``, ``--dry-run`` and the ``KEY=VALUE`` config overrides."""
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (see below)"
    )


def add_resamples_argument(parser: argparse.ArgumentParser) -> None:
    """``--resamples B``: bootstrap resamples of the paired tests."""
    parser.add_argument(
        "--resamples",
        type=int,
        default=None,
        metavar="B",
        help="bootstrap resamples of the paired tests (default 10000)",
    )


def command_line(*parts: object) -> str:
    """``transnar PART ...`` as one shell-quoted line."""
    return shlex.join(["transnar", *map(str, parts)])


def on_interrupt(args: argparse.Namespace, hint: Callable[[], str | None]) -> None:
    """After Ctrl-C, ``transnar`` prints ``hint()``: the command that continues."""
    args.continue_with = hint


def resume_hint(args: argparse.Namespace, command: tuple[str, ...], checkpoint: Path):
    """The hint of a trainer (``command``: e.g. ``("lm", "train")``): once the
    run has a ``checkpoint``, ``transnar COMMAND --out OUT --resume``; before
    its first, the command line again with ``--force`` (it starts over)."""

    def hint() -> str:
        if checkpoint.is_file():
            return command_line(*command, "--out", args.out, "--resume")
        again = [a for a in args.argv if a != "--resume"]
        again += [] if "--force" in again else ["--force"]
        return f"{command_line(*again)} (no checkpoint yet: it starts over)"

    return hint
