"""The LM trainer's pieces: its model and frozen NAR, its optimizer and schedule.

Plain functions (nanoGPT's habit), each testable alone: :func:`learning_rate`
(linear warm-up, then cosine), :func:`total_steps`, :func:`make_optimizer`
(AdamW, weight decay on matrices only), :func:`build_model` (the language model
first, so that a TransNAR and a baseline of one seed start alike),
:func:`obtain_nar` (the frozen NAR: loaded, or trained for the run) and
:func:`state_sha256` (the NAR's fingerprint in checkpoints and summaries).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from transnar.lm.builders import build_language_model
from transnar.lm.hf import pretrained_lm_config
from transnar.lm.tokenizer import Tokenizer
from transnar.model import TransNAR, with_nar_widths
from transnar.nar.model import NAR
from transnar.persistence import CheckpointError
from transnar.training.checkpoint import checkpoint_path
from transnar.training.lm_config import LMTrainConfig
from transnar.training.nar import RESULTS, train_nar
from transnar.training.nar_checkpoint import load_nar
from transnar.training.nar_config import apply_overrides as nar_overrides
from transnar.training.nar_config import preset as nar_preset

NAR_DIR = "nar"
"""Where the LM run trains its NAR, in the run directory (without ``nar.checkpoint``)."""


def learning_rate(step: int, config: LMTrainConfig, total_steps: int) -> float:
    """The learning rate of update ``step`` (0-based) of ``total_steps``.

    Linear warm-up to ``train.learning_rate`` over ``optim.warmup_steps`` (the
    first update at ``learning_rate / warmup_steps``), then a cosine decay to
    ``optim.min_learning_rate`` at the last update; ``min_learning_rate`` beyond.
    """
    optim = config.optim
    peak, floor, warmup = config.train.learning_rate, optim.min_learning_rate, optim.warmup_steps
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total_steps - 1 - warmup))
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak - floor)


def total_steps(config: LMTrainConfig, batches_per_epoch: int) -> int:
    """``train.steps``, or the steps ``optim.epochs`` epochs take."""
    if config.train.steps:
        return config.train.steps
    optim = config.optim
    return max(1, math.ceil(optim.epochs * batches_per_epoch / optim.grad_accum))


def make_optimizer(model: TransNAR, config: LMTrainConfig) -> torch.optim.AdamW:
    """AdamW over the trainable parameters only; weight decay on matrices only."""
    optim = config.optim
    parameters = model.trainable_parameters()
    decay = [p for p in parameters if p.dim() >= 2]
    no_decay = [p for p in parameters if p.dim() < 2]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": optim.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.train.learning_rate,
        betas=(optim.beta1, optim.beta2),
        eps=optim.eps,
    )


def build_model(config: LMTrainConfig, tokenizer: Tokenizer, nar: NAR | None) -> TransNAR:
    """The model, initialised from ``train.seed``.

    The language model is built first, so a TransNAR and a baseline of the same
    seed start from the same language-model weights (a pretrained one,
    ``model.lm.pretrained``, is loaded). The cross-attention reads the NAR's
    widths (:func:`resolve_nar_dims`).
    """
    config = resolve_nar_dims(resolve_pretrained_lm(config), nar)
    torch.manual_seed(config.train.seed)
    lm = build_language_model(config.model.lm, tokenizer)
    return TransNAR(config.model, lm, nar if config.use_nar else None)


def resolve_pretrained_lm(config: LMTrainConfig) -> LMTrainConfig:
    """The config with the architecture of the pretrained LM ``model.lm.pretrained``
    (:func:`transnar.lm.hf.pretrained_lm_config`); unchanged without one."""
    lm = config.model.lm
    if lm.pretrained is None:
        return config
    resolved = pretrained_lm_config(lm)
    if resolved == lm:
        return config
    return replace(config, model=replace(config.model, lm=resolved))


def resolve_nar_dims(config: LMTrainConfig, nar: NAR | None) -> LMTrainConfig:
    """The config with the cross-attention's memory widths set to the NAR's."""
    if nar is None:
        return config
    model = with_nar_widths(config.model, nar.config)
    return config if model == config.model else replace(config, model=model)


def obtain_nar(
    config: LMTrainConfig, run_dir: Path, device: torch.device, progress: bool | None = None
) -> NAR:
    """The frozen NAR: loaded from ``nar.checkpoint``, or trained into ``RUN_DIR/nar``
    with the NAR of the preset ``nar.preset`` on the data's algorithms (a finished NAR
    run there is reused; an interrupted one is resumed)."""
    source = config.nar
    if source.checkpoint is not None:
        path = Path(source.checkpoint)
    else:
        path = run_dir / NAR_DIR
        if not (path / RESULTS).is_file():
            changes: dict[str, Any] = {
                "algorithms": config.data.algorithms,
                "device": config.train.device,
                "threads": config.train.threads,
            }
            if source.train_steps:
                changes["steps"] = source.train_steps
            nar_config = nar_overrides(nar_preset(source.preset), changes)
            resume = checkpoint_path(path, "last").is_file()
            train_nar(nar_config, path, resume=resume, overwrite=not resume, progress=progress)
    nar = load_nar(path, device=device, freeze=True)
    missing = [a for a in config.data.algorithms if a not in nar.config.algorithms]
    if missing:
        raise CheckpointError(
            f"the NAR at {path} was not trained on {', '.join(missing)} (it knows "
            f"{', '.join(nar.config.algorithms)})"
        )
    return nar


def state_sha256(module: torch.nn.Module) -> str:
    """SHA-256 of a module's state dict (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


__all__ = [
    "NAR_DIR",
    "build_model",
    "learning_rate",
    "make_optimizer",
    "obtain_nar",
    "resolve_nar_dims",
    "resolve_pretrained_lm",
    "state_sha256",
    "total_steps",
]
