"""Arguments shared by several commands: those that train from a config (``nar
train``, ``lm train``, ``run``) and those that compare arms (``report``, ``lm compare``)."""

from __future__ import annotations

import argparse


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
