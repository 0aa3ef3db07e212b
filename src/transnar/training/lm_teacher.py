"""Token-level distillation: the loss of a model that learns a frozen teacher's
next-token distributions besides its data's answers (Hinton et al. 2015).

A training run with ``teacher.model`` set (:class:`~transnar.training.lm_config.TeacherSource`)
loads the teacher once (:meth:`Teacher.load`: a saved TransNAR, with its NAR,
in evaluation mode, never updated) and, in every micro-batch, runs it on the
same tokens at the same positions (a TransNAR teacher reads its own NAR memory
of each example, so the examples carry their graphs); the model's loss mixes
the answers' cross-entropy with :func:`distillation_loss`, the KL divergence
from the teacher's distributions to the model's over the answer tokens only
(the step: :func:`~transnar.training.lm_step.distilled_loss`). The student of the paper's third
future-work direction is a baseline (no NAR) with a TransNAR teacher: it needs
no graph at inference.

Shapes: ``B`` batch, ``T`` tokens, ``V`` vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from transnar.lm.tokenizer import IGNORE_INDEX, Tokenizer
from transnar.model import TransNAR
from transnar.persistence import CheckpointError
from transnar.training.lm_batches import training_positions
from transnar.training.lm_config import TeacherSource
from transnar.training.lm_dataset import LMBatch
from transnar.training.lm_model import state_sha256


class Teacher:
    """A frozen model whose next-token distributions a model learns.

    Args:
        model: the teacher (evaluation mode; its parameters are never updated).
        source: the weight and temperature of its term.
    """

    def __init__(self, model: TransNAR, source: TeacherSource):
        self.model = model.eval()
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        self.weight = source.weight
        self.temperature = source.temperature
        self.sha256 = state_sha256(model)  # identifies it when a run resumes

    @classmethod
    def load(cls, source: TeacherSource, device: torch.device | str) -> Teacher:
        """The teacher of ``source.model`` (a ``save_pretrained`` directory or a
        training run holding one in ``model/``), on ``device``.

        Raises:
            CheckpointError: no saved model there, or a corrupt one.
        """
        from transnar.evaluation.answering import load_model

        if source.model is None:
            raise ValueError("teacher.model names no teacher")
        try:
            model, _ = load_model(source.model, device)
        except ValueError as error:
            raise CheckpointError(f"teacher.model: {error}") from None
        return cls(model, source)

    @property
    def uses_nar(self) -> bool:
        """Whether it reads a NAR memory (its examples then need their graphs)."""
        return self.model.config.use_nar

    def check_compatible(
        self, tokenizer: Tokenizer, max_position: int, algorithms: Sequence[str]
    ) -> None:
        """Refuses a teacher whose vocabulary is not ``tokenizer``'s (the
        distributions would not match token for token), whose positions stop
        before ``max_position`` (it could not read the model's positions), or
        whose NAR does not know all the data's ``algorithms``.

        Raises:
            ValueError: naming what differs.
        """
        theirs = self.model.tokenizer
        if theirs is None or _vocabulary(theirs) != _vocabulary(tokenizer):
            raise ValueError(
                "the teacher's tokenizer is not the model's: token-level distillation needs "
                "the same vocabulary (train the student with the teacher's tokenizer)"
            )
        if self.model.max_position < max_position:
            raise ValueError(
                f"the teacher reads positions below {self.model.max_position}, the model "
                f"below {max_position}: give the student model.lm.max_position="
                f"{self.model.max_position} or less"
            )
        known = self.model.nar.config.algorithms if self.uses_nar else algorithms
        missing = [a for a in algorithms if a not in known]
        if missing:
            raise ValueError(
                f"the teacher's NAR was not trained on {', '.join(missing)} (it knows "
                f"{', '.join(known)})"
            )

    def positions(
        self,
        batch: LMBatch,
        drawn: torch.Tensor | None,
        generator: torch.Generator | None,
    ) -> torch.Tensor | None:
        """``(B, T)`` the positions it reads the batch at: the model's ``drawn``
        ones when it answers at random positions itself (its own, drawn from
        ``generator``, when the model draws none), else None (``0, 1, ...``)."""
        if not self.model.uses_random_positions():
            return None
        if drawn is not None:
            return drawn
        return training_positions(batch.attention_mask, self.model.max_position, generator)


def distillation_loss(
    logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float = 1.0,
) -> torch.Tensor:
    """``temperature**2`` times the mean, over the answer tokens, of
    ``KL(teacher || model)`` between the two next-token distributions at
    ``temperature`` (the square keeps the gradients' scale as the temperature
    changes: Hinton et al. 2015). Computed in float32.

    Args:
        logits: ``(B, T, V)`` the model's; position ``t`` predicts token ``t + 1``.
        teacher_logits: ``(B, T, V)`` the teacher's, on the same tokens.
        labels: ``(B, T)`` aligned with the inputs; the positions whose next
            label is :data:`IGNORE_INDEX` (prompt, padding) do not count.
        temperature: both softmaxes' temperature (> 0).

    Returns:
        A scalar tensor (0 when the batch has no answer token).
    """
    answer = labels[:, 1:] != IGNORE_INDEX  # (B, T - 1)
    if not answer.any():
        return logits.sum() * 0.0
    mine = F.log_softmax(logits[:, :-1][answer].float() / temperature, dim=-1)  # (A, V)
    theirs = F.log_softmax(teacher_logits[:, :-1][answer].float() / temperature, dim=-1)
    divergence = F.kl_div(mine, theirs, log_target=True, reduction="batchmean")
    return divergence * temperature**2


def _vocabulary(tokenizer: Tokenizer) -> list[str]:
    """Every token id's text, in order (special tokens included)."""
    return [tokenizer.decode([i], skip_special_tokens=False) for i in range(len(tokenizer))]


__all__ = ["Teacher", "distillation_loss"]
