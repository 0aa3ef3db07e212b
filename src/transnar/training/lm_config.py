"""Configuration of a TransNAR (or baseline) training run: sections, presets, overrides.

An :class:`LMTrainConfig` composes one dataclass per component (lingua style):

- ``model``: :class:`~transnar.model.TransNARConfig` (its ``lm`` the
  :class:`~transnar.lm.LMConfig`); ``model.use_nar=false`` is the baseline;
  ``model.lm.pretrained=<Hugging Face model id or directory>`` fine-tunes that
  pretrained LM instead of a new one (:mod:`transnar.lm.hf`, the ``hf`` extra);
- ``nar``: :class:`NARSource`, where the frozen NAR comes from;
- ``data``: :class:`~transnar.training.lm_data.DataConfig`, the CLRS-Text examples;
- ``optim``: :class:`OptimConfig`, AdamW's schedule and settings, micro-batches, epochs;
- ``teacher``: :class:`TeacherSource`, a saved model whose next-token
  distributions the model also learns (token-level distillation; none by default);
- ``train``: :class:`~transnar.training.options.TrainOptions`, the options every
  trainer has: seed, device, threads, precision, steps, batch, learning rate,
  clipping, validation.

Presets (:func:`preset`): the ``lm`` sections of the packaged presets of
``transnar run`` (:mod:`transnar._config`): ``tiny`` (a minute), ``small``
(tens of minutes on a CPU), ``clrs30`` (the 30 algorithms on a CPU) and
``paper`` (Bounsi et al. 2024, ``DESIGN.md`` §8). One-off changes are
``key=value`` overrides (:func:`apply_overrides`): a field's dotted path or any
unambiguous tail of it, e.g. ``steps=200``, ``lm.d_model=64``,
``data.train_sizes=4,5,6``, ``use_nar=false``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from transnar import _config
from transnar._config import PRESET_NAMES, not_int
from transnar.model import TransNARConfig
from transnar.training.lm_data import DataConfig
from transnar.training.options import TrainOptions


@dataclass(frozen=True)
class NARSource:
    """Where the frozen NAR of a TransNAR run comes from.

    Attributes:
        checkpoint: a NAR checkpoint (``.pt``) or NAR run directory (its best
            checkpoint). None: train one into ``RUN_DIR/nar`` first, with the
            NAR preset ``preset`` restricted to the data's algorithms.
        preset: the preset whose NAR (its ``nar`` section) is trained when
            ``checkpoint`` is None.
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
        if self.preset not in PRESET_NAMES:
            raise ValueError(f"nar.preset must be one of {PRESET_NAMES}, got {self.preset!r}")
        if not_int(self.train_steps) or self.train_steps < 0:
            raise ValueError(f"nar.train_steps must be an integer >= 0, got {self.train_steps!r}")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW, its schedule, micro-batches and epochs (the peak learning rate,
    the batch, the steps and the clipping are the ``train`` section's).

    Attributes:
        min_learning_rate: where the cosine ends.
        warmup_steps: linear warm-up steps (from ``learning_rate / warmup_steps``).
        weight_decay: AdamW's decoupled weight decay, on matrices only
            (parameters with ``dim() >= 2``; not on norms, gates or biases).
        beta1, beta2, eps: AdamW's.
        grad_accum: micro-batches per step (``batch_size / grad_accum`` examples
            each, one forward and backward each; the loss is the mean over the
            step's answer tokens either way).
        epochs: passes over the training set (when ``train.steps`` is 0).
    """

    min_learning_rate: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    grad_accum: int = 1
    epochs: int = 1

    def __post_init__(self):
        if not self.min_learning_rate >= 0:
            raise ValueError(f"optim.min_learning_rate must be >= 0, got {self.min_learning_rate}")
        if not_int(self.warmup_steps) or self.warmup_steps < 0:
            raise ValueError(f"optim.warmup_steps must be an integer >= 0, got {self.warmup_steps}")
        for name in ("grad_accum", "epochs"):
            if not_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"optim.{name} must be an integer >= 1, got {getattr(self, name)}")
        if not self.weight_decay >= 0:
            raise ValueError(f"optim.weight_decay must be >= 0, got {self.weight_decay}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1 and self.eps > 0):
            raise ValueError("optim.beta1 and beta2 must be in [0, 1), eps positive")


@dataclass(frozen=True)
class TeacherSource:
    """Token-level distillation (Hinton et al. 2015): a frozen, saved model (a
    TransNAR, typically) whose next-token distributions the model learns on
    every answer token, besides the data's answers
    (:mod:`transnar.training.lm_teacher`). The loss is
    ``(1 - weight) * CE(answer) + weight * temperature**2 * KL(teacher || model)``,
    both distributions at ``temperature``; the validation loss stays the
    answers' cross-entropy alone, comparable with any other run's.

    Attributes:
        model: the teacher: a directory written by ``save_pretrained`` or a
            training run holding one in ``model/``. None: no teacher (the default).
            Its tokenizer must be the model's; it reads its own NAR memory of
            each example (the examples then carry their graphs).
        weight: the share of the distillation term in the loss, in (0, 1]
            (1: the teacher's distributions alone).
        temperature: both distributions' softmax temperature (> 0; above 1
            flattens them, so that the teacher's second choices count).
    """

    model: str | None = None
    weight: float = 0.5
    temperature: float = 2.0

    def __post_init__(self):
        if not 0 < self.weight <= 1:
            raise ValueError(f"teacher.weight must be in (0, 1], got {self.weight!r}")
        if not self.temperature > 0:
            raise ValueError(f"teacher.temperature must be > 0, got {self.temperature!r}")


# Fields that may change when a run is resumed: they change neither the data
# nor the updates (a moved NAR checkpoint must hold the same weights, moved data
# the same examples: the resumed run checks their hashes).
RESUMABLE_CHANGES = (
    "train.device",
    "train.threads",
    "train.eval_every",
    "train.eval_batch_size",
    "nar.checkpoint",
    "data.path",
    "teacher.model",  # checked by the hash of its weights
)


# Data options serialised only when they differ from their default (option -> default):
# configs, run directories and stage hashes made before they existed stay as they were.
OPTIONAL_DATA_KEYS: Mapping[str, Any] = MappingProxyType(
    {"index_hints": False, "shift_markers": False}
)


@dataclass(frozen=True)
class LMTrainConfig:
    """Everything that defines a TransNAR or baseline training run (see the module docstring)."""

    model: TransNARConfig = field(default_factory=TransNARConfig)
    nar: NARSource = field(default_factory=NARSource)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainOptions = field(default_factory=TrainOptions)
    teacher: TeacherSource = field(default_factory=TeacherSource)

    MOVED_KEYS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            f"optim.{name}": f"train.{name}"
            for name in ("steps", "batch_size", "learning_rate", "grad_clip")
        }
    )
    """Keys that moved from ``optim`` to ``train`` (transnar 0.2)."""

    def __post_init__(self):
        train, optim = self.train, self.optim
        if optim.min_learning_rate > train.learning_rate:
            raise ValueError(
                f"optim.min_learning_rate must be in [0, train.learning_rate], got "
                f"{optim.min_learning_rate}"
            )
        if train.batch_size % optim.grad_accum:
            raise ValueError(
                f"train.batch_size ({train.batch_size}) must be a multiple of optim.grad_accum "
                f"({optim.grad_accum})"
            )
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

    @property
    def distilled(self) -> bool:
        """Whether it learns a teacher's distributions (``teacher.model`` set)."""
        return self.teacher.model is not None

    @property
    def micro_batch_size(self) -> int:
        """Examples per forward and backward: ``train.batch_size / optim.grad_accum``."""
        return self.train.batch_size // self.optim.grad_accum

    def to_dict(self) -> dict:
        """JSON-serialisable: ``{"model": {..., "lm": {...}}, "nar": ..., "data": ...}``
        (``data`` without the :data:`OPTIONAL_DATA_KEYS` left at their default;
        ``teacher`` only when it is not the default, no teacher)."""
        data = {
            "model": self.model.to_dict(),
            "nar": dataclasses.asdict(self.nar),
            "data": _lists(_without_defaults(dataclasses.asdict(self.data), OPTIONAL_DATA_KEYS)),
            "optim": dataclasses.asdict(self.optim),
            "train": dataclasses.asdict(self.train),
        }
        if self.teacher != TeacherSource():  # configs and stage hashes without one stay
            data["teacher"] = dataclasses.asdict(self.teacher)
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> LMTrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are errors naming them.

        A ``transnar_version`` entry (written into ``config.json``) is ignored;
        a config saved before a key moved (:data:`MOVED_KEYS`) is read too.
        """
        data = _config.upgrade(data, cls)
        sections = {"model", "nar", "data", "optim", "train", "teacher"}
        unknown = sorted(set(data) - sections - {"transnar_version"})
        if unknown:
            raise ValueError(f"unknown config section(s) {unknown} (known: {sorted(sections)})")
        classes = {
            "nar": NARSource,
            "data": DataConfig,
            "optim": OptimConfig,
            "train": TrainOptions,
            "teacher": TeacherSource,
        }
        parts: dict[str, Any] = {}
        for name, section_cls in classes.items():
            values = dict(data.get(name, {}))
            _config.check_keys(values, section_cls, name)
            parts[name] = section_cls(**values)
        return cls(model=TransNARConfig.from_dict(dict(data.get("model", {}))), **parts)

    def differences(self, other: LMTrainConfig) -> list[str]:
        """The dotted keys (``train.steps``) whose values differ from ``other``'s."""
        return _config.differences(self.to_dict(), other.to_dict())


def _without_defaults(values: dict, defaults: Mapping[str, Any]) -> dict:
    """``values`` without the ``defaults`` keys that hold their default."""
    return {k: v for k, v in values.items() if k not in defaults or v != defaults[k]}


def _lists(values: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def apply_overrides(
    config: LMTrainConfig, overrides: Iterable[str] | Mapping[str, Any]
) -> LMTrainConfig:
    """The config with ``key=value`` overrides applied.

    Keys are dotted paths (``model.lm.d_model``, ``train.steps``) or any
    unambiguous tail (``d_model``, ``lm.d_model``, ``steps``); values are parsed
    by the field's type (integers, floats, ``true``/``false``, strings, ``none``,
    comma-separated lists, ``algorithms=all``). A mapping gives typed values.

    Raises:
        ValueError: a malformed item, an unknown or ambiguous key, a value that
            does not parse, or a config that fails validation.
    """
    return _config.apply_overrides(config, overrides)


def preset(name: str) -> LMTrainConfig:
    """The :class:`LMTrainConfig` of a preset (``tiny``, ``small``, ``clrs30`` or
    ``paper``): the ``lm`` section of its packaged YAML file."""
    return LMTrainConfig.from_dict(_config.preset_data(name)["lm"])


__all__ = [
    "OPTIONAL_DATA_KEYS",
    "RESUMABLE_CHANGES",
    "LMTrainConfig",
    "NARSource",
    "OptimConfig",
    "TeacherSource",
    "apply_overrides",
    "preset",
]
