"""How long a run has left: each stage still to run timed by the stages like it
that ran (the same arm at another seed, else the same group), shared by the jobs.

:func:`pending_stages` says which stages will probably run, :func:`time_left`
turns them into the ``about 1 h 12 min left (5 stage(s) to run)`` of each
stage's ``done`` line; :func:`stage_seconds` gathers the times they use and
:func:`estimated_seconds` turns them into each stage's estimate. The scheduler
of ``--jobs`` starts the stages on the longest chains first
(:func:`longest_chains`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from transnar.pipeline.stages import Outcome, PipelineStage
from transnar.training.runs import duration


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
    reading a stage of ``ran`` (that made new outputs, or runs) or one of
    these (the others are most likely up to date)."""
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
    estimates = estimated_seconds((stage.name for stage in pending), seconds, groups)
    total, unknown = 0.0, []
    for stage in pending:
        estimate = estimates[stage.name]
        if estimate is not None:
            total += max(0.0, estimate - (spent or {}).get(stage.name, 0.0))
        else:
            unknown.append(stage.name)
    if len(unknown) == len(pending):
        return None
    total /= max(1, min(jobs, len(pending)))
    line = f"about {duration(total)} left ({len(pending)} stage(s) to run"
    if unknown:  # no stage like them has run yet
        line += f", {len(unknown)} of them not estimated yet"
    return line + ")"


def estimated_seconds(
    names: Iterable[str], seconds: Mapping[str, float], groups: Mapping[str, str | None]
) -> dict[str, float | None]:
    """Each stage's estimated time: the mean time of the stages of its kind
    that ran (its name without ``-s<seed>``), else of its group (``groups``:
    every stage's); None when no such stage ran.

    Args:
        names: the stages to estimate.
        seconds: how long the stages that ran took, by name (:func:`stage_seconds`).
        groups: the group of every stage, by name.
    """
    by_kind: dict[str, list[float]] = {}
    by_group: dict[str, list[float]] = {}
    for name, value in seconds.items():
        by_kind.setdefault(_kind(name), []).append(value)
        if groups.get(name) is not None:
            by_group.setdefault(groups[name], []).append(value)
    estimates: dict[str, float | None] = {}
    for name in names:
        times = by_kind.get(_kind(name)) or by_group.get(groups.get(name) or "")
        estimates[name] = sum(times) / len(times) if times else None
    return estimates


def longest_chains(
    stages: Sequence[PipelineStage], estimates: Mapping[str, float | None]
) -> dict[str, float]:
    """Per stage, the estimated seconds of the longest chain of stages from it
    to the end of the run: itself, then the stages that read it, recursively (a
    stage without an estimate counts 0). ``stages`` are in order, each after
    its inputs (as :func:`~transnar.pipeline.run.build_stages` gives them)."""
    readers: dict[str, list[str]] = {}
    for stage in stages:
        for name in stage.inputs:
            readers.setdefault(name, []).append(stage.name)
    chains: dict[str, float] = {}
    for stage in reversed(stages):
        after = max((chains[r] for r in readers.get(stage.name, ()) if r in chains), default=0.0)
        chains[stage.name] = (estimates.get(stage.name) or 0.0) + after
    return chains


def _kind(name: str) -> str:
    """A stage's name without its seed: stages of one kind take about as long."""
    return re.sub(r"-s\d+$", "", name)
