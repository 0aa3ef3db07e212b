"""Training TransNAR and its Transformer-only baseline on CLRS-Text.

- :mod:`~transnar.training.config`: :class:`LMTrainConfig` (model, NAR source,
  data, optimisation, run options), the presets ``tiny``, ``small`` and
  ``paper``, and ``key=value`` overrides;
- :mod:`~transnar.training.loop`: :func:`train`, one loop for both models, with
  exact resume; its pieces (:func:`learning_rate`, :func:`make_optimizer`,
  :func:`estimate_loss`, ...) are plain functions.

The data pipeline is :mod:`transnar.data`.
"""

from transnar.training.config import (
    PRESETS,
    LMTrainConfig,
    NARSource,
    OptimConfig,
    RunOptions,
    apply_overrides,
    preset,
)
from transnar.training.loop import (
    TrainResult,
    build_model,
    estimate_loss,
    learning_rate,
    make_optimizer,
    read_checkpoint,
    state_sha256,
    train,
    train_step,
)

__all__ = [
    "PRESETS",
    "LMTrainConfig",
    "NARSource",
    "OptimConfig",
    "RunOptions",
    "TrainResult",
    "apply_overrides",
    "build_model",
    "estimate_loss",
    "learning_rate",
    "make_optimizer",
    "preset",
    "read_checkpoint",
    "state_sha256",
    "train",
    "train_step",
]
