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

In a copy of a run made by ``transnar export``, a done stage whose outputs the
export left out is skipped as if they were there, unless a stage that must run
needs them (:func:`plan_left_out`, :mod:`~transnar.pipeline.left_out`).

A stage whose *config* changed since it was recorded is refused, before
anything runs (:class:`StageConfigError`), unless ``force``: then it, and the
stages whose inputs change with it, run again; the other stages are kept.
This module decides and handles one stage at a time
(:func:`handle_stage`, :func:`run_only`); :mod:`~transnar.pipeline.schedule`
runs a list of them, in order or in parallel processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transnar import __version__
from transnar.persistence import write_json
from transnar.pipeline.left_out import LeftOut, read_left_out
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

AGAIN_HINT = (
    "they became needed during this run: run the same command again, which makes them first"
)
"""How a :class:`LeftOutError` of a full run ends."""


class StageConfigError(ValueError):
    """A recorded stage of the run directory was made with another config."""


class LeftOutError(ValueError):
    """A stage must run in a copy of a run, and needs outputs the copy lacks."""


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
        needs: the input stages whose outputs it opens when it runs, which a
            copy of the run must make again if ``transnar export`` left them
            out (:mod:`~transnar.pipeline.left_out`); None: all its inputs.
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
    needs: tuple[str, ...] | None = None

    def needed_inputs(self) -> tuple[str, ...]:
        """The input stages whose outputs it opens (:attr:`needs`)."""
        return self.inputs if self.needs is None else self.needs

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
    """What :func:`run_stages` did with a stage: ``skipped``, ``ran`` or ``resumed``;
    ``made_new``: it ran and its outputs differ from those its record had before
    (the stages that read it then run again; not after a data stage wrote the
    same bytes again)."""

    name: str
    status: str
    seconds: float
    made_new: bool = False


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
    starts again (``None`` for a first run); ``left_out``: skipped although its
    outputs are not there, left out of this copy of the run by an export."""

    action: str
    output: str | None = None
    reason: str | None = None
    left_out: bool = False

    def skip_line(self) -> str:
        """The log line of a skipped stage (after its ``[k/n] name: `` prefix)."""
        if self.left_out:
            return (
                "skipped (done; its outputs were left out of this copy of the run, "
                "and no stage that runs needs them)"
            )
        return "skipped (up to date)"

    def plan_line(self, stage: PipelineStage) -> str:
        """What a run would do with the stage (``transnar run --plan``)."""
        if self.action == "skip":
            return "skip" + self.skip_line().removeprefix("skipped")
        if self.action == "resume":
            return f"resume: {stage.description}"
        if self.reason is None:
            return f"run: {stage.description}"
        return f"run again, because {self.reason}: {stage.description}"

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
    left_out: LeftOut | None = None,
) -> StagePlan:
    """What to do with a stage whose inputs' outputs hash as ``inputs``; in a
    copy of a run, ``left_out`` says which stages' outputs it lacks and which of
    those to make again (:func:`plan_left_out`)."""
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
    if current is None and left_out is not None and left_out.applies(stage.name, record):
        why = left_out.needed.get(stage.name)
        if why is None:
            return StagePlan("skip", record["output_sha256"], left_out=True)
        reason = f"its outputs were left out of this copy of the run, and {why}"
        return StagePlan("run", reason=reason)
    return StagePlan("run", reason=_changed_outputs(run_dir, stage, record))


def plan_stages(
    run_dir: Path,
    stages: Sequence[PipelineStage],
    records: Mapping[str, dict | None],
    restart: frozenset[str] = frozenset(),
    left_out: LeftOut | None = None,
) -> dict[str, StagePlan]:
    """What a run would do with each stage, planned in order before any runs.

    A stage that would run again with the config and inputs of its record is
    taken to make the bytes it made then, so that its readers are skipped (the
    data and distillation stages do; a trainer does on the same machine); any
    other that runs, to make new ones, so that its readers run too.
    """
    outputs: dict[str, str] = {}
    plans: dict[str, StagePlan] = {}
    for stage in stages:
        record = records.get(stage.name)
        inputs = {i: outputs[i] for i in stage.inputs}
        again = stage.name in restart
        plan = plans[stage.name] = plan_stage(run_dir, stage, record, inputs, again, left_out)
        same = bool(record) and not again and _remakes(stage, record, inputs)
        made = record["output_sha256"] if same else f"made anew: {stage.name}"
        outputs[stage.name] = plan.output or made
    return plans


def plan_left_out(
    run_dir: Path,
    stages: Sequence[PipelineStage],
    records: Mapping[str, dict | None],
    restart: frozenset[str] = frozenset(),
    only: str | None = None,
) -> LeftOut | None:
    """In a copy of a run made by ``transnar export``, which of the stages whose
    outputs it left out must be made again: those needed by a stage that will
    run or resume (:attr:`PipelineStage.needs`; :func:`plan_stages`), directly
    or through other left-out stages made again; with ``only``, that stage
    alone, if it is one (``--only`` asks for its outputs). None for a run that
    is no copy.
    """
    hashes = read_left_out(run_dir)
    if not hashes or only is not None:
        asked = {only: "--only asks for them"} if only in hashes else {}
        return LeftOut(hashes, asked) if hashes else None
    needed: dict[str, str] = {}
    while True:
        left_out = LeftOut(hashes, dict(needed))
        plans = plan_stages(run_dir, stages, records, restart, left_out)
        for stage in stages:
            if plans[stage.name].action == "skip":
                continue
            for name in stage.needed_inputs():
                if plans[name].left_out:
                    needed.setdefault(name, f"stage {stage.name} needs them")
        if len(needed) == len(left_out.needed):
            return left_out


def _remakes(stage: PipelineStage, record: dict, inputs: Mapping[str, str]) -> bool:
    """Whether running ``stage`` again makes what its done ``record`` describes:
    the same config, the same inputs."""
    return (
        record.get("status") == "done"
        and bool(record.get("output_sha256"))
        and stage.config_matches(record)
        and record.get("inputs") == inputs
    )


def check_needs(stage: PipelineStage, absent: set[str], hint: str) -> None:
    """A :class:`LeftOutError` if ``stage``, about to run, needs a stage of
    ``absent`` (skipped although this copy of the run lacks its outputs)."""
    lacking = [name for name in stage.needed_inputs() if name in absent]
    if lacking:
        raise LeftOutError(
            f"stage {stage.name} must run, and needs the outputs of {', '.join(lacking)}, "
            f"which this copy of the run lacks (`transnar export` left them out): {hint}"
        )


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
    left_out: LeftOut | None = None,
    absent: set[str] | None = None,
    hint: str = AGAIN_HINT,
) -> tuple[Outcome, str]:
    """Skips, resumes or runs one stage in this process; its outcome and output
    hash. ``left(outcome)``: the time left after it, for its ``done`` line.
    ``left_out``: see :func:`plan_stage`; ``absent`` collects the stages skipped
    without their outputs: a stage that needs one cannot run (a
    :class:`LeftOutError` ending with ``hint``)."""
    plan = plan_stage(run_dir, stage, record, inputs, restart, left_out)
    if plan.action == "skip":
        assert plan.output is not None
        if plan.left_out and absent is not None:
            absent.add(stage.name)
        log(f"{prefix}: {plan.skip_line()}")
        return Outcome(stage.name, "skipped", 0.0), plan.output
    check_needs(stage, absent or set(), hint)
    resume = plan.action == "resume"
    log(f"{prefix}: {plan.line(stage)}")
    output, seconds = _run(run_dir, stage, inputs, resume)
    total = time.perf_counter() - start
    made_new = output != (record or {}).get("output_sha256")
    outcome = Outcome(stage.name, "resumed" if resume else "ran", seconds, made_new)
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
    inputs are done and up to date (and theirs, recursively). In a copy of a
    run, an input whose outputs the copy lacks counts as done unless the stage,
    to run, needs them (then it is an error saying how to make them)."""
    by_name = {stage.name: stage for stage in stages}
    hashes: dict[str, str | None] = {}
    left_out = plan_left_out(run_dir, stages, records, only=name)
    absent: set[str] = set()

    def inputs_of(stage: PipelineStage) -> dict[str, str]:
        """The output hashes of the stage's inputs that are up to date."""
        return {i: h for i in stage.inputs if (h := up_to_date(i)) is not None}

    def up_to_date(name: str) -> str | None:
        """The stage's output hash if a run would skip it, else None."""
        if name not in hashes:
            stage, hashes[name] = by_name[name], None
            inputs = inputs_of(stage)
            if len(inputs) == len(stage.inputs):
                plan = plan_stage(run_dir, stage, records[name], inputs, left_out=left_out)
                hashes[name] = plan.output
                if plan.left_out:
                    absent.add(name)
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
    hint = "make them first, with " + "; ".join(
        f"transnar run --only {i}" for i in stage.needed_inputs() if i in absent
    )
    return handle_stage(
        run_dir,
        stage,
        records[name],
        inputs,
        prefix,
        log,
        start,
        restart,
        left_out=left_out,
        absent=absent,
        hint=hint,
    )[0]


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
