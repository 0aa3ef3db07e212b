"""What a student keeps of its teacher's gain, in the report of a run with students.

The question distillation answers is how much of TransNAR's advantage over the
baseline survives without the graph. Per evaluation size and overall, each
student's share of that advantage, ``(student - baseline) / (TransNAR - baseline)``,
with its paired bootstrap interval over the questions
(:meth:`~transnar.evaluation.paired.PairedTests.share`): 1 keeps all of it, 0
none, below 0 less than the baseline. Where TransNAR's own gain is not
significant there is nothing to keep, and no share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from transnar.arms import ARMS_BY_NAME, TEACHER
from transnar.evaluation import Comparison
from transnar.evaluation.comparison import regime_name
from transnar.evaluation.significance import Estimate
from transnar.pipeline.report.runs import RunData
from transnar.tables import markdown_table

BASELINE = "baseline"


def student_shares(runs: Sequence[RunData], comparison: Comparison) -> dict[str, Any]:
    """``{student label: {size or "all": share (Estimate.to_dict) or None}}`` for
    the students of the report's arms; empty without students, the baseline, TransNAR
    or paired tests (for ``comparison.json``)."""
    return {
        student: {str(key): _as_dict(share) for key, share in shares.items()}
        for student, shares in _shares(runs, comparison).items()
    }


def share_lines(runs: Sequence[RunData], comparison: Comparison) -> list[str]:
    """The report's table of the students' shares (no lines without students)."""
    shares = _shares(runs, comparison)
    if not shares:
        return []
    baseline, teacher = (ARMS_BY_NAME[name].label for name in (BASELINE, TEACHER))
    header = ["size", "regime", f"{teacher} − {baseline}"]
    header += [f"{student} keeps" for student in shares]
    rows = [
        [
            str(key),
            regime_name(key, comparison.regimes),
            comparison.delta_text(teacher, baseline, "size", key),
            *(_share_text(by_size[key]) for by_size in shares.values()),
        ]
        for key in comparison.keys("size")
    ]
    return [
        f"What each student keeps of {teacher}'s gain over the {baseline}: "
        f"(student − {baseline}) / ({teacher} − {baseline}) per evaluation size, with its 95% "
        "paired bootstrap interval over the questions (both differences from the same "
        "resamples); 100% keeps all of it, 0% none, below 0% is worse than the baseline; "
        f"— where {teacher}'s gain is not significant (nothing to keep).",
        "",
        *markdown_table(header, rows),
    ]


def _shares(runs: Sequence[RunData], comparison: Comparison) -> dict[str, dict]:
    baseline, teacher = (ARMS_BY_NAME[name].label for name in (BASELINE, TEACHER))
    students = [ARMS_BY_NAME[arm].label for arm in runs[0].arms if ARMS_BY_NAME[arm].student]
    if not students or not {baseline, teacher} <= set(comparison.labels) or not comparison.pairs:
        return {}
    return {
        student: {
            key: comparison.paired.share((student, baseline), (teacher, baseline), "size", key)
            for key in comparison.keys("size")
        }
        for student in students
    }


def _share_text(share: Estimate | None) -> str:
    """``45% [21%, 70%]``, or ``—``."""
    if share is None:
        return "—"
    return f"{share.mean:.0%} [{share.low:.0%}, {share.high:.0%}]"


def _as_dict(share: Estimate | None) -> dict[str, Any] | None:
    return None if share is None else share.to_dict()


__all__ = ["share_lines", "student_shares"]
