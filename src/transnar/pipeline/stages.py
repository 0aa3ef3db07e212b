"""Cached, resumable stages: a stage runs only when its output is missing or stale.

A :class:`Stage` has a **config** (a JSON mapping of what its output is a
function of: the arguments of its library call, without those that change
nothing, such as the device), **inputs** (earlier stages whose outputs it
reads) and **outputs** (files or directories of the run directory).
``RUN/stages/<name>.json`` records, for each stage, its config and its hash,
its inputs' output hashes, its status (``running`` while it runs, ``done``
after) and the hash of its outputs.

:func:`run_stages` runs the stages in order. A stage is

- **skipped** when it is ``done`` with the same config and inputs and its
  outputs still hash as recorded;
- **resumed** when it was ``running`` (interrupted) with the same config and
  inputs: its own checkpoints decide where it continues;
- **run** afresh otherwise (never run, inputs re-made, outputs missing or
  modified).

A stage whose *config* changed since it was recorded is refused, before
anything runs (:class:`StageConfigError`), unless ``force``: then it, and the
stages whose inputs change with it, run again; the other stages are kept.

In data-parallel training (``torchrun``, :mod:`transnar._distributed`) every
process runs the pipeline: the ``distributed`` stages (the trainers) run on all
of them, the others on rank 0 alone while the rest wait; rank 0 writes the
records and the log, and all processes meet after each stage.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from transnar import __version__
from transnar._config import flatten
from transnar._distributed import barrier, world
from transnar._runs import write_json
from transnar.pipeline.layout import STAGES_DIR


class StageConfigError(ValueError):
    """A recorded stage of the run directory was made with another config."""


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline.

    Attributes:
        name: its name (``RUN/stages/<name>.json``), e.g. ``nar``.
        description: what it does, for the progress lines.
        config: what its output is a function of (JSON-serialisable).
        outputs: its outputs, relative to the run directory.
        run: ``run(resume)`` makes the outputs; ``resume`` says that an
            interrupted attempt with the same config and inputs may be continued.
        inputs: the stages whose outputs it reads.
        distributed: run by every process in data-parallel training (a
            trainer); otherwise by rank 0 alone.
    """

    name: str
    description: str
    config: Mapping[str, Any]
    outputs: tuple[str, ...]
    run: Callable[[bool], None]
    inputs: tuple[str, ...] = ()
    distributed: bool = False

    def config_sha256(self) -> str:
        return _sha256_json(self.config)


@dataclass(frozen=True)
class Outcome:
    """What :func:`run_stages` did with a stage: ``skipped``, ``ran`` or ``resumed``."""

    name: str
    status: str
    seconds: float


