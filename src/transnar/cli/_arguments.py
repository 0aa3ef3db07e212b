"""Arguments shared by several commands: those that train from a config (``nar
train``, ``lm train``, ``run``) and those that compare arms (``report``, ``lm compare``)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
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


def add_model_choice_arguments(parser: argparse.ArgumentParser) -> None:
    """``--arm`` and ``--model-seed``: which model of a pipeline run."""
    parser.add_argument(
        "--arm",
        choices=("baseline", "control", "transnar"),  # transnar.pipeline.config.ARMS
        default=None,
        help="for a pipeline run (transnar run): the model's arm (default transnar)",
    )
    parser.add_argument(
        "--model-seed",
        type=int,
        default=None,
        metavar="S",
        help="for a pipeline run: the model's training seed, its <arm>-s<S> (default: the "
        "arm's first)",
    )


def pick_model(args: argparse.Namespace) -> Path:
    """The saved model's directory of ``args.model_dir`` (``--arm`` and
    ``--model-seed`` in a pipeline run, said on standard error)."""
    from transnar.evaluation.answering import find_model

    directory, note = find_model(args.model_dir, args.arm, args.model_seed)
    if note:
        print(f"transnar: {note}", file=sys.stderr)
    return directory


YAML_SUFFIXES = (".yaml", ".yml")
PIPELINE_KEYS = ("seeds", "arms", "lm")  # top-level keys only a transnar run config has


def read_config_file(path: Path, cls, what: str, missing: str = "", section: str | None = None):
    """A run's config (``cls.from_dict``) from its JSON or YAML file (by suffix);
    a ``ValueError`` naming the file (``what``: e.g. ``run config``) when it is
    missing, a directory or not a valid config. With ``section`` (``lm`` or
    ``nar``), a ``transnar run`` config (its ``config.yaml`` or a preset's
    YAML) gives that section."""
    if path.is_dir():
        raise ValueError(
            f"{path} is a directory; the config is a JSON or YAML file (e.g. RUN/config.json)"
        )
    if not path.is_file():
        raise ValueError(f"{missing}{path} does not exist")
    if path.suffix in YAML_SUFFIXES:
        from transnar.pipeline.config import load_yaml

        data = load_yaml(path)
        if section is not None and any(key in data for key in PIPELINE_KEYS):
            data = data.get(section) or {}
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            reason = " ".join(str(error).split())[:200]
            raise ValueError(f"{path} is not a valid {what}: {reason}") from None
    try:
        return cls.from_dict(data)
    except (ValueError, TypeError, AttributeError) as error:
        reason = " ".join(str(error).split())[:200]
        raise ValueError(f"{path} is not a valid {what}: {reason}") from None


def start_over_advice(
    error: Exception, args: argparse.Namespace, command: tuple[str, ...], checkpoint: Path
) -> Exception:
    """The error to raise when a trainer could not read its checkpoint: with
    ``--resume`` and a checkpoint there, ``error`` plus the command that starts
    the run over with its own config; otherwise ``error`` itself."""
    if not args.resume or not checkpoint.is_file():
        return error
    again = command_line(
        *command, "--config", args.out / "config.json", "--out", args.out, "--force"
    )
    return type(error)(
        f"{error}. To start the run over with its config (what it had done is lost): {again}"
    )
