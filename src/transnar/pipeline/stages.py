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
  inputs and left something to continue from (:attr:`Stage.resumable`): its
  own checkpoints decide where it continues; without one it starts again;
- **run** afresh otherwise (never run, inputs re-made, outputs missing or
  modified: the log line says why), or when ``restart`` names it (e.g. a
  checkpoint that cannot be read: the stage starts over).

A stage whose *config* changed since it was recorded is refused, before
anything runs (:class:`StageConfigError`), unless ``force``: then it, and the
stages whose inputs change with it, run again; the other stages are kept.

With ``jobs`` > 1 the stages whose input stages are done run at the same
time, up to ``jobs`` at once, each in its own process started by a *launcher*
(:func:`subprocess_launcher`; the pipeline's runs ``transnar run --only
STAGE``) with its output in ``RUN/logs/<name>.log``. Each child handles its
stage as ``only`` does (:func:`run_stages`) and writes only that stage's
record and outputs; the scheduler skips the stages that are up to date itself,
starts the others in order as their inputs get done, and on a failure, an
interruption or SIGTERM terminates the children still running (an interrupted
stage is resumed on the next run) and raises.

In data-parallel training (``torchrun``, :mod:`transnar.training.distributed`) every
process runs the pipeline: the ``distributed`` stages (the trainers) run on all
of them, the others on rank 0 alone while the rest wait; rank 0 writes the
records and the log, and all processes meet after each stage. ``jobs`` > 1 is
refused there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from transnar import __version__
from transnar._config import flatten
from transnar.pipeline.layout import STAGES_DIR
from transnar.pipeline.resources import peak_memory
from transnar.training.distributed import barrier, world
from transnar.training.runs import duration, write_json

LOGS_DIR = "logs"
"""``RUN/logs/<stage>.log``: the output of each stage's process (``jobs`` > 1)."""

POLL_SECONDS = 0.05
"""How often the scheduler looks at its children."""

STOP_SECONDS = 15.0
"""How long terminated children may take to stop before they are killed."""


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
        resumable: whether an interrupted attempt left something to continue
            from (a checkpoint); ``None``: always (``run`` decides).
        group: stages of a group take roughly as long as each other (the
            time-left estimate uses them when no stage of the same kind ran).
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

    def config_sha256(self) -> str:
        return _sha256_json(self.config)


@dataclass(frozen=True)
class Outcome:
    """What :func:`run_stages` did with a stage: ``skipped``, ``ran`` or ``resumed``."""

    name: str
    status: str
    seconds: float


class Child(Protocol):
    """A started stage process: what :func:`run_stages` needs of a
    :class:`subprocess.Popen`."""

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


Launcher = Callable[[Stage, Path], Child]
"""``launch(stage, log)`` starts a process that runs ``stage`` as
``run_stages(..., only=stage.name)`` does, its output in the file ``log``."""


def run_stages(
    run_dir: str | Path,
    stages: Sequence[Stage],
    *,
    force: bool = False,
    stop_after: str | None = None,
    log: Callable[[str], None] | None = None,
    jobs: int = 1,
    only: str | None = None,
    launch: Launcher | None = None,
    restart: Sequence[str] = (),
) -> list[Outcome]:
    """Runs the stages, skipping those that are up to date (module docstring).

    Args:
        run_dir: the run directory.
        stages: the stages; a stage's inputs come before it.
        force: re-run stages whose config changed instead of refusing.
        stop_after: stop once this stage is done (or skipped); with ``jobs`` > 1,
            the stages up to it in order are run.
        log: receives one line per stage (default: standard error).
        jobs: how many stages may run at once; above 1 each runs in a process
            of ``launch``.
        only: handle this stage alone (skip, resume or run it); its input
            stages must be done and up to date.
        launch: starts a stage's process (:func:`subprocess_launcher`); needed
            when ``jobs`` > 1.
        restart: stages to run from their start, whatever their record says
            (an interrupted one is not resumed, a done one is made again).

    Returns:
        An :class:`Outcome` per stage handled, in order.

    Raises:
        StageConfigError: a recorded stage's config changed and not ``force``.
        StageFailedError: with ``jobs`` > 1, a stage's process failed (the
            others were terminated).
        ValueError: ``stop_after``, ``only`` or ``restart`` names no stage,
            ``only``'s inputs are not done, bad ``jobs``.
    """
    run_dir = Path(run_dir)
    main = world().is_main
    log = (log or _print) if main else _silent
    check_jobs(jobs, only=only, stop_after=stop_after)
    check_stage_names(stages, stop_after=stop_after, only=only, restart=restart)
    names = [stage.name for stage in stages]
    restart = frozenset(restart)
    if jobs > 1 and launch is None:
        raise ValueError("jobs > 1 needs a launcher to start the stages' processes")
    for k, stage in enumerate(stages):
        if not set(stage.inputs) <= set(names[:k]):
            raise ValueError(f"stage {stage.name}: its inputs must be earlier stages")
    records = {stage.name: read_record(run_dir, stage.name) for stage in stages}
    check_configs(stages, records, force)
    barrier()  # every process has read the records before rank 0 writes any
    if only is not None:
        return [_run_only(run_dir, stages, records, only, log, only in restart)]
    if jobs > 1:
        assert launch is not None
        return _Scheduler(run_dir, stages, records, log, jobs, launch, restart).run(stop_after)
    outputs: dict[str, str] = {}
    outcomes = []
    start = time.perf_counter()
    last = names.index(stop_after) + 1 if stop_after is not None else len(stages)
    groups = {stage.name: stage.group for stage in stages}
    for k, stage in enumerate(stages[:last], 1):
        prefix = f"[{k}/{len(stages)}] {stage.name}"
        inputs = {name: outputs[name] for name in stage.inputs}

        def left(outcome: Outcome, k: int = k) -> str | None:
            done = [*outcomes, outcome]
            ran = {o.name for o in done if o.status != "skipped"}
            pending = _pending(stages[k:last], records, ran, restart)
            return time_left(pending, _stage_seconds(records, done), groups)

        outcome, outputs[stage.name] = _handle(
            run_dir,
            stage,
            records[stage.name],
            inputs,
            prefix,
            log,
            start,
            stage.name in restart,
            left,
        )
        outcomes.append(outcome)
    return outcomes