def run_stages(
    run_dir: str | Path,
    stages: Sequence[Stage],
    *,
    force: bool = False,
    stop_after: str | None = None,
    log: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Runs the stages in order, skipping those that are up to date (module docstring).

    Args:
        run_dir: the run directory.
        stages: the stages; a stage's inputs come before it.
        force: re-run stages whose config changed instead of refusing.
        stop_after: stop once this stage is done (or skipped).
        log: receives one line per stage (default: standard error).

    Returns:
        An :class:`Outcome` per stage handled, in order.

    Raises:
        StageConfigError: a recorded stage's config changed and not ``force``.
        ValueError: ``stop_after`` names no stage.
    """
    run_dir = Path(run_dir)
    main = world().is_main
    log = (log or _print) if main else _silent
    names = [stage.name for stage in stages]
    if stop_after is not None and stop_after not in names:
        raise ValueError(f"no stage {stop_after!r} to stop after (stages: {', '.join(names)})")
    records = {stage.name: read_record(run_dir, stage.name) for stage in stages}
    check_configs(stages, records, force)
    barrier()  # every process has read the records before rank 0 writes any
    outputs: dict[str, str] = {}
    outcomes = []
    start = time.perf_counter()
    for k, stage in enumerate(stages, 1):
        prefix = f"[{k}/{len(stages)}] {stage.name}"
        inputs = {name: outputs[name] for name in stage.inputs}
        record = records[stage.name]
        same = (
            record is not None
            and record.get("config_sha256") == stage.config_sha256()
            and record.get("inputs") == inputs
        )
        current = outputs_sha256(run_dir, stage.outputs) if same else None
        if same and record.get("status") == "done" and current == record.get("output_sha256"):
            outputs[stage.name] = current
            outcomes.append(Outcome(stage.name, "skipped", 0.0))
            log(f"{prefix}: skipped (up to date)")
        else:
            resume = same and record.get("status") == "running"
            log(f"{prefix}: {'resuming' if resume else 'running'}: {stage.description}")
            outputs[stage.name], seconds = _run(run_dir, stage, inputs, resume)
            outcomes.append(Outcome(stage.name, "resumed" if resume else "ran", seconds))
            total = time.perf_counter() - start
            log(f"{prefix}: done in {duration(seconds)} (elapsed {duration(total)})")
        if stage.name == stop_after:
            break
    return outcomes


def _run(run_dir: Path, stage: Stage, inputs: dict[str, str], resume: bool) -> tuple[str, float]:
    """Runs one stage between its ``running`` and ``done`` records; its output hash
    and seconds. Rank 0 writes the records; a stage that is not ``distributed``
    runs on rank 0 alone."""
    main = world().is_main
    record = {
        "stage": stage.name,
        "status": "running",
        "config_sha256": stage.config_sha256(),
        "inputs": inputs,
        "started": _now(),
        "transnar_version": __version__,
        "config": dict(stage.config),
    }
    if main:
        write_json(record_path(run_dir, stage.name), record)
    started = time.perf_counter()
    if main or stage.distributed:
        stage.run(resume)
    barrier()
    seconds = time.perf_counter() - started
    output = outputs_sha256(run_dir, stage.outputs)
    if output is None:
        raise RuntimeError(f"stage {stage.name} did not write {', '.join(stage.outputs)}")
    record.update(
        status="done", output_sha256=output, finished=_now(), seconds=seconds, resumed=resume
    )
    if main:
        write_json(record_path(run_dir, stage.name), record)
    return output, seconds


def check_configs(
    stages: Sequence[Stage], records: Mapping[str, dict | None], force: bool = False
) -> list[str]:
    """The stages whose config differs from their record's, each with the keys
    that differ; a :class:`StageConfigError` naming them unless ``force``."""
    changed = []
    for stage in stages:
        record = records.get(stage.name)
        if record is None or record.get("config_sha256") == stage.config_sha256():
            continue
        changed.append(f"{stage.name} ({differences(record.get('config') or {}, stage.config)})")
    if changed and not force:
        raise StageConfigError(
            f"this run directory was made with another config: stage {'; stage '.join(changed)}. "
            "Use a new --out, or --force to re-run the changed stages and those that "
            "depend on them"
        )
    return changed


def differences(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 3) -> str:
    """``key: old -> new, ...`` for the leaves that differ (the first ``limit``)."""
    before, after = flatten(old), flatten(new)
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    shown = [f"{k}: {_short(before.get(k))} -> {_short(after.get(k))}" for k in keys[:limit]]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(shown) + more


def read_record(run_dir: str | Path, name: str) -> dict | None:
    """A stage's record, or None if there is none (or it is unreadable)."""
    try:
        record = json.loads(record_path(run_dir, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def read_records(run_dir: str | Path) -> dict[str, dict]:
    """Every stage record of a run directory, by name, in the order they started."""
    names = sorted(path.stem for path in Path(run_dir, STAGES_DIR).glob("*.json"))
    records = {name: record for name in names if (record := read_record(run_dir, name))}
    return dict(sorted(records.items(), key=lambda item: str(item[1].get("started", ""))))


def record_path(run_dir: str | Path, name: str) -> Path:
    return Path(run_dir) / STAGES_DIR / f"{name}.json"


def outputs_sha256(run_dir: str | Path, outputs: Sequence[str]) -> str | None:
    """SHA-256 of the outputs' paths and bytes (directories: every file below,
    in order); None if one is missing."""
    run_dir = Path(run_dir)
    digest = hashlib.sha256()
    for name in outputs:
        path = run_dir / name
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files = [path]
        else:
            return None
        for file in files:
            digest.update(file.relative_to(run_dir).as_posix().encode() + b"\0")
            with open(file, "rb") as handle:
                for chunk in iter(lambda handle=handle: handle.read(1 << 20), b""):
                    digest.update(chunk)
            digest.update(b"\0")
    return digest.hexdigest()


def duration(seconds: float) -> str:
    """``4.2 s``, ``3 min 12 s`` or ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _sha256_json(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _short(value: Any, width: int = 40) -> str:
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _silent(line: str) -> None:
    """The log of processes other than rank 0."""


__all__ = [
    "Outcome",
    "Stage",
    "StageConfigError",
    "check_configs",
    "differences",
    "duration",
    "outputs_sha256",
    "read_record",
    "read_records",
    "record_path",
    "run_stages",
]
