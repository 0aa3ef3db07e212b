"""Training: one run infrastructure, and the NAR and language-model trainers plugged into it.

The infrastructure (each trainer supplies only its model, data, step and validation):

- :mod:`~transnar.training.loop`: a run's start or resume, the step loop,
  periodic validation, ``last.pt`` checkpoints with exact resume, logs
  (:class:`Trainer`, :func:`~transnar.training.loop.train_run`, :func:`run_steps`);
- :mod:`~transnar.training.checkpoint`: the checkpoint file format;
- :mod:`~transnar.training.options`: the options every trainer has
  (:class:`TrainOptions`, the ``train`` section of both configs);
- :mod:`~transnar.training.runs`: run directories, ``metrics.jsonl``,
  ``train.log``, device, threads and precision;
- :mod:`~transnar.training.distributed`: data-parallel processes.

The trainers:

- the NAR: :mod:`~transnar.training.nar` (:func:`train_nar`), its config
  (:mod:`~transnar.training.nar_config`), data (:mod:`~transnar.training.nar_data`)
  and checkpoints (:mod:`~transnar.training.nar_checkpoint`, :func:`load_nar`);
- TransNAR and its Transformer-only baseline: :mod:`~transnar.training.lm`
  (:func:`train_lm`), its config (:mod:`~transnar.training.lm_config`:
  :class:`LMTrainConfig`, presets, ``key=value`` overrides), data
  (:mod:`~transnar.training.lm_data`, :mod:`~transnar.training.lm_dataset`,
  :mod:`~transnar.training.lm_batches`), step and validation loss
  (:mod:`~transnar.training.lm_step`), token-level distillation from a teacher
  (:mod:`~transnar.training.lm_teacher`; the config's :class:`TeacherSource`) and
  pieces (:mod:`~transnar.training.lm_model`: :func:`learning_rate`,
  :func:`make_optimizer`, :func:`build_model`, ...);
- distillation on a teacher's answers: :mod:`~transnar.training.distill`.

Imports: ``clrs``, ``nar``, ``lm``, ``model`` and ``evaluation`` (the NAR's
scoring; a teacher's loading and answers); never ``pipeline`` or ``cli``.
"""

from transnar.training.lm import LMTrainResult, read_lm_checkpoint, train_lm
from transnar.training.lm_config import (
    LMTrainConfig,
    NARSource,
    OptimConfig,
    TeacherSource,
    apply_overrides,
    preset,
)
from transnar.training.lm_model import build_model, learning_rate, make_optimizer, state_sha256
from transnar.training.lm_step import estimate_loss, lm_train_step
from transnar.training.loop import Trainer, Validation, run_steps
from transnar.training.nar import NARTrainResult, train_nar
from transnar.training.nar_checkpoint import load_nar
from transnar.training.options import TrainOptions

__all__ = [
    "LMTrainConfig",
    "LMTrainResult",
    "NARSource",
    "NARTrainResult",
    "OptimConfig",
    "TeacherSource",
    "TrainOptions",
    "Trainer",
    "Validation",
    "apply_overrides",
    "build_model",
    "estimate_loss",
    "learning_rate",
    "lm_train_step",
    "load_nar",
    "make_optimizer",
    "preset",
    "read_lm_checkpoint",
    "run_steps",
    "state_sha256",
    "train_lm",
    "train_nar",
]
