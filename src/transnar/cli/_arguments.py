"""Arguments shared by several commands: those that train from a config (``nar
train``, ``lm train``, ``run``; :func:`run_trainer` runs the first two), those
that read a saved model (``lm eval``, ``generate``, ``distill``) and those that
compare arms (``report``, ``lm compare``)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transnar._config import PRESET_NAMES
from transnar.arms import ARM_NAMES


def add_preset_arguments(parser: argparse.ArgumentParser, section: str | None = None) -> None:
    """``--preset`` and ``--config``: the base config of a command that trains
    (``section``: a trainer's section of a ``transnar run`` config)."""
    base = parser.add_mutually_exclusive_group() if section else parser
    base.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default=None,
        help="the base config (default: the run directory's own config when it has one, "
        "else tiny); presets are below",
    )
    what = (
        f"a YAML or JSON file: another run's config.json, or a transnar run config "
        f"(RUN/config.yaml, configs/*.yaml) whose {section} section is taken"
        if section
        else "a YAML file (RUN/config.yaml, configs/*.yaml), applied over the preset"
    )
    base.add_argument("--config", type=Path, metavar="FILE", help=f"the base config: {what}")


def add_trainer_run_arguments(parser: argparse.ArgumentParser, default_out: str) -> None:
    """``--out``, ``--resume`` and ``--force`` of a trainer: the run directory
    and what to do when it holds a run."""
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help=f"run directory (default: {default_out}); when it holds a run, the "
        "command continues it from its last checkpoint",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="insist on continuing the run in RUN_DIR (an error when it has no checkpoint)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="start a new run in RUN_DIR even when it holds one (what it had done is lost)",
    )


def trainer_base_config(args: argparse.Namespace, cls, section: str, preset: Callable):
    """The base config of a trainer (before its overrides): ``--config``, else
    ``--preset``, else the run directory's own ``config.json`` (said on standard
    error; the run continues), else the ``tiny`` preset."""
    from transnar.training.loop import CONFIG

    if args.resume and args.force:
        raise ValueError("--resume continues the run, --force starts it over: give one")
    own = args.out / CONFIG
    if args.config is not None:
        return read_config_file(args.config, cls, f"{section} config", section=section)
    if args.preset is not None:
        return preset(args.preset)
    if own.is_file():
        print(f"continuing with the config of {own}", file=sys.stderr)
        return read_config_file(own, cls, f"{section} config")
    if args.resume:
        raise ValueError(f"nothing to resume: {own} does not exist")
    return preset("tiny")


