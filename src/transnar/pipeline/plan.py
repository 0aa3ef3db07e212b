"""What ``transnar run`` would do with each stage, without running any (``--plan``).

For a run directory (new, a run, or a copy made by ``transnar export``) and a
config, :func:`plan_run` says, stage by stage, whether a run would skip it,
resume it or run it, and why, as the run would decide
(:func:`~transnar.pipeline.stages.plan_stages`), and how long the stages to
run would take (:mod:`~transnar.pipeline.time_left`). Nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transnar.pipeline.config import RunPipelineConfig
from transnar.pipeline.run import checked_stages
from transnar.pipeline.stages import PipelineStage, StagePlan, plan_left_out, plan_stages
from transnar.pipeline.time_left import stage_seconds, time_left


@dataclass(frozen=True)
class RunPlan:
    """What a run would do.

    Attributes:
        stages: the stages it would handle, in order.
        total: the number of stages of the run (``stages`` stop at
            ``--stop-after``).
        plans: each stage's plan, by name.
        time_left: the estimate of the stages to run (None: nothing to run, or
            no stage like them has run yet).
    """

    stages: Sequence[PipelineStage]
    total: int
    plans: dict[str, StagePlan]
    time_left: str | None

    def to_run(self) -> list[str]:
        """The stages it would run or resume, in order."""
        return [s.name for s in self.stages if self.plans[s.name].action != "skip"]

    def lines(self) -> list[str]:
        """``[k/n] stage: skip (up to date)``, ``... : run again, because ...``, one
        per stage, then the time left."""
        lines = [
            f"[{k}/{self.total}] {stage.name}: {self.plans[stage.name].plan_line(stage)}"
            for k, stage in enumerate(self.stages, 1)
        ]
        count = len(self.to_run())
        if not count:
            return [*lines, "nothing to run: every stage is up to date"]
        return [*lines, self.time_left or f"{count} stage(s) to run, none timed yet"]


def plan_run(
    config: RunPipelineConfig,
    run_dir: str | os.PathLike,
    *,
    force: bool = False,
    stop_after: str | None = None,
    restart: Sequence[str] = (),
    jobs: int = 1,
) -> RunPlan:
    """What ``run_pipeline(config, run_dir, ...)`` would do with the same options.

    Raises:
        OutputExistsError: ``run_dir`` is a non-empty directory that is not a
            run (and not ``force``), or a file.
        ValueError: ``stop_after`` or ``restart`` naming no stage, a device
            that is not available.
        StageConfigError: a recorded stage's config changed (and not ``force``).
    """
    run_dir = Path(run_dir)
    stages, records = checked_stages(
        config, run_dir, force=force, stop_after=stop_after, restart=restart
    )
    names, total = [stage.name for stage in stages], len(stages)
    stages = stages[: names.index(stop_after) + 1] if stop_after is not None else stages
    again = frozenset(restart)
    left_out = plan_left_out(run_dir, stages, records, again)
    plans = plan_stages(run_dir, stages, records, again, left_out)
    pending = [stage for stage in stages if plans[stage.name].action != "skip"]
    groups = {stage.name: stage.group for stage in stages}
    estimate = time_left(pending, stage_seconds(records, []), groups, jobs)
    return RunPlan(stages, total, plans, estimate)


__all__ = ["RunPlan", "plan_run"]
