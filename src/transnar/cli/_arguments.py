"""Arguments shared by the commands that train from a config (``nar train``,
``lm train``, ``run``)."""

from __future__ import annotations

import argparse


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``, ``--dry-run`` and the ``KEY=VALUE`` config overrides."""
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (see below)"
    )
