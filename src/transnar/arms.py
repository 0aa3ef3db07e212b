"""The arms of a pipeline run: the language models each seed trains, defined once.

Every arm is one row of :data:`ARMS`: its name (``<name>-s<seed>`` names its
directory and stages), its label in tables and plots, the sentence the report
uses for it, and how it differs from the run's ``lm`` section: whether it
cross-attends to the NAR, where its NAR memory comes from, in which memory
mode it reads it, whether its CLRS-Text carries index hints (shifted or not), and whether it is
a student distilled from its seed's TransNAR (from its answers, or from its
next-token distributions). The pipeline
(:mod:`transnar.pipeline.layout`), its config check, ``transnar lm eval
--arm`` and the report read this table; adding an arm is adding a row (and
what makes it differ, where that is new).

This module imports nothing heavy: ``--help`` lists the arms without torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Arm:
    """One arm of a pipeline run.

    Attributes:
        name: its name in ``arms=``, ``--arm`` and directory names.
        label: its label in tables and plots (the seeds of a label are averaged).
        description: what it is, in the report's words.
        use_nar: whether it cross-attends to the frozen NAR (TransNAR's architecture).
        memory_source: where its NAR memory comes from: ``question`` (the
            question's own graph), ``decoy`` (another instance's of the same
            algorithm and size), ``blank`` (every state zero) or ``last-step``
            (every step's states the last step's).
        memory: the memory mode it reads, whatever the run's ``lm.model.memory``
            (None: the run's).
        index_hints: whether it learns and answers CLRS-Text with index hints
            (its own data, the same questions).
        shift_markers: with ``index_hints``, whether the markers of its training
            examples start at a letter drawn per example (``lm.data.shift_markers``:
            every marker is seen in training, not only those of the training
            sizes); its evaluation's questions are the other hinted arms', from ``a``.
        distill: for a student (trained on its seed's TransNAR's answers:
            distillation; the baseline's architecture, no NAR), the name of
            the stage and directory of those answers (``<distill>-s<seed>``);
            None for the other arms.
        distill_at_test_sizes: a student whose questions are also drawn at
            the evaluation sizes (the teacher needs no labels; the evaluation's
            questions are other instances), besides the ``distill`` section's.
        distributions: a student that learns its seed's TransNAR's next-token
            distributions on the run's own data, besides their answers
            (token-level distillation: ``lm.teacher``'s weight and temperature;
            the baseline's architecture, no NAR).
    """

    name: str
    label: str
    description: str
    use_nar: bool = True
    memory_source: str = "question"
    memory: str | None = None
    index_hints: bool = False
    shift_markers: bool = False
    distill: str | None = None
    distill_at_test_sizes: bool = False
    distributions: bool = False

    @property
    def student(self) -> bool:
        """Whether it learns from its seed's TransNAR (distillation): from its
        answers, or from its distributions."""
        return self.distill is not None or self.distributions

    def model_changes(self) -> dict[str, object]:
        """What it sets in the run's model config (``lm.model``; a
        :class:`~transnar.model.TransNARConfig`'s fields): ``use_nar``,
        ``memory_source`` and, for a memory arm, ``memory``."""
        changes: dict[str, object] = {"use_nar": self.use_nar, "memory_source": self.memory_source}
        if self.memory is not None:
            changes["memory"] = self.memory
        return changes


def _memory_arm(mode: str) -> Arm:
    return Arm(
        f"transnar-{mode}",
        f"TransNAR ({mode})",
        f"TransNAR reading the NAR's memory in mode {mode}",
        memory=mode,
    )


ARMS: tuple[Arm, ...] = (
    Arm("baseline", "baseline", "the baseline (the Transformer alone)", use_nar=False),
    Arm(
        "control",
        "control",
        "the control (TransNAR's architecture reading the NAR memory of another question "
        "of the same algorithm and size: its memory tells nothing about its question)",
        memory_source="decoy",
    ),
    Arm(
        "control-blank",
        "control (blank memory)",
        "the second control (TransNAR's architecture reading a blank memory: the same "
        "shapes and masks, every state zero)",
        memory_source="blank",
    ),
    Arm("transnar", "TransNAR", "TransNAR"),
    *map(_memory_arm, ("final", "lockstep", "all", "pooled")),
    Arm(
        "transnar-all-last",
        "TransNAR (all, last step only)",
        "the control of the all-steps memory (TransNAR reading its memory in mode all, "
        "every step's states replaced by the last step's: the same slots and step "
        "encodings, no intermediate state)",
        memory="all",
        memory_source="last-step",
    ),
    Arm(
        "baseline-hints",
        "baseline (index hints)",
        "the baseline with index hints (its own data with index markers, the same questions)",
        use_nar=False,
        index_hints=True,
    ),
    Arm(
        "transnar-hints",
        "TransNAR (index hints)",
        "TransNAR with index hints (its own data with index markers, the same questions)",
        index_hints=True,
    ),
    Arm(
        "baseline-hints-shifted",
        "baseline (index hints, shifted)",
        "the baseline with shifted index hints (its own data with index markers that start "
        "at a letter drawn per training example, so that it sees every marker; evaluated on "
        "the same hinted questions, marked from a)",
        use_nar=False,
        index_hints=True,
        shift_markers=True,
    ),
    Arm(
        "transnar-hints-shifted",
        "TransNAR (index hints, shifted)",
        "TransNAR with shifted index hints (its own data with index markers that start at a "
        "letter drawn per training example; evaluated on the same hinted questions, marked "
        "from a)",
        index_hints=True,
        shift_markers=True,
    ),
    Arm(
        "student",
        "student",
        "the student (the baseline's architecture, with no NAR, trained on its seed's "
        "TransNAR's answers: distillation)",
        use_nar=False,
        distill="distill",
    ),
    Arm(
        "student-wide",
        "student (test sizes too)",
        "the wide student (the student, with its questions drawn at the evaluation sizes "
        "too: the teacher needs no labels, and the evaluation asks other instances)",
        use_nar=False,
        distill="distill-wide",
        distill_at_test_sizes=True,
    ),
    Arm(
        "student-soft",
        "student (distributions)",
        "the soft student (the baseline's architecture, with no NAR, trained on the "
        "baseline's data for the same steps, its loss mixing the answers' cross-entropy "
        "with the KL divergence from its seed's TransNAR's next-token distributions: "
        "token-level distillation)",
        use_nar=False,
        distributions=True,
    ),
)
"""The arms, in training order within a seed."""

ARM_NAMES: tuple[str, ...] = tuple(arm.name for arm in ARMS)
"""Their names, in training order."""

ARMS_BY_NAME: Mapping[str, Arm] = MappingProxyType({arm.name: arm for arm in ARMS})
"""Name -> :class:`Arm`."""

TEACHER = "transnar"
"""The arm whose answers a student learns (of the same seed)."""


def get_arm(name: str) -> Arm:
    """The arm of that name; a ``ValueError`` naming the arms for another."""
    try:
        return ARMS_BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown arm {name!r} (arms: {', '.join(ARM_NAMES)})") from None


__all__ = ["ARMS", "ARMS_BY_NAME", "ARM_NAMES", "TEACHER", "Arm", "get_arm"]
