"""Running the stages of a run: in order in this process, or several at once.

:func:`run_stages` runs the stages in order, each handled as
:mod:`~transnar.pipeline.stages` says (skipped, resumed or run).

With ``jobs`` > 1 the stages whose input stages are done run at the same
time, up to ``jobs`` at once, each in its own process started by a *launcher*
(:func:`subprocess_launcher`; the pipeline's runs ``transnar run --only
STAGE``) with its output in ``RUN/logs/<name>.log``. Each child handles its
stage as ``only`` does (:func:`run_stages`) and writes only that stage's
record and outputs; the scheduler skips the stages that are up to date itself,
starts the others as their inputs get done (the evaluations first, then those
on the longest chains of stages to the end of the run, by the times of the
stages like them that ran: :func:`~transnar.pipeline.time_left.longest_chains`;
else in order), and on a failure, an interruption or SIGTERM terminates the
children still running (an interrupted stage is resumed on the next run) and
raises.

In data-parallel training (``torchrun``, :mod:`transnar.training.distributed`) every
process runs the pipeline: the ``distributed`` stages (the trainers) run on all
of them, the others on rank 0 alone while the rest wait; rank 0 writes the
records and the log, and all processes meet after each stage. ``jobs`` > 1 is
refused there.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from transnar.pipeline.left_out import LeftOut
from transnar.pipeline.records import now, read_record
from transnar.pipeline.stages import (
    AGAIN_HINT,
    Outcome,
    PipelineStage,
    StageFailedError,
    StagePlan,
    check_configs,
    check_jobs,
    check_needs,
    check_stage_names,
    handle_stage,
    plan_left_out,
    plan_stage,
    run_only,
)
from transnar.pipeline.time_left import (
    estimated_seconds,
    longest_chains,
    pending_stages,
    stage_seconds,
    time_left,
)
from transnar.training.distributed import barrier, world
from transnar.training.runs import duration

LOGS_DIR = "logs"
"""``RUN/logs/<stage>.log``: the output of each stage's process (``jobs`` > 1)."""


POLL_SECONDS = 0.05
"""How often the scheduler looks at its children."""


STOP_SECONDS = 15.0
"""How long terminated children may take to stop before they are killed."""


class Child(Protocol):
    """A started stage process: what :func:`run_stages` needs of a
    :class:`subprocess.Popen`."""

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


Launcher = Callable[[PipelineStage, Path], Child]
"""``launch(stage, log)`` starts a process that runs ``stage`` as
``run_stages(..., only=stage.name)`` does, its output in the file ``log``."""


