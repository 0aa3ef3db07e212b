"""Configuration of a TransNAR (or baseline) training run: sections, presets, overrides.

An :class:`LMTrainConfig` composes one dataclass per component (lingua style):

- ``model``: :class:`~transnar.model.TransNARConfig` (its ``lm`` the
  :class:`~transnar.lm.LMConfig`); ``model.use_nar=false`` is the baseline;
  ``model.lm.pretrained=<Hugging Face model id or directory>`` fine-tunes that
  pretrained LM instead of a new one (:mod:`transnar.lm.hf`, the ``hf`` extra);
- ``nar``: :class:`NARSource`, where the frozen NAR comes from;
- ``data``: :class:`~transnar.training.lm_data.DataConfig`, the CLRS-Text examples;
- ``optim``: :class:`OptimConfig`, AdamW, schedule, batch, length of the run;
- ``train``: :class:`RunOptions`, seed, device, precision, validation.

Presets (:func:`preset`): ``tiny`` (seconds), ``small`` (tens of minutes on a
CPU) and ``paper`` (Bounsi et al. 2024, ``DESIGN.md`` §8). One-off changes are
``key=value`` overrides (:func:`apply_overrides`): a field's dotted path or any
unambiguous tail of it, e.g. ``steps=200``, ``lm.d_model=64``,
``data.train_sizes=4,5,6``, ``use_nar=false``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import torch

from transnar import _config
from transnar._config import not_int
from transnar.clrs.specs import CLRS30_ALGORITHMS
from transnar.clrs.text.datasets import TRANSNAR_TRAIN_SIZES
from transnar.lm.config import LMConfig
from transnar.model import TransNARConfig
from transnar.training.lm_data import SMALL_ALGORITHMS, DataConfig

NAR_PRESETS = ("tiny", "small", "paper")  # transnar.training.nar_config.PRESETS
PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class NARSource:
    """Where the frozen NAR of a TransNAR run comes from.

    Attributes:
        checkpoint: a NAR checkpoint (``.pt``) or NAR run directory (its best
            checkpoint). None: train one into ``RUN_DIR/nar`` first, with the
            NAR preset ``preset`` restricted to the data's algorithms.
        preset: the NAR preset trained when ``checkpoint`` is None.
        train_steps: its training steps (0: the preset's).
        cache_memory: compute every example's NAR embeddings once, before
            training, instead of running the NAR in every step (same numbers;
            costs memory, see :mod:`transnar.training.lm_data`).
    """

    checkpoint: str | None = None
    preset: str = "tiny"
    train_steps: int = 0
    cache_memory: bool = False

    def __post_init__(self):
        if self.preset not in NAR_PRESETS:
            raise ValueError(f"nar.preset must be one of {NAR_PRESETS}, got {self.preset!r}")
        if not_int(self.train_steps) or self.train_steps < 0:
            raise ValueError(f"nar.train_steps must be an integer >= 0, got {self.train_steps!r}")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW, its schedule, the batch and the length of the run.

    Attributes:
        learning_rate: the peak learning rate.
        min_learning_rate: where the cosine ends.
        warmup_steps: linear warm-up steps (from ``learning_rate / warmup_steps``).
        weight_decay: AdamW's decoupled weight decay, on matrices only
            (parameters with ``dim() >= 2``; not on norms, gates or biases).
        beta1, beta2, eps: AdamW's.
        grad_clip: global norm the gradients are clipped to (0: no clipping).
        batch_size: examples per optimizer step.
        grad_accum: micro-batches per step (``batch_size / grad_accum`` examples
            each, one forward and backward each; the loss is the mean over the
            step's answer tokens either way).
        epochs: passes over the training set (when ``steps`` is 0).
        steps: optimizer steps (0: as many as ``epochs`` take).
    """

    learning_rate: float = 1e-3
    min_learning_rate: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    grad_clip: float = 1.0
    batch_size: int = 32
    grad_accum: int = 1
    epochs: int = 1
    steps: int = 0

    def __post_init__(self):
        if not self.learning_rate > 0:
            raise ValueError(f"optim.learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.min_learning_rate <= self.learning_rate:
            raise ValueError(
                f"optim.min_learning_rate must be in [0, learning_rate], got "
                f"{self.min_learning_rate}"
            )
        for name in ("warmup_steps", "steps"):
            if not_int(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"optim.{name} must be an integer >= 0, got {getattr(self, name)}")
        for name in ("batch_size", "grad_accum", "epochs"):
            if not_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"optim.{name} must be an integer >= 1, got {getattr(self, name)}")
        if self.batch_size % self.grad_accum:
            raise ValueError(
                f"optim.batch_size ({self.batch_size}) must be a multiple of grad_accum "
                f"({self.grad_accum})"
            )
        if not self.weight_decay >= 0:
            raise ValueError(f"optim.weight_decay must be >= 0, got {self.weight_decay}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and self.eps > 0):
            raise ValueError("optim.beta1 and beta2 must be in [0, 1), eps positive")
        if not self.grad_clip >= 0:
            raise ValueError(f"optim.grad_clip must be >= 0 (0: no clipping), got {self.grad_clip}")

    @property
    def micro_batch_size(self) -> int:
        return self.batch_size // self.grad_accum


@dataclass(frozen=True)
class RunOptions:
    """How the run executes.

    Attributes:
        seed: initialisation, shuffling, random positions and dropout.
        device: ``cpu`` or ``cuda[:K]``.
        threads: CPU threads torch may use (0: torch's default).
        precision: ``auto`` (bf16 autocast on CUDA, fp32 on CPU), ``fp32`` or
            ``bf16`` (autocast on any device).
        eval_every: validate and checkpoint every this many steps (and at the end).
        eval_batch_size: examples per validation batch.
    """

    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    precision: str = "auto"
    eval_every: int = 100
    eval_batch_size: int = 64

    def __post_init__(self):
        if not_int(self.seed) or not 0 <= self.seed < 2**32:
            raise ValueError(f"train.seed must be an integer in [0, 2**32), got {self.seed!r}")
        if not_int(self.threads) or self.threads < 0:
            raise ValueError(f"train.threads must be an integer >= 0, got {self.threads!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"train.precision must be one of {PRECISIONS}, got {self.precision!r}")
        for name in ("eval_every", "eval_batch_size"):
            if not_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be an integer >= 1, got {getattr(self, name)}")
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"train.device must be 'cpu' or 'cuda[:K]', got {self.device!r}"
            ) from None


# Fields that may change when a run is resumed: they change neither the data
# nor the updates (a moved NAR checkpoint must hold the same weights: the
# resumed run checks their hash).
RESUMABLE_CHANGES = (
    "train.device",
    "train.threads",
    "train.eval_every",
    "train.eval_batch_size",
    "nar.checkpoint",
)


# Data options serialised only when they differ from their default (option -> default):
# configs, run directories and stage hashes made before they existed stay as they were.
OPTIONAL_DATA_KEYS: Mapping[str, Any] = MappingProxyType({"index_hints": False})


@dataclass(frozen=True)
class LMTrainConfig:
    """Everything that defines a TransNAR or baseline training run (see the module docstring)."""

    model: TransNARConfig = field(default_factory=TransNARConfig)
    nar: NARSource = field(default_factory=NARSource)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: RunOptions = field(default_factory=RunOptions)

    def __post_init__(self):
        limit = self.data.max_tokens
        # a pretrained LM's max_position is read from it when the run starts
        unresolved = self.model.lm.pretrained is not None
        if limit is not None and not unresolved and limit > self.model.lm.max_position:
            raise ValueError(
                f"data.max_tokens ({limit}) exceeds model.lm.max_position "
                f"({self.model.lm.max_position})"
            )

    @property
    def use_nar(self) -> bool:
        return self.model.use_nar

    def to_dict(self) -> dict:
        """JSON-serialisable: ``{"model": {..., "lm": {...}}, "nar": ..., "data": ...}``
        (``data`` without the :data:`OPTIONAL_DATA_KEYS` left at their default)."""
        return {
            "model": self.model.to_dict(),
            "nar": dataclasses.asdict(self.nar),
            "data": _lists(_without_defaults(dataclasses.asdict(self.data), OPTIONAL_DATA_KEYS)),
            "optim": dataclasses.asdict(self.optim),
            "train": dataclasses.asdict(self.train),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> LMTrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are errors naming them.

        A ``transnar_version`` entry (written into ``config.json``) is ignored.
        """
        sections = {"model", "nar", "data", "optim", "train"}
        unknown = sorted(set(data) - sections - {"transnar_version"})
        if unknown:
            raise ValueError(f"unknown config section(s) {unknown} (known: {sorted(sections)})")
        classes = {"nar": NARSource, "data": DataConfig, "optim": OptimConfig, "train": RunOptions}
        parts: dict[str, Any] = {}
        for name, section_cls in classes.items():
            values = dict(data.get(name, {}))
            known = {f.name for f in dataclasses.fields(section_cls)}
            extra = sorted(set(values) - known)
            if extra:
                raise ValueError(f"unknown {name} config key(s) {extra} (known: {sorted(known)})")
            parts[name] = section_cls(**values)
        return cls(model=TransNARConfig.from_dict(dict(data.get("model", {}))), **parts)

    def differences(self, other: LMTrainConfig) -> list[str]:
        """The dotted keys (``optim.steps``) whose values differ from ``other``'s."""
        mine, theirs = _config.flatten(self.to_dict()), _config.flatten(other.to_dict())
        return sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))


def _without_defaults(values: dict, defaults: Mapping[str, Any]) -> dict:
    """``values`` without the ``defaults`` keys that hold their default."""
    return {k: v for k, v in values.items() if k not in defaults or v != defaults[k]}


def _lists(values: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def apply_overrides(
    config: LMTrainConfig, overrides: Iterable[str] | Mapping[str, Any]
) -> LMTrainConfig:
    """The config with ``key=value`` overrides applied.

    Keys are dotted paths (``model.lm.d_model``, ``optim.steps``) or any
    unambiguous tail (``d_model``, ``lm.d_model``, ``steps``); values are parsed
    by the field's type (integers, floats, ``true``/``false``, strings, ``none``,
    comma-separated lists, ``algorithms=all``). A mapping gives typed values.

    Raises:
        ValueError: a malformed item, an unknown or ambiguous key, a value that
            does not parse, or a config that fails validation.
    """
    return _config.apply_overrides(config, overrides)


# --- presets ----------------------------------------------------------------------


def _tiny() -> LMTrainConfig:
    """Seconds: 2 algorithms at sizes 4 and 5 (32 each), a 2-layer d=32 model, 4 epochs (64
    steps)."""
    lm = LMConfig(d_model=32, n_layers=2, n_heads=4, max_position=256)
    return LMTrainConfig(
        model=TransNARConfig(lm=lm),
        nar=NARSource(preset="tiny"),
        data=DataConfig(
            algorithms=("bfs", "insertion_sort"),
            train_sizes=(4, 5),
            train_count=32,
            val_count=8,
            test_sizes=(5, 6),
            test_count=8,
            bucket_batches=2,
        ),
        optim=OptimConfig(
            learning_rate=3e-3, min_learning_rate=3e-4, warmup_steps=4, batch_size=8, epochs=4
        ),
        train=RunOptions(eval_every=16, eval_batch_size=32),
    )


def _small() -> LMTrainConfig:
    """Tens of minutes on a CPU: six algorithms of six families at sizes 4-8 (1,000
    each), a 4-layer d=128 model, 2 epochs; evaluation at 8 (in distribution), 10, 12."""
    lm = LMConfig(d_model=128, n_layers=4, n_heads=4, max_position=1024)
    return LMTrainConfig(
        model=TransNARConfig(lm=lm),
        nar=NARSource(preset="small"),
        data=DataConfig(
            algorithms=SMALL_ALGORITHMS,
            train_sizes=(4, 5, 6, 7, 8),
            train_count=1000,
            val_count=32,
            test_sizes=(8, 10, 12),
            test_count=100,
        ),
        optim=OptimConfig(
            learning_rate=1e-3,
            min_learning_rate=1e-4,
            warmup_steps=50,
            batch_size=32,
            epochs=2,
        ),
        train=RunOptions(eval_every=100, eval_batch_size=64),
    )


def _paper() -> LMTrainConfig:
    """Bounsi et al. 2024 (``DESIGN.md`` §8): the 30 algorithms at sizes 4-8 and 12,
    7,000 examples each (the ``transnar`` text preset's train split), a 6-layer
    d=640 model with 10 heads and L_max 8192, batch 256, Adam 1e-4, 7 epochs."""
    lm = LMConfig(d_model=640, n_layers=6, n_heads=10, max_position=8192)
    return LMTrainConfig(
        model=TransNARConfig(lm=lm),
        nar=NARSource(preset="paper"),
        data=DataConfig(
            algorithms=CLRS30_ALGORITHMS,
            train_sizes=TRANSNAR_TRAIN_SIZES,
            train_count=7000,
            # the first 100 of each (algorithm, size) of the transnar preset's val split
            val_count=100,
            test_sizes=(10, 12, 14),
            test_count=3000,
        ),
        # The paper's Adam: no weight decay; warm-up and schedule are not stated.
        optim=OptimConfig(
            learning_rate=1e-4,
            min_learning_rate=1e-5,
            warmup_steps=1000,
            weight_decay=0.0,
            batch_size=256,
            epochs=7,
        ),
        train=RunOptions(eval_every=1000, eval_batch_size=64),
    )


PRESETS = {"tiny": _tiny, "small": _small, "paper": _paper}
"""Preset name -> a function returning its :class:`LMTrainConfig`."""


def preset(name: str) -> LMTrainConfig:
    """The :class:`LMTrainConfig` of a preset (``tiny``, ``small`` or ``paper``)."""
    return _config.make_preset(PRESETS, name)


__all__ = [
    "OPTIONAL_DATA_KEYS",
    "PRESETS",
    "RESUMABLE_CHANGES",
    "LMTrainConfig",
    "NARSource",
    "OptimConfig",
    "RunOptions",
    "apply_overrides",
    "preset",
]
