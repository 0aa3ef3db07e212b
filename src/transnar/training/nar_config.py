"""Configuration of a NAR training run: the model, the training protocol, presets.

A :class:`NARTrainConfig` composes the architecture (:class:`~transnar.nar.NARConfig`)
and the training protocol (:class:`NARTrainOptions`). Defaults are those of Ibarz et
al. (2022) and the reference ``clrs/examples/run.py``; the presets scale them:

- ``tiny``: a smoke run in seconds (2 algorithms, hidden 16, sizes <= 8, 20 steps);
- ``small``: a few minutes on a CPU (6 algorithms of 6 families, hidden 64,
  sizes 4, 7, 11, a few hundred steps, tested at 44 = 4 x 11);
- ``paper``: the generalist NAR of Ibarz et al. (all 30 algorithms, hidden 128,
  sizes 4, 7, 11, 13, 16, batch 32, 10,000 steps, Adam 1e-3, clipping 1.0,
  tested at 64).

One-off changes are ``key=value`` overrides (:func:`apply_overrides`, the one engine
of :mod:`transnar._config` that the LM and pipeline configs use too), e.g.
``steps=500``, ``nar.hidden_dim=32`` or ``train_sizes=4,7``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from transnar import _config
from transnar._config import not_int as _not_int
from transnar.clrs.specs import CLRS30_ALGORITHMS
from transnar.nar.config import NARConfig
from transnar.nar.stepping import check_step_mode


@dataclass(frozen=True)
class NARTrainOptions:
    """The training protocol of a NAR (defaults: Ibarz et al. 2022, reference ``run.py``).

    Attributes:
        train_sizes: the sizes of the online training batches; each algorithm's
            samplers cycle over them, one batch per step (string matchers train
            at ``max * 5 // 4`` only, as the reference).
        test_sizes: out-of-distribution test sizes (besides the in-distribution
            test at the largest training size).
        steps: training steps; a step is one batch and one Adam update per
            algorithm.
        batch_size: samples per training batch.
        learning_rate: Adam's learning rate.
        grad_clip: global norm the gradients are clipped to (0: no clipping).
        eval_every: validate (and checkpoint) every this many steps, and at the end.
        val_count: validation samples per algorithm (at the largest training size).
        test_count: test samples per algorithm and test size.
        eval_batch_size: samples per evaluation batch.
        eval_multipliers: multiply the validation and test counts by the
            reference's per-algorithm multipliers (32 or 64 for the seven
            algorithms with few output elements per sample).
        test_steps: how the NAR steps in the tests (:mod:`transnar.nar.stepping`),
            each mode a column of ``results.json``: ``oracle`` (the CLRS
            protocol: the true trajectory length) first, then the leak-free
            ``learned`` (needs ``nar.termination``) and ``budget``.
        random_pos: replace ``pos`` by sorted uniform draws in training.
        seed: seed of the model's initialisation and of every data stream.
        device: ``cpu`` or ``cuda`` (or ``cuda:K``).
        threads: CPU threads torch may use (0: torch's default).
    """

    train_sizes: tuple[int, ...] = (4, 7, 11, 13, 16)
    test_sizes: tuple[int, ...] = (64,)
    steps: int = 10_000
    batch_size: int = 32
    learning_rate: float = 1e-3
    grad_clip: float = 1.0
    eval_every: int = 50
    val_count: int = 64
    test_count: int = 64
    eval_batch_size: int = 32
    eval_multipliers: bool = False
    test_steps: tuple[str, ...] = ("oracle", "learned")
    random_pos: bool = True
    seed: int = 42
    device: str = "cpu"
    threads: int = 0

    def __post_init__(self):
        object.__setattr__(self, "test_steps", tuple(self.test_steps))
        for mode in self.test_steps:
            check_step_mode(mode, "test_steps")
        if not self.test_steps or len(set(self.test_steps)) != len(self.test_steps):
            raise ValueError(f"test_steps must be distinct step modes, got {self.test_steps}")
        for name in ("train_sizes", "test_sizes"):
            sizes = tuple(getattr(self, name))
            object.__setattr__(self, name, sizes)
            if name == "train_sizes" and not sizes:
                raise ValueError("train_sizes must name at least one size")
            if any(_not_int(n) or n < 2 for n in sizes):
                raise ValueError(f"{name} must be integers >= 2, got {list(sizes)}")
        positive = ("steps", "batch_size", "eval_every", "val_count", "test_count")
        for name in (*positive, "eval_batch_size"):
            if _not_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not self.grad_clip >= 0:
            raise ValueError(f"grad_clip must be >= 0 (0: no clipping), got {self.grad_clip}")
        if _not_int(self.seed) or not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be an integer in [0, 2**32), got {self.seed!r}")
        if _not_int(self.threads) or self.threads < 0:
            raise ValueError(f"threads must be an integer >= 0, got {self.threads!r}")
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(f"device must be 'cpu' or 'cuda[:K]', got {self.device!r}") from None

    @property
    def max_train_size(self) -> int:
        return max(self.train_sizes)


# Fields that may change when a run is resumed: they change neither the
# training data nor the model's updates.
RESUMABLE_CHANGES = (
    "train.steps",
    "train.device",
    "train.threads",
    "train.test_sizes",
    "train.test_count",
    "train.test_steps",
)


@dataclass(frozen=True)
class NARTrainConfig:
    """Everything that defines a NAR training run.

    Attributes:
        nar: the architecture (and the algorithms).
        train: the training protocol.
    """

    nar: NARConfig = field(default_factory=NARConfig)
    train: NARTrainOptions = field(default_factory=NARTrainOptions)

    def __post_init__(self):
        if "learned" in self.train.test_steps and not self.nar.termination:
            raise ValueError(
                "train.test_steps has 'learned', but the NAR has no termination head "
                "(nar.termination=false): drop it from test_steps"
            )

    def to_dict(self) -> dict:
        """JSON-serialisable: ``{"nar": {...}, "train": {...}}``."""
        train = dataclasses.asdict(self.train)
        for name in ("train_sizes", "test_sizes", "test_steps"):
            train[name] = list(train[name])
        return {"nar": self.nar.to_dict(), "train": train}

    @classmethod
    def from_dict(cls, data: Mapping) -> NARTrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them.

        A ``transnar_version`` entry (written into ``config.json``) is ignored.
        """
        unknown = sorted(set(data) - {"nar", "train", "transnar_version"})
        if unknown:
            raise ValueError(f"unknown config section(s) {unknown} (known: nar, train)")
        train = dict(data.get("train", {}))
        known = {f.name for f in dataclasses.fields(NARTrainOptions)}
        extra = sorted(set(train) - known)
        if extra:
            raise ValueError(f"unknown train config key(s) {extra} (known: {sorted(known)})")
        nar = NARConfig.from_dict(dict(data.get("nar", {})))
        if "test_steps" not in train:  # a file made before leak-free stepping
            train["test_steps"] = ("oracle",)
        return cls(nar, NARTrainOptions(**train))

    def differences(self, other: NARTrainConfig) -> list[str]:
        """The dotted keys (``train.steps``) whose values differ from ``other``'s."""
        mine, theirs = _config.flatten(self.to_dict()), _config.flatten(other.to_dict())
        return sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))


