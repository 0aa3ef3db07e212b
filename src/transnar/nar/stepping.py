"""How many processor steps the NAR runs on an instance, and where it stops.

Three modes (``STEP_MODES``):

- ``learned`` (leak-free; the default inside TransNAR): each sample stops at
  the first step where the NAR's termination head predicts "done" (logit
  above 0), and at the latest at its step budget;
- ``budget`` (leak-free): each sample runs its whole step budget and is read
  at its last step;
- ``oracle`` (the CLRS protocol): each sample runs to its true trajectory
  length (``length - 1`` steps, outputs at step ``length - 2``). The length
  comes from the classical algorithm's run, so it is information about the
  answer (for the string matchers the length alone gives the match away):
  use it for NAR-only evaluation against the literature and for ablations,
  never as the default inside TransNAR.

The **step budget** of a sample depends on its algorithm and node count only:
:func:`transnar.clrs.bounds.length_bound` ``- 1`` processor steps.

In the leak-free modes the NAR reads the batch's inputs, the step-0 hints
(computed from the inputs alone, :func:`transnar.clrs.execute.initial_state`)
and the node mask; never the lengths, the outputs or the hints after step 0.
"""

from __future__ import annotations

import torch

from transnar.clrs.bounds import length_bound

STEP_MODES = ("learned", "budget", "oracle")
STEP_DESCRIPTIONS = {
    "learned": "learned termination, capped by a step budget per algorithm and size (leak-free)",
    "budget": "a fixed step budget per algorithm and size (leak-free)",
    "oracle": "the true trajectory length (CLRS protocol; reads the answer's length)",
}


def check_step_mode(mode: str, name: str = "steps") -> str:
    """``mode`` if it is one of :data:`STEP_MODES`, else a ``ValueError`` naming ``name``."""
    if mode not in STEP_MODES:
        raise ValueError(f"{name} must be one of {', '.join(STEP_MODES)}, got {mode!r}")
    return mode


def step_budget(algorithm: str, node_mask: torch.Tensor) -> torch.Tensor:
    """``(B,)`` int64: the processor steps each sample may run, from its node count.

    Args:
        algorithm: the batch's algorithm.
        node_mask: ``(B, N)`` bool, True on real nodes.
    """
    counts = node_mask.sum(dim=1).tolist()
    budgets = [length_bound(algorithm, int(n)) - 1 for n in counts]
    return torch.tensor(budgets, dtype=torch.long, device=node_mask.device)


__all__ = [
    "STEP_DESCRIPTIONS",
    "STEP_MODES",
    "check_step_mode",
    "step_budget",
]