def continues(args: argparse.Namespace, checkpoint: Path) -> bool:
    """Whether a trainer continues the run in ``args.out``: it has a
    ``checkpoint`` and ``--force`` was not given.

    Raises:
        ValueError: ``--resume`` without a checkpoint to resume.
    """
    if args.resume and not checkpoint.is_file():
        raise ValueError(f"nothing to resume: {checkpoint} does not exist")
    return checkpoint.is_file() and not args.force


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``, ``--dry-run`` and the ``KEY=VALUE`` config overrides."""
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="config overrides (see below)"
    )


POSITION_KINDS = ("random", "linear")
"""``transnar.lm.generation.POSITION_KINDS`` (a test checks; see :data:`RESAMPLES`)."""
RESAMPLES = 10_000
"""The paired tests' bootstrap resamples by default: that of
:mod:`transnar.evaluation.significance` (a test checks; importing it here would
load torch, and ``--help`` is to be fast)."""


def add_resamples_argument(parser: argparse.ArgumentParser) -> None:
    """``--resamples B``: bootstrap resamples of the paired tests."""
    parser.add_argument(
        "--resamples",
        type=positive_int,
        default=RESAMPLES,
        metavar="B",
        help=f"bootstrap resamples of the paired tests (default {RESAMPLES})",
    )


def add_algorithm_subset_argument(parser: argparse.ArgumentParser, what: str) -> None:
    """``--algorithms A,B,...``: compare or report only some algorithms
    (``what``: the help text's end)."""
    parser.add_argument(
        "--algorithms",
        type=name_list,
        default=None,
        metavar="A,B,...",
        help=f"only these algorithms, e.g. minimum,binary_search: {what}",
    )


def non_negative_int(text: str) -> int:
    """An integer >= 0 (an argparse ``type``, e.g. for ``--threads``)."""
    return _integer_at_least(text, 0)


def positive_int(text: str) -> int:
    """An integer >= 1 (an argparse ``type``, e.g. for ``--resamples``)."""
    return _integer_at_least(text, 1)


def _integer_at_least(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"must be >= {least}, got {value}")
    return value


def name_list(text: str) -> list[str]:
    """``A,B,...`` as a list of names (an argparse ``type``)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no names given")
    return names


def seed_list(text: str) -> list[int]:
    """``S,T,...`` as a list of seeds, integers >= 0 (an argparse ``type``)."""
    return [_integer_at_least(name, 0) for name in name_list(text)]


def command_line(*parts: object) -> str:
    """``transnar PART ...`` as one shell-quoted line."""
    return shlex.join(["transnar", *map(str, parts)])


def on_interrupt(args: argparse.Namespace, hint: Callable[[], str | None]) -> None:
    """After Ctrl-C, ``transnar`` prints ``hint()``: the command that continues."""
    args.continue_with = hint


def resume_hint(args: argparse.Namespace, command: tuple[str, ...], checkpoint: Path):
    """The hint of a trainer (``command``: e.g. ``("lm", "train")``): once the
    run has a ``checkpoint``, ``transnar COMMAND --out OUT`` (it continues);
    before its first, the command line again with ``--force`` (it starts over)."""

    def hint() -> str:
        if checkpoint.is_file():
            return command_line(*command, "--out", args.out)
        return f"{_forced(args)} (no checkpoint yet: it starts over)"

    return hint


def add_model_arguments(
    parser: argparse.ArgumentParser, what: str = "saved model, training or pipeline run"
) -> None:
    """``MODEL_DIR`` (``what`` it may be: its help), and ``--arm`` and
    ``--model-seed``: which model of a pipeline run (:func:`pick_model`)."""
    parser.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help=what)
    parser.add_argument(
        "--arm",
        choices=ARM_NAMES,
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


def add_positions_argument(parser: argparse.ArgumentParser) -> None:
    """``--positions``: the position indices a saved model answers with."""
    parser.add_argument(
        "--positions",
        choices=POSITION_KINDS,
        default=None,
        help="position indices (default: the model's own)",
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
    ``nar``), a ``transnar run`` config (its ``config.yaml`` or ``config.json``,
    or a preset's YAML) gives that section."""
    if path.is_dir():
        raise ValueError(
            f"{path} is a directory; the config is a JSON or YAML file (e.g. RUN/config.json)"
        )
    if not path.is_file():
        raise ValueError(f"{missing}{path} does not exist")
    if path.suffix in YAML_SUFFIXES:
        from transnar._config import load_yaml

        data = load_yaml(path)
    else:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            reason = " ".join(str(error).split())[:200]
            raise ValueError(f"{path} is not a valid {what}: {reason}") from None
    if section is not None and isinstance(data, dict) and any(key in data for key in PIPELINE_KEYS):
        data = data.get(section) or {}
    try:
        return cls.from_dict(data)
    except (ValueError, TypeError, AttributeError) as error:
        reason = " ".join(str(error).split())[:200]
        raise ValueError(f"{path} is not a valid {what}: {reason}") from None


def run_trainer(
    args: argparse.Namespace,
    command: tuple[str, ...],
    name: str,
    config_of: Callable[[argparse.Namespace], Any],
    train: Callable[..., Any],
) -> Any:
    """Runs a trainer's command (``command``: e.g. ``("lm", "train")``).

    The run directory is ``--out``, by default ``runs/NAME-PRESET``; the config
    is ``config_of(args)``. The run in it continues when it has a checkpoint
    (:func:`continues`); after Ctrl-C the command that continues is printed
    (:func:`resume_hint`), and when the run cannot continue from its
    checkpoint, the command that starts it over (:func:`start_over_advice`).

    Args:
        args: the command's arguments (:func:`add_trainer_run_arguments`,
            :func:`add_config_arguments`).
        command: the command's words.
        name: the run directory's default name before the preset.
        config_of: the resolved config of ``args``.
        train: the trainer (``train_nar`` or ``train_lm``).

    Returns:
        ``train``'s result; None for ``--dry-run``, which prints the config
        instead.
    """
    from transnar.persistence import CheckpointError
    from transnar.training.checkpoint import checkpoint_path

    if args.out is None:
        args.out = Path("runs") / f"{name}-{args.preset or 'tiny'}"
    config = config_of(args)
    if args.dry_run:
        print(json.dumps(config.to_dict(), indent=2))
        return None
    last = checkpoint_path(args.out, "last")
    resume = continues(args, last)
    on_interrupt(args, resume_hint(args, command, last))
    progress = False if args.no_progress else None
    try:
        return train(config, args.out, resume=resume, overwrite=args.force, progress=progress)
    except CheckpointError as error:
        raise start_over_advice(error, args, last) from None


def start_over_advice(error: Exception, args: argparse.Namespace, checkpoint: Path) -> Exception:
    """The error to raise when a trainer could not continue from its
    checkpoint: ``error`` plus the command that starts the run over (the
    command line again with ``--force``); ``error`` itself when there is no
    checkpoint."""
    if not checkpoint.is_file():
        return error
    return type(error)(
        f"{error}. Use another --out, or start the run over (what it had done is lost): "
        f"{_forced(args)}"
    )


def _forced(args: argparse.Namespace) -> str:
    """The command line again, with ``--force`` instead of any ``--resume``: it
    starts the run over."""
    again = [a for a in args.argv if a != "--resume"]
    return command_line(*again, *([] if "--force" in again else ["--force"]))