def run_stages(
    run_dir: str | Path,
    stages: Sequence[PipelineStage],
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
        return [run_only(run_dir, stages, records, only, log, only in restart)]
    last = names.index(stop_after) + 1 if stop_after is not None else len(stages)
    left_out = plan_left_out(run_dir, stages[:last], records, restart)
    if jobs > 1:
        assert launch is not None
        scheduler = _Scheduler(run_dir, stages, records, log, jobs, launch, restart, left_out)
        return scheduler.run(stop_after)
    return _run_in_order(run_dir, stages, records, log, restart, stop_after, left_out)


def _run_in_order(
    run_dir: Path,
    stages: Sequence[PipelineStage],
    records: Mapping[str, dict | None],
    log: Callable[[str], None],
    restart: frozenset[str],
    stop_after: str | None,
    left_out: LeftOut | None = None,
) -> list[Outcome]:
    """:func:`run_stages` with one job: the stages one after the other, in this
    process, up to ``stop_after``."""
    names = [stage.name for stage in stages]
    outputs: dict[str, str] = {}
    absent: set[str] = set()
    outcomes = []
    start = time.perf_counter()
    last = names.index(stop_after) + 1 if stop_after is not None else len(stages)
    groups = {stage.name: stage.group for stage in stages}
    for k, stage in enumerate(stages[:last], 1):
        prefix = f"[{k}/{len(stages)}] {stage.name}"
        inputs = {name: outputs[name] for name in stage.inputs}

        def left(outcome: Outcome, k: int = k) -> str | None:
            done = [*outcomes, outcome]
            ran = {o.name for o in done if o.made_new}
            pending = pending_stages(stages[k:last], records, ran, restart)
            return time_left(pending, stage_seconds(records, done), groups)

        outcome, outputs[stage.name] = handle_stage(
            run_dir,
            stage,
            records[stage.name],
            inputs,
            prefix,
            log,
            start,
            stage.name in restart,
            left,
            left_out,
            absent,
        )
        outcomes.append(outcome)
    return outcomes


@dataclass
class _Running:
    """A stage whose process the scheduler started."""

    stage: PipelineStage
    inputs: dict[str, str]
    resume: bool
    child: Child
    log: Path
    started: float


class _Scheduler:
    """Runs the stages ``jobs`` at a time, each in a process of ``launch``, a
    stage as soon as its input stages are done, in the order of :meth:`priority`."""

    def __init__(
        self,
        run_dir: Path,
        stages: Sequence[PipelineStage],
        records: Mapping[str, dict | None],
        log: Callable[[str], None],
        jobs: int,
        launch: Launcher,
        restart: frozenset[str] = frozenset(),
        left_out: LeftOut | None = None,
    ):
        self.run_dir, self.stages, self.records = run_dir, stages, records
        self.log, self.jobs, self.launch, self.restart = log, jobs, launch, restart
        self.left_out = left_out
        self.absent: set[str] = set()  # skipped without their outputs (left out)
        self.number = {stage.name: k for k, stage in enumerate(stages, 1)}
        self.outputs: dict[str, str] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.running: dict[str, _Running] = {}
        self.waiting: list[PipelineStage] = []
        self.ready: list[tuple[PipelineStage, dict[str, str], StagePlan]] = []
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
                    if ready and len(self.running) < self.jobs:
                        ready.sort(key=self.priority())
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

    def priority(self) -> Callable[[tuple[PipelineStage, Any, Any]], tuple]:
        """The sort key of the ready stages (``(stage, inputs, plan)``): the
        evaluations first (short, they give each seed's results as soon as its
        models are trained), then the stages on the longest estimated chains to
        the end of the run (so that its last hours do not fall to one job while
        the others wait), then the earliest in order (every stage that has no
        estimate yet, e.g. in a run's first pass)."""
        seconds = stage_seconds(self.records, list(self.outcomes.values()))
        groups = {stage.name: stage.group for stage in self.stages}
        chains = longest_chains(self.stages, estimated_seconds(groups, seconds, groups))

        def key(item: tuple[PipelineStage, Any, Any]) -> tuple:
            stage = item[0]
            return (stage.group != "eval", -chains[stage.name], self.number[stage.name])

        return key

    def plan(
        self, waiting: list[PipelineStage]
    ) -> list[tuple[PipelineStage, dict[str, str], StagePlan]]:
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
                plan = plan_stage(self.run_dir, stage, record, inputs, restart, self.left_out)
                if plan.action == "skip":
                    assert plan.output is not None
                    self.outputs[stage.name] = plan.output
                    self.outcomes[stage.name] = Outcome(stage.name, "skipped", 0.0)
                    if plan.left_out:
                        self.absent.add(stage.name)
                    self.log(f"{self.prefix(stage.name)}: {plan.skip_line()}")
                    again = True
                else:
                    check_needs(stage, self.absent, AGAIN_HINT)
                    ready.append((stage, inputs, plan))
        return ready

    def start_stage(self, stage: PipelineStage, inputs: dict[str, str], plan: StagePlan) -> None:
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
            or not stage.config_matches(record)
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
        before = (self.records[stage.name] or {}).get("output_sha256")
        made_new = record["output_sha256"] != before
        self.outcomes[stage.name] = Outcome(stage.name, status, seconds, made_new)
        total = time.perf_counter() - self.start
        left = self.time_left()
        after = f"; {left}" if left else ""
        self.log(f"{prefix}: done in {duration(seconds)} (elapsed {duration(total)}){after}")

    def time_left(self) -> str | None:
        """The estimate of the time left (:func:`time_left`) for the stages
        running, ready and waiting (those that will probably run)."""
        now = time.perf_counter()
        ran = {name for name, o in self.outcomes.items() if o.made_new}
        ran |= set(self.running)
        started = ran | {stage.name for stage, *_ in self.ready}
        waiting = pending_stages(self.waiting, self.records, started, self.restart)
        pending = [r.stage for r in self.running.values()]
        pending += [stage for stage, *_ in self.ready] + waiting
        spent = {name: now - r.started for name, r in self.running.items()}
        seconds = stage_seconds(self.records, list(self.outcomes.values()))
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
    command: Callable[[PipelineStage], Sequence[str]], env: Mapping[str, str] | None = None
) -> Launcher:
    """A :data:`Launcher` that runs ``command(stage)`` with its standard output
    and error appended to the log file (after a header line), its standard
    input empty, unbuffered.

    Args:
        command: the stage's command line; it must handle the stage as
            ``run_stages(..., only=stage.name)`` (e.g. ``transnar run --only``).
        env: the environment (default: this process's).
    """

    def launch(stage: PipelineStage, log: Path) -> subprocess.Popen:
        argv = [str(part) for part in command(stage)]
        log.parent.mkdir(parents=True, exist_ok=True)
        environment = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
        with open(log, "ab") as handle:
            handle.write(f"--- {now()} {shlex.join(argv)}\n".encode())
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


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _silent(line: str) -> None:
    """The log of processes other than rank 0."""