def _stage_seconds(records: Mapping[str, dict | None], outcomes: Sequence[Outcome]) -> dict:
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


def _pending(
    stages: Sequence[Stage],
    records: Mapping[str, dict | None],
    ran: set[str],
    restart: frozenset[str] = frozenset(),
) -> list[Stage]:
    """The stages that will probably run: not recorded as done, restarted, or
    reading a stage that runs (the others are most likely up to date)."""
    pending: list[Stage] = []
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
    pending: Sequence[Stage],
    seconds: Mapping[str, float],
    groups: Mapping[str, str | None],
    jobs: int = 1,
    spent: Mapping[str, float] | None = None,
) -> str | None:
    """``about 12 min 30 s left (5 stage(s) to run, 1 of them not estimated
    yet)``: the pending stages' estimated times, each the mean time of the
    stages of its kind that ran
    (its name without ``-s<seed>``: the same arm at another seed), else of its
    :attr:`Stage.group` (``groups``: every stage's); ``None`` when no pending
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
    stages: Sequence[Stage],
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
class _Plan:
    """What to do with a stage: ``skip`` (then ``output`` is its outputs' hash),
    ``resume`` or ``run``; ``reason`` says why a stage that was recorded before
    starts again (``None`` for a first run)."""

    action: str
    output: str | None = None
    reason: str | None = None

    def line(self, stage: Stage) -> str:
        """The log line of a stage that starts (after its ``[k/n] name: `` prefix)."""
        if self.action == "resume":
            return f"resuming: {stage.description}"
        if self.reason is None:
            return f"running: {stage.description}"
        return f"starting again, because {self.reason}: {stage.description}"


def _plan(
    run_dir: Path,
    stage: Stage,
    record: dict | None,
    inputs: dict[str, str],
    restart: bool = False,
) -> _Plan:
    """What to do with a stage whose inputs' outputs hash as ``inputs``."""
    if record is None:
        return _Plan("run")
    if restart:
        return _Plan("run", reason="--restart asked for it")
    if record.get("config_sha256") != stage.config_sha256():
        changes = differences(record.get("config") or {}, stage.config)
        return _Plan("run", reason=f"its config changed ({changes})")
    recorded_inputs = record.get("inputs") or {}
    if recorded_inputs != inputs:
        changed = [name for name in inputs if recorded_inputs.get(name) != inputs[name]]
        return _Plan("run", reason=f"its input stage(s) {', '.join(changed)} were made again")
    if record.get("status") == "running":
        if stage.resumable is None or stage.resumable():
            return _Plan("resume")
        return _Plan("run", reason="it was interrupted before saving anything to resume from")
    if record.get("status") != "done":
        return _Plan("run", reason="its record is incomplete")
    current = outputs_sha256(run_dir, stage.outputs)
    if current == record.get("output_sha256"):
        return _Plan("skip", current)
    return _Plan("run", reason=_changed_outputs(run_dir, stage, record))


def _changed_outputs(run_dir: Path, stage: Stage, record: dict) -> str:
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


def _handle(
    run_dir: Path,
    stage: Stage,
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
    plan = _plan(run_dir, stage, record, inputs, restart)
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


def _run_only(
    run_dir: Path,
    stages: Sequence[Stage],
    records: Mapping[str, dict | None],
    name: str,
    log: Callable[[str], None],
    restart: bool = False,
) -> Outcome:
    """Handles the stage ``name`` alone (from its start if ``restart``), once its
    inputs are done and up to date (and theirs, recursively)."""
    by_name = {stage.name: stage for stage in stages}
    hashes: dict[str, str | None] = {}

    def inputs_of(stage: Stage) -> dict[str, str]:
        """The output hashes of the stage's inputs that are up to date."""
        return {i: h for i in stage.inputs if (h := up_to_date(i)) is not None}

    def up_to_date(name: str) -> str | None:
        """The stage's output hash if a run would skip it, else None."""
        if name not in hashes:
            stage, hashes[name] = by_name[name], None
            inputs = inputs_of(stage)
            if len(inputs) == len(stage.inputs):
                hashes[name] = _plan(run_dir, stage, records[name], inputs).output
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
    return _handle(run_dir, stage, records[name], inputs, prefix, log, start, restart)[0]


def _not_done(record: dict | None) -> str:
    if record is None:
        return "not run"
    if record.get("status") == "running":
        return "interrupted"
    return "out of date"


@dataclass
class _Running:
    """A stage whose process the scheduler started."""

    stage: Stage
    inputs: dict[str, str]
    resume: bool
    child: Child
    log: Path
    started: float


class _Scheduler:
    """Runs the stages ``jobs`` at a time, each in a process of ``launch``, a
    stage as soon as its input stages are done, in order otherwise."""

    def __init__(
        self,
        run_dir: Path,
        stages: Sequence[Stage],
        records: Mapping[str, dict | None],
        log: Callable[[str], None],
        jobs: int,
        launch: Launcher,
        restart: frozenset[str] = frozenset(),
    ):
        self.run_dir, self.stages, self.records = run_dir, stages, records
        self.log, self.jobs, self.launch, self.restart = log, jobs, launch, restart
        self.number = {stage.name: k for k, stage in enumerate(stages, 1)}
        self.outputs: dict[str, str] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.running: dict[str, _Running] = {}
        self.waiting: list[Stage] = []
        self.ready: list[tuple[Stage, dict[str, str], _Plan]] = []
        self.start = time.perf_counter()

    def prefix(self, name: str) -> str:
        return f"[{self.number[name]}/{len(self.stages)}] {name}"

    def run(self, stop_after: str | None) -> list[Outcome]:
        last = self.number[stop_after] if stop_after is not None else len(self.stages)
        waiting = self.waiting = list(self.stages[:last])
        ready = self.ready = []
        with sigterm_interrupts():
            try:
                while waiting or ready or self.running:
                    ready += self.plan(waiting)
                    # earliest stage first: a seed's evaluations before the next seed's training
                    ready.sort(key=lambda item: self.number[item[0].name])
                    while ready and len(self.running) < self.jobs:
                        self.start_stage(*ready.pop(0))
                    if not self.running:
                        if waiting and not ready:
                            raise RuntimeError("stages wait for inputs that never come")
                        continue
                    finished = [r for r in self.running.values() if r.child.poll() is not None]
                    if not finished:
                        time.sleep(POLL_SECONDS)
                    for running in finished:
                        del self.running[running.stage.name]
                        self.finish(running)
            except KeyboardInterrupt:
                self.stop(grace=2.0)  # Ctrl-C reached the children too: let them stop
                raise
            except BaseException:
                self.stop()
                raise
        return [self.outcomes[s.name] for s in self.stages if s.name in self.outcomes]

    def plan(self, waiting: list[Stage]) -> list[tuple[Stage, dict[str, str], _Plan]]:
        """Takes the stages whose inputs are done out of ``waiting``: skips those
        up to date (then looks again), returns the others with their inputs and
        plans (resume or run)."""
        ready = []
        again = True
        while again:
            again = False
            for stage in [s for s in waiting if all(i in self.outputs for i in s.inputs)]:
                waiting.remove(stage)
                inputs = {i: self.outputs[i] for i in stage.inputs}
                record, restart = self.records[stage.name], stage.name in self.restart
                plan = _plan(self.run_dir, stage, record, inputs, restart)
                if plan.action == "skip":
                    assert plan.output is not None
                    self.outputs[stage.name] = plan.output
                    self.outcomes[stage.name] = Outcome(stage.name, "skipped", 0.0)
                    self.log(f"{self.prefix(stage.name)}: skipped (up to date)")
                    again = True
                else:
                    ready.append((stage, inputs, plan))
        return ready

    def start_stage(self, stage: Stage, inputs: dict[str, str], plan: _Plan) -> None:
        path = self.run_dir / LOGS_DIR / f"{stage.name}.log"
        self.log(f"{self.prefix(stage.name)}: {plan.line(stage)} (log: {path})")
        child = self.launch(stage, path)
        resume = plan.action == "resume"
        self.running[stage.name] = _Running(stage, inputs, resume, child, path, time.perf_counter())

    def finish(self, running: _Running) -> None:
        """Takes a finished child's stage as done, or raises :class:`StageFailedError`."""
        stage, prefix = running.stage, self.prefix(running.stage.name)
        seconds = time.perf_counter() - running.started
        code = running.child.poll()
        if code != 0:
            status = _exit_status(code)
            self.log(f"{prefix}: failed ({status}) after {duration(seconds)}; its log ends:")
            for line in _tail(running.log):
                self.log(f"    {line}")
            raise StageFailedError(
                stage.name,
                f"stage {stage.name} failed ({status}); its log: {running.log}",
                running.log,
            )
        record = read_record(self.run_dir, stage.name) or {}
        if (
            record.get("status") != "done"
            or record.get("config_sha256") != stage.config_sha256()
            or record.get("inputs") != running.inputs
            or not record.get("output_sha256")
        ):
            raise StageFailedError(
                stage.name,
                f"stage {stage.name}'s process ended without recording it as done with "
                f"this config and inputs; its log: {running.log}",
                running.log,
            )
        self.outputs[stage.name] = record["output_sha256"]
        status = "resumed" if running.resume else "ran"
        self.outcomes[stage.name] = Outcome(stage.name, status, seconds)
        total = time.perf_counter() - self.start
        left = self.time_left()
        after = f"; {left}" if left else ""
        self.log(f"{prefix}: done in {duration(seconds)} (elapsed {duration(total)}){after}")

    def time_left(self) -> str | None:
        """The estimate of the time left (:func:`time_left`) for the stages
        running, ready and waiting (those that will probably run)."""
        now = time.perf_counter()
        ran = {name for name, o in self.outcomes.items() if o.status != "skipped"}
        ran |= set(self.running)
        waiting = _pending(self.waiting, self.records, ran | {s.name for s, *_ in self.ready})
        pending = [r.stage for r in self.running.values()]
        pending += [stage for stage, *_ in self.ready] + waiting
        spent = {name: now - r.started for name, r in self.running.items()}
        seconds = _stage_seconds(self.records, list(self.outcomes.values()))
        groups = {stage.name: stage.group for stage in self.stages}
        return time_left(pending, seconds, groups, self.jobs, spent)

    def stop(self, grace: float = 0.0) -> None:
        """Terminates the children still running (after ``grace`` seconds), then
        kills those that have not stopped after :data:`STOP_SECONDS` (at once on
        a second interruption)."""
        running = [r for r in self.running.values() if r.child.poll() is None]
        self.running.clear()
        try:
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and any(r.child.poll() is None for r in running):
                time.sleep(POLL_SECONDS)
            for r in running:
                if r.child.poll() is None:
                    r.child.terminate()
            deadline = time.monotonic() + STOP_SECONDS
            for r in running:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    r.child.wait(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            for r in running:
                killed = r.child.poll() is None
                if killed:
                    r.child.kill()
                    r.child.wait()
                how = "killed" if killed else "stopped"
                self.log(f"{self.prefix(r.stage.name)}: {how}; it resumes on the next run")


def subprocess_launcher(
    command: Callable[[Stage], Sequence[str]], env: Mapping[str, str] | None = None
) -> Launcher:
    """A :data:`Launcher` that runs ``command(stage)`` with its standard output
    and error appended to the log file (after a header line), its standard
    input empty, unbuffered.

    Args:
        command: the stage's command line; it must handle the stage as
            ``run_stages(..., only=stage.name)`` (e.g. ``transnar run --only``).
        env: the environment (default: this process's).
    """

    def launch(stage: Stage, log: Path) -> subprocess.Popen:
        argv = [str(part) for part in command(stage)]
        log.parent.mkdir(parents=True, exist_ok=True)
        environment = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        with open(log, "ab") as handle:
            handle.write(f"--- {_now()} {shlex.join(argv)}\n".encode())
            handle.flush()
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=environment,
            )

    return launch


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises :class:`KeyboardInterrupt` inside the block (as Ctrl-C), so
    that files being written are cleaned up and children terminated; nothing
    outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _exit_status(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def _tail(path: Path, lines: int = 15, size: int = 16384) -> list[str]:
    """The last ``lines`` lines of a file (none if it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - size))
            text = handle.read().decode(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]


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
        finished=_now(),
        seconds=seconds,
        resumed=resume,
        peak_memory=peaks,
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
    "LOGS_DIR",
    "Child",
    "Launcher",
    "Outcome",
    "Stage",
    "StageConfigError",
    "StageFailedError",
    "check_configs",
    "check_jobs",
    "check_stage_names",
    "differences",
    "duration",
    "outputs_sha256",
    "read_record",
    "read_records",
    "record_path",
    "run_stages",
    "sigterm_interrupts",
    "subprocess_launcher",
    "time_left",
]