SMALL_ALGORITHMS = (
    "bfs",
    "insertion_sort",
    "minimum",
    "find_maximum_subarray_kadane",
    "activity_selector",
    "lcs_length",
)
"""The ``small`` preset's algorithms: one of each of six families."""


def _tiny() -> NARTrainConfig:
    return NARTrainConfig(
        NARConfig(algorithms=("bfs", "insertion_sort"), hidden_dim=16),
        NARTrainOptions(
            train_sizes=(4, 6),
            test_sizes=(8,),
            steps=20,
            batch_size=8,
            eval_every=10,
            val_count=16,
            test_count=16,
            eval_batch_size=16,
            seed=0,
        ),
    )


def _small() -> NARTrainConfig:
    return NARTrainConfig(
        NARConfig(algorithms=SMALL_ALGORITHMS, hidden_dim=64),
        NARTrainOptions(
            train_sizes=(4, 7, 11),
            test_sizes=(44,),
            steps=300,
            batch_size=16,
            eval_every=50,
            val_count=64,
            test_count=64,
            eval_batch_size=32,
            seed=42,
        ),
    )


def _paper() -> NARTrainConfig:
    return NARTrainConfig(
        NARConfig(algorithms=CLRS30_ALGORITHMS, hidden_dim=128),
        NARTrainOptions(eval_multipliers=True),
    )


PRESETS = {"tiny": _tiny, "small": _small, "paper": _paper}
"""Preset name -> a function returning its :class:`NARTrainConfig`."""


def preset(name: str) -> NARTrainConfig:
    """The :class:`NARTrainConfig` of a preset (``tiny``, ``small`` or ``paper``)."""
    return _config.make_preset(PRESETS, name)


def apply_overrides(
    config: NARTrainConfig, overrides: Iterable[str] | Mapping[str, Any]
) -> NARTrainConfig:
    """The config with ``key=value`` overrides applied.

    Keys are dotted (``nar.hidden_dim``, ``train.steps``) or bare when only one
    section has them (``hidden_dim``, ``steps``). Values are parsed by the
    field's type: integers, floats, booleans (``true``/``false``), strings,
    and comma-separated lists (``train_sizes=4,7,11``; ``algorithms=all`` for
    the 30 of CLRS-30). A mapping gives already-typed values.

    Raises:
        ValueError: a malformed item, an unknown or ambiguous key, a value that
            does not parse, or a config that fails validation; the message names
            the key.
    """
    return _config.apply_overrides(config, overrides)
