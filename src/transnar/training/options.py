"""The options every trainer has: the ``train`` section of both training configs.

The NAR's config (:class:`~transnar.training.nar_config.NARTrainConfig`) and the
language models' (:class:`~transnar.training.lm_config.LMTrainConfig`) each
hold one :class:`TrainOptions` as their ``train`` section, so that the same key
means the same thing in both: ``nar.train.steps`` and ``lm.train.steps`` in a
``transnar run`` config, ``train.steps`` (or ``steps``) for a trainer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from transnar._config import not_int

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainOptions:
    """How long, how fast and where a trainer runs.

    Attributes:
        seed: initialisation, data order, random positions and dropout.
        device: ``cpu`` or ``cuda[:K]``.
        threads: CPU threads torch may use (0: torch's default).
        precision: ``auto`` (bf16 autocast on CUDA, fp32 on CPU), ``fp32`` or
            ``bf16`` (autocast on any device), in the training steps.
        steps: optimizer steps (the language models: 0 takes as many as
            ``optim.epochs`` take; the NAR needs at least one).
        batch_size: examples per optimizer step.
        learning_rate: the (peak) learning rate.
        grad_clip: global norm the gradients are clipped to (0: no clipping).
        eval_every: validate and checkpoint every this many steps (and at the end).
        eval_batch_size: examples per validation batch.
    """

    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    precision: str = "auto"
    steps: int = 0
    batch_size: int = 32
    learning_rate: float = 1e-3
    grad_clip: float = 1.0
    eval_every: int = 100
    eval_batch_size: int = 64

    def __post_init__(self):
        if not_int(self.seed) or not 0 <= self.seed < 2**32:
            raise ValueError(f"train.seed must be an integer in [0, 2**32), got {self.seed!r}")
        if not_int(self.threads) or self.threads < 0:
            raise ValueError(f"train.threads must be an integer >= 0, got {self.threads!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"train.precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not_int(self.steps) or self.steps < 0:
            raise ValueError(f"train.steps must be an integer >= 0, got {self.steps!r}")
        for name in ("batch_size", "eval_every", "eval_batch_size"):
            if not_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(
                    f"train.{name} must be an integer >= 1, got {getattr(self, name)!r}"
                )
        if not self.learning_rate > 0:
            raise ValueError(f"train.learning_rate must be positive, got {self.learning_rate}")
        if not self.grad_clip >= 0:
            raise ValueError(f"train.grad_clip must be >= 0 (0: no clipping), got {self.grad_clip}")
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"train.device must be 'cpu' or 'cuda[:K]', got {self.device!r}"
            ) from None


__all__ = ["PRECISIONS", "TrainOptions"]
