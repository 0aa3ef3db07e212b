"""Cached, resumable stages: a stage runs only when its output is missing or stale.

A :class:`PipelineStage` has a **config** (a JSON mapping of what its output is a
function of: the arguments of its library call, without those that change
nothing, such as the device), **inputs** (earlier stages whose outputs it
reads) and **outputs** (files or directories of the run directory).
``RUN/stages/<name>.json`` records, for each stage, its config and its hash,
its inputs' output hashes, its status (``running`` while it runs, ``done``
after) and the hash of its outputs (:mod:`~transnar.pipeline.records`).

A stage is

- **skipped** when it is ``done`` with the same config and inputs and its
  outputs still hash as recorded (and are not otherwise damaged:
  :attr:`PipelineStage.damaged`, e.g. the data files a manifest hashes);
- **resumed** when it was ``running`` (interrupted) with the same config and
  inputs and left something to continue from (:attr:`PipelineStage.resumable`): its
  own checkpoints decide where it continues; without one it starts again;
- **run** afresh otherwise (never run, inputs re-made, outputs missing or
  modified: the log line says why), or when ``restart`` names it (e.g. a
  checkpoint that cannot be read: the stage starts over).

A stage whose *config* changed since it was recorded is refused, before
anything runs (:class:`StageConfigError`), unless ``force``: then it, and the
stages whose inputs change with it, run again; the other stages are kept.
This module decides and handles one stage at a time
(:func:`handle_stage`, :func:`run_only`); :mod:`~transnar.pipeline.schedule`
runs a list of them, in order or in parallel processes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transnar import __version__
from transnar.persistence import write_json
from transnar.pipeline.records import (
    differences,
    now,
    outputs_sha256,
    record_path,
    sha256_json,
)
from transnar.pipeline.resources import peak_memory
from transnar.training.distributed import barrier, world
from transnar.training.runs import duration


class StageConfigError(ValueError):
    """A recorded stage of the run directory was made with another config."""


class StageFailedError(RuntimeError):
    """A stage's process failed (:func:`run_stages` with ``jobs`` > 1).

    Attributes:
        stage: its name.
        log: its log file.
    """

    def __init__(self, stage: str, message: str, log: Path):
        super().__init__(message)
        self.stage = stage
        self.log = log


@dataclass(frozen=True)
class PipelineStage:
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
        resumable: whether an interrupted attempt left something to continue
            from (a checkpoint); ``None``: always (``run`` decides).
        group: stages of a group take roughly as long as each other (the
            time-left estimate uses them when no stage of the same kind ran).
        upgrade: a recorded config (from an older version, whose keys may
            have moved) as this version writes it; None: as it is.
        damaged: why outputs whose hashes are as recorded are still not sound
            (e.g. the data files a manifest describes, not themselves hashed), or
            ``''``; None: their hashes say all. A done stage so damaged runs again.
    """

    name: str
    description: str
    config: Mapping[str, Any]
    outputs: tuple[str, ...]
    run: Callable[[bool], None]
    inputs: tuple[str, ...] = ()
    distributed: bool = False
    resumable: Callable[[], bool] | None = None
    group: str | None = None
    upgrade: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    damaged: Callable[[], str] | None = None

    def config_sha256(self) -> str:
        """The hash of its config (:func:`~transnar.pipeline.records.sha256_json`)."""
        return sha256_json(self.config)

    def recorded_config(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """The config of the stage's ``record``, as this version writes it."""
        config = record.get("config") or {}
        return self.upgrade(config) if self.upgrade is not None else config

    def config_matches(self, record: Mapping[str, Any]) -> bool:
        """Whether the stage's ``record`` was made with this config."""
        if record.get("config_sha256") == self.config_sha256():
            return True
        return sha256_json(self.recorded_config(record)) == self.config_sha256()


@dataclass(frozen=True)
class Outcome:
    """What :func:`run_stages` did with a stage: ``skipped``, ``ran`` or ``resumed``."""

    name: str
    status: str
    seconds: float


def stage_seconds(records: Mapping[str, dict | None], outcomes: Sequence[Outcome]) -> dict:
    """How long each stage took when it last ran from its start: this run's
    outcomes, else its record's."""
    seconds = {
        name: float(record["seconds"])
        for name, record in records.items()
        if record
        and record.get("status") == "done"
        and not record.get("resumed")
        and isinstance(record.get("seconds"), int | float)
    }
    seconds.update({o.name: o.seconds for o in outcomes if o.status == "ran"})
    return seconds


def pending_stages(
    stages: Sequence[PipelineStage],
    records: Mapping[str, dict | None],
    ran: set[str],
    restart: frozenset[str] = frozenset(),
) -> list[PipelineStage]:
    """The stages that will probably run: not recorded as done, restarted, or
    reading a stage that runs (the others are most likely up to date)."""
    pending: list[PipelineStage] = []
    running = set(ran)
    for stage in stages:
        record = records.get(stage.name) or {}
        if (
            record.get("status") != "done"
            or stage.name in restart
            or any(i in running for i in stage.inputs)
        ):
            pending.append(stage)
            running.add(stage.name)
    return pending


def time_left(
    pending: Sequence[PipelineStage],
    seconds: Mapping[str, float],
    groups: Mapping[str, str | None],
    jobs: int = 1,
    spent: Mapping[str, float] | None = None,
) -> str | None:
    """``about 12 min 30 s left (5 stage(s) to run, 1 of them not estimated
    yet)``: the pending stages' estimated times, each the mean time of the
    stages of its kind that ran
    (its name without ``-s<seed>``: the same arm at another seed), else of its
    :attr:`PipelineStage.group` (``groups``: every stage's); ``None`` when no pending
    stage has an estimate. With ``jobs`` > 1 the total is shared by the jobs.

    Args:
        pending: the stages still to run.
        seconds: how long the stages that ran took, by name.
        groups: the group of every stage, by name.
        jobs: stages run at once.
        spent: seconds already spent on pending stages that are running.
    """
    if not pending:
        return None
    by_kind: dict[str, list[float]] = {}
    by_group: dict[str, list[float]] = {}
    for name, value in seconds.items():
        by_kind.setdefault(_kind(name), []).append(value)
        if groups.get(name) is not None:
            by_group.setdefault(groups[name], []).append(value)
    total, unknown = 0.0, []
    for stage in pending:
        times = by_kind.get(_kind(stage.name)) or by_group.get(stage.group or "")
        if times:
            total += max(0.0, sum(times) / len(times) - (spent or {}).get(stage.name, 0.0))
        else:
            unknown.append(stage.name)
    if len(unknown) == len(pending):
        return None
    total /= max(1, min(jobs, len(pending)))
    line = f"about {duration(total)} left ({len(pending)} stage(s) to run"
    if unknown:  # no stage like them has run yet
        line += f", {len(unknown)} of them not estimated yet"
    return line + ")"


def _kind(name: str) -> str:
    """A stage's name without its seed: stages of one kind take about as long."""
    return re.sub(r"-s\d+$", "", name)


def check_stage_names(
    stages: Sequence[PipelineStage],
    *,
    stop_after: str | None = None,
    only: str | None = None,
    restart: Sequence[str] = (),
) -> None:
    """A ``ValueError`` for a ``stop_after``, ``only`` or ``restart`` that names
    no stage (listing the stages)."""
    names = [stage.name for stage in stages]
    known = ", ".join(names)
    if stop_after is not None and stop_after not in names:
        raise ValueError(f"no stage {stop_after!r} to stop after (stages: {known})")
    if only is not None and only not in names:
        raise ValueError(f"no stage {only!r} to run (stages: {known})")
    unknown = [name for name in restart if name not in names]
    if unknown:
        raise ValueError(f"no stage {unknown[0]!r} to restart (stages: {known})")


def check_jobs(jobs: int, *, only: str | None = None, stop_after: str | None = None) -> None:
    """A ``ValueError`` for a ``jobs`` below 1, above 1 under ``torchrun`` or
    with ``only``, and for ``only`` with ``stop_after``."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs must be an integer >= 1, got {jobs!r}")
    if only is not None and stop_after is not None:
        raise ValueError("--only runs one stage: it takes no --stop-after")
    if only is not None and jobs > 1:
        raise ValueError("--only runs one stage: it takes no --jobs")
    size = world().size
    if jobs > 1 and size > 1:
        raise ValueError(
            f"--jobs {jobs} runs stages in separate processes, which torchrun's {size} "
            "processes cannot share: under torchrun the trainers are data-parallel "
            "already; use --jobs 1"
        )


@dataclass(frozen=True)
class StagePlan:
    """What to do with a stage: ``skip`` (then ``output`` is its outputs' hash),
    ``resume`` or ``run``; ``reason`` says why a stage that was recorded before
    starts again (``None`` for a first run)."""

    action: str
    output: str | None = None
    reason: str | None = None

    def line(self, stage: PipelineStage) -> str:
        """The log line of a stage that starts (after its ``[k/n] name: `` prefix)."""
        if self.action == "resume":
            return f"resuming: {stage.description}"
        if self.reason is None:
            return f"running: {stage.description}"
        return f"starting again, because {self.reason}: {stage.description}"


def plan_stage(
    run_dir: Path,
    stage: PipelineStage,
    record: dict | None,
    inputs: dict[str, str],
    restart: bool = False,
) -> StagePlan:
    """What to do with a stage whose inputs' outputs hash as ``inputs``."""
    if record is None:
        return StagePlan("run")
    if restart:
        return StagePlan("run", reason="--restart asked for it")
    if not stage.config_matches(record):
        changes = differences(stage.recorded_config(record), stage.config)
        return StagePlan("run", reason=f"its config changed ({changes})")
    recorded_inputs = record.get("inputs") or {}
    if recorded_inputs != inputs:
        changed = [name for name in inputs if recorded_inputs.get(name) != inputs[name]]
        return StagePlan("run", reason=f"its input stage(s) {', '.join(changed)} were made again")
    if record.get("status") == "running":
        if stage.resumable is None or stage.resumable():
            return StagePlan("resume")
        return StagePlan("run", reason="it was interrupted before saving anything to resume from")
    if record.get("status") != "done":
        return StagePlan("run", reason="its record is incomplete")
    current = outputs_sha256(run_dir, stage.outputs)
    if current == record.get("output_sha256"):
        damage = stage.damaged() if stage.damaged is not None else ""
        return StagePlan("run", reason=damage) if damage else StagePlan("skip", current)
    return StagePlan("run", reason=_changed_outputs(run_dir, stage, record))


def _changed_outputs(run_dir: Path, stage: PipelineStage, record: dict) -> str:
    """Why a done stage's outputs no longer hash as recorded: which are missing,
    which changed (modified, truncated or corrupted)."""
    recorded = record.get("output_files") or {}
    missing, changed = [], []
    for name in stage.outputs:
        current = outputs_sha256(run_dir, [name])
        if current is None:
            missing.append(name)
        elif recorded.get(name) != current:
            changed.append(name)
    parts = [f"{name} is missing" for name in missing]
    if changed and recorded:
        parts.append(
            f"{', '.join(changed)} changed since it was done (modified, truncated or corrupted)"
        )
    elif changed:  # a record without each output's hash: one of them changed
        parts.append(
            f"its outputs ({', '.join(changed)}) changed since it was done (modified, "
            "truncated or corrupted)"
        )
    return "; ".join(parts) or "its outputs changed since it was done"


def handle_stage(
    run_dir: Path,
    stage: PipelineStage,
    record: dict | None,
    inputs: dict[str, str],
    prefix: str,
    log: Callable[[str], None],
    start: float,
    restart: bool = False,
    left: Callable[[Outcome], str | None] | None = None,
) -> tuple[Outcome, str]:
    """Skips, resumes or runs one stage in this process; its outcome and output
    hash. ``left(outcome)``: the time left after it, for its ``done`` line."""
    plan = plan_stage(run_dir, stage, record, inputs, restart)
    if plan.action == "skip":
        assert plan.output is not None
        log(f"{prefix}: skipped (up to date)")
        return Outcome(stage.name, "skipped", 0.0), plan.output
    resume = plan.action == "resume"
    log(f"{prefix}: {plan.line(stage)}")
    output, seconds = _run(run_dir, stage, inputs, resume)
    total = time.perf_counter() - start
    outcome = Outcome(stage.name, "resumed" if resume else "ran", seconds)
    estimate = left(outcome) if left is not None else None
    after = f"; {estimate}" if estimate else ""
    log(f"{prefix}: done in {duration(seconds)} (elapsed {duration(total)}){after}")
    return outcome, output


def run_only(
    run_dir: Path,
    stages: Sequence[PipelineStage],
    records: Mapping[str, dict | None],
    name: str,
    log: Callable[[str], None],
    restart: bool = False,
) -> Outcome:
    """Handles the stage ``name`` alone (from its start if ``restart``), once its
    inputs are done and up to date (and theirs, recursively)."""
    by_name = {stage.name: stage for stage in stages}
    hashes: dict[str, str | None] = {}

    def inputs_of(stage: PipelineStage) -> dict[str, str]:
        """The output hashes of the stage's inputs that are up to date."""
        return {i: h for i in stage.inputs if (h := up_to_date(i)) is not None}

    def up_to_date(name: str) -> str | None:
        """The stage's output hash if a run would skip it, else None."""
        if name not in hashes:
            stage, hashes[name] = by_name[name], None
            inputs = inputs_of(stage)
            if len(inputs) == len(stage.inputs):
                hashes[name] = plan_stage(run_dir, stage, records[name], inputs).output
        return hashes[name]

    stage = by_name[name]
    inputs = inputs_of(stage)
    missing = [f"{i} ({_not_done(records[i])})" for i in stage.inputs if i not in inputs]
    if missing:
        raise ValueError(
            f"stage {name} needs its input stages done first: {', '.join(missing)}; "
            "run them (transnar run without --only, or with --stop-after) first"
        )
    prefix = f"[{list(by_name).index(name) + 1}/{len(stages)}] {name}"
    start = time.perf_counter()
    return handle_stage(run_dir, stage, records[name], inputs, prefix, log, start, restart)[0]


def _not_done(record: dict | None) -> str:
    if record is None:
        return "not run"
    if record.get("status") == "running":
        return "interrupted"
    return "out of date"


def _run(
    run_dir: Path, stage: PipelineStage, inputs: dict[str, str], resume: bool
) -> tuple[str, float]:
    """Runs one stage between its ``running`` and ``done`` records; its output hash
    and seconds. Rank 0 writes the records; a stage that is not ``distributed``
    runs on rank 0 alone."""
    main = world().is_main
    record = {
        "stage": stage.name,
        "status": "running",
        "config_sha256": stage.config_sha256(),
        "inputs": inputs,
        "started": now(),
        "transnar_version": __version__,
        "config": dict(stage.config),
    }
    if main:
        write_json(record_path(run_dir, stage.name), record)
    started = time.perf_counter()
    with peak_memory() as peaks:
        if main or stage.distributed:
            stage.run(resume)
    barrier()
    seconds = time.perf_counter() - started
    output = outputs_sha256(run_dir, stage.outputs)
    if output is None:
        raise RuntimeError(f"stage {stage.name} did not write {', '.join(stage.outputs)}")
    # each output's own hash too, so that a later run can say which one changed
    files = {name: outputs_sha256(run_dir, [name]) for name in stage.outputs}
    record.update(
        status="done",
        output_sha256=output,
        output_files=files,
        finished=now(),
        seconds=seconds,
        resumed=resume,
        peak_memory=peaks,
    )
    if main:
        write_json(record_path(run_dir, stage.name), record)
    return output, seconds


def check_configs(
    stages: Sequence[PipelineStage], records: Mapping[str, dict | None], force: bool = False
) -> list[str]:
    """The stages whose config differs from their record's, each with the keys
    that differ; a :class:`StageConfigError` naming them unless ``force``."""
    changed = []
    for stage in stages:
        record = records.get(stage.name)
        if record is None or stage.config_matches(record):
            continue
        changed.append(f"{stage.name} ({differences(stage.recorded_config(record), stage.config)})")
    if changed and not force:
        raise StageConfigError(
            f"this run directory was made with another config: stage {'; stage '.join(changed)}. "
            "Use a new --out, or --force to re-run the changed stages and those that "
            "depend on them"
        )
    return changed
