"""Configuration of a NAR training run: the model, its data, the trainer's options.

A :class:`NARTrainConfig` composes the architecture (:class:`~transnar.nar.NARConfig`),
the data of the training protocol (:class:`NARDataOptions`: sizes, counts,
stepping of the tests) and the options every trainer has
(:class:`~transnar.training.options.TrainOptions`: seed, steps, batch, learning
rate, ...). Defaults are those of Ibarz et al. (2022) and the reference
``clrs/examples/run.py``; the presets (:func:`preset`) are the ``nar`` sections
of the packaged presets of ``transnar run`` (:mod:`transnar._config`):

- ``tiny``: a smoke run (2 algorithms, hidden 16, sizes 4 and 6, 300 steps);
- ``small``: 6 algorithms of 6 families, hidden 64, sizes 4, 7, 11, 1,500
  steps, tested at 44 = 4 x 11;
- ``clrs30``: the ``small`` NAR on all 30 algorithms, 500 steps;
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
from types import MappingProxyType
from typing import Any, ClassVar

from transnar import _config
from transnar._config import not_int as _not_int
from transnar.nar.config import NARConfig
from transnar.nar.stepping import check_step_mode
from transnar.training.options import TrainOptions


@dataclass(frozen=True)
class NARDataOptions:
    """The NAR's data: training and test sizes, counts, how the tests step.

    Attributes:
        train_sizes: the sizes of the online training batches; each algorithm's
            samplers cycle over them, one batch per step (string matchers train
            at ``max * 5 // 4`` only, as the reference).
        test_sizes: out-of-distribution test sizes (besides the in-distribution
            test at the largest training size).
        val_count: validation samples per algorithm (at the largest training size).
        test_count: test samples per algorithm and test size.
        eval_multipliers: multiply the validation and test counts by the
            reference's per-algorithm multipliers (32 or 64 for the seven
            algorithms with few output elements per sample).
        test_steps: how the NAR steps in the tests (:mod:`transnar.nar.stepping`),
            each mode a column of ``results.json``: ``oracle`` (the CLRS
            protocol: the true trajectory length) first, then the leak-free
            ``learned`` (needs ``nar.termination``) and ``budget``.
        random_pos: replace ``pos`` by sorted uniform draws in training.
    """

    train_sizes: tuple[int, ...] = (4, 7, 11, 13, 16)
    test_sizes: tuple[int, ...] = (64,)
    val_count: int = 64
    test_count: int = 64
    eval_multipliers: bool = False
    test_steps: tuple[str, ...] = ("oracle", "learned")
    random_pos: bool = True

    def __post_init__(self):
        object.__setattr__(self, "test_steps", tuple(self.test_steps))
        for mode in self.test_steps:
            check_step_mode(mode, "data.test_steps")
        if not self.test_steps or len(set(self.test_steps)) != len(self.test_steps):
            raise ValueError(f"data.test_steps must be distinct step modes, got {self.test_steps}")
        for name in ("train_sizes", "test_sizes"):
            sizes = tuple(getattr(self, name))
            object.__setattr__(self, name, sizes)
            if name == "train_sizes" and not sizes:
                raise ValueError("data.train_sizes must name at least one size")
            if any(_not_int(n) or n < 2 for n in sizes):
                raise ValueError(f"data.{name} must be integers >= 2, got {list(sizes)}")
        for name in ("val_count", "test_count"):
            if _not_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(
                    f"data.{name} must be an integer >= 1, got {getattr(self, name)!r}"
                )

    @property
    def max_train_size(self) -> int:
        return max(self.train_sizes)


def _ibarz_options() -> TrainOptions:
    """The trainer's options of Ibarz et al. (2022): 10,000 steps of batch 32,
    Adam 1e-3, clipping 1.0, seed 42; the NAR trains in fp32."""
    return TrainOptions(seed=42, precision="fp32", steps=10_000, eval_every=50, eval_batch_size=32)


# Fields that may change when a run is resumed: they change neither the
# training data nor the model's updates.
RESUMABLE_CHANGES = (
    "train.steps",
    "train.device",
    "train.threads",
    "data.test_sizes",
    "data.test_count",
    "data.test_steps",
)


@dataclass(frozen=True)
class NARTrainConfig:
    """Everything that defines a NAR training run.

    Attributes:
        nar: the architecture (and the algorithms).
        data: the training and test data.
        train: the trainer's options (a step is one batch and one Adam update
            per algorithm).
    """

    nar: NARConfig = field(default_factory=NARConfig)
    data: NARDataOptions = field(default_factory=NARDataOptions)
    train: TrainOptions = field(default_factory=_ibarz_options)

    MOVED_KEYS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            f"train.{name}": f"data.{name}"
            for name in (
                "train_sizes",
                "test_sizes",
                "val_count",
                "test_count",
                "eval_multipliers",
                "test_steps",
                "random_pos",
            )
        }
    )
    """Keys that moved from ``train`` to ``data`` (transnar 0.2)."""

    def __post_init__(self):
        if self.train.steps < 1:
            raise ValueError(f"train.steps must be an integer >= 1, got {self.train.steps!r}")
        if "learned" in self.data.test_steps and not self.nar.termination:
            raise ValueError(
                "data.test_steps has 'learned', but the NAR has no termination head "
                "(nar.termination=false): drop it from test_steps"
            )

    def to_dict(self) -> dict:
        """JSON-serialisable: ``{"nar": {...}, "data": {...}, "train": {...}}``."""
        data = dataclasses.asdict(self.data)
        for name in ("train_sizes", "test_sizes", "test_steps"):
            data[name] = list(data[name])
        return {"nar": self.nar.to_dict(), "data": data, "train": dataclasses.asdict(self.train)}

    @classmethod
    def from_dict(cls, data: Mapping) -> NARTrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them.

        A ``transnar_version`` entry (written into ``config.json``) is ignored;
        a config saved before a key moved (:data:`MOVED_KEYS`) is read too.
        """
        data = _config.upgrade(data, cls)
        unknown = sorted(set(data) - {"nar", "data", "train", "transnar_version"})
        if unknown:
            raise ValueError(f"unknown config section(s) {unknown} (known: nar, data, train)")
        sections = {}
        for name, section_cls in (("data", NARDataOptions), ("train", TrainOptions)):
            values = dict(data.get(name, {}))
            _config.check_keys(values, section_cls, name)
            sections[name] = values
        if "test_steps" not in sections["data"]:  # a file made before leak-free stepping
            sections["data"]["test_steps"] = ("oracle",)
        if "precision" not in sections["train"]:  # a file made before the NAR had one
            sections["train"]["precision"] = "fp32"
        return cls(
            NARConfig.from_dict(dict(data.get("nar", {}))),
            NARDataOptions(**sections["data"]),
            TrainOptions(**sections["train"]),
        )

    def differences(self, other: NARTrainConfig) -> list[str]:
        """The dotted keys (``train.steps``) whose values differ from ``other``'s."""
        return _config.differences(self.to_dict(), other.to_dict())


SMALL_ALGORITHMS = (
    "bfs",
    "insertion_sort",
    "minimum",
    "find_maximum_subarray_kadane",
    "activity_selector",
    "lcs_length",
)
"""The ``small`` preset's algorithms: one of each of six families."""


def preset(name: str) -> NARTrainConfig:
    """The :class:`NARTrainConfig` of a preset (``tiny``, ``small``, ``clrs30`` or
    ``paper``): the ``nar`` section of its packaged YAML file."""
    return NARTrainConfig.from_dict(_config.preset_data(name)["nar"])


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
