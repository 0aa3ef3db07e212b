"""Configuration of the whole pipeline (``transnar run``): one typed config, presets, YAML.

A :class:`RunPipelineConfig` composes the configs of the existing trainers:

- ``nar``: the NAR's :class:`~transnar.training.nar_config.NARTrainConfig`
  (``nar.nar.*`` the architecture, ``nar.data.*`` its data, ``nar.train.*``
  the trainer's options), pre-trained once per run;
- ``lm``: the :class:`~transnar.training.LMTrainConfig` shared by the baseline
  and TransNAR. The pipeline trains it once per arm and seed (``arms``): with
  ``model.use_nar`` false (baseline), true with ``model.memory_source=decoy``
  (control) and true (TransNAR): the same data (``lm.data``, written once into ``RUN/data``),
  steps and seed. The evaluation set is ``lm.data``'s test split
  (``test_sizes``, ``test_count``, ``test_seed``), in or out of distribution
  relative to ``lm.data.train_sizes``. The pipeline sets ``lm.nar.checkpoint``
  (to its own NAR), ``lm.data.path`` (to ``RUN/data``), ``lm.model.use_nar``
  and ``lm.train.seed`` itself; ``lm.nar.preset`` and ``lm.nar.train_steps``
  are not used (the ``nar`` section is the NAR); ``lm.teacher``'s weight and
  temperature are the ``student-soft`` arm's (which sets its ``model``: the
  seed's TransNAR; the other arms have no teacher);
- ``eval``: :class:`EvalOptions`, how the models answer the evaluation set;
- ``distill``: :class:`~transnar.training.distill.DistillConfig`, the questions
  TransNAR answers for the ``student`` arm (empty sizes and zero counts: the
  ``lm.data`` training sizes and counts; their own sampler seed);
- ``seeds``: the number of training seeds of the language models
  (``lm.train.seed``, ``lm.train.seed + 1``, ...); the report shows means and
  standard deviations over them, and paired tests between the arms;
- ``arms``: which language models each seed trains (:data:`ARMS`): the
  baseline, the control and TransNAR, all on the same data, steps and seed
  (the default), and the students, distilled from that seed's TransNAR.

Presets (:func:`preset`): ``tiny`` (the default: the whole flow in a few
minutes on a CPU), ``small`` (a small-scale reproduction on a 2-core CPU),
``clrs30`` (the paper's protocol on all 30 algorithms, one seed in about 2.5
hours on a 2-core CPU) and ``paper`` (``DESIGN.md`` §8, for GPUs), each
defined once, in its packaged YAML file (``transnar/presets/<preset>.yaml``,
which ``configs/`` points to; the file's comment says what it costs). Their
``nar`` and ``lm`` sections are the presets of ``transnar nar train`` and
``transnar lm train``.

Overrides are ``key=value`` by dotted path or unambiguous tail
(``nar.train.steps=50``, ``lm.train.steps=200``, ``d_model=64``,
``eval.batch_size=64``, ``seeds=2``); a YAML file (:func:`~transnar._config.load_yaml`) is a
nested mapping of the same keys, applied over a base config. Unknown keys and
bad values are one ``ValueError`` naming the key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from transnar import _config
from transnar._config import PRESET_NAMES, load_yaml, not_int
from transnar.arms import ARM_NAMES, ARMS_BY_NAME, TEACHER
from transnar.evaluation.evaluate import EvalSettings
from transnar.lm.generation import POSITION_KINDS
from transnar.training.distill import DistillConfig
from transnar.training.lm_config import LMTrainConfig
from transnar.training.lm_config import preset as lm_preset
from transnar.training.nar_config import NARTrainConfig
from transnar.training.nar_config import preset as nar_preset

ARMS = ARM_NAMES
"""The language models a run can train per seed, in training order (one row
each in :data:`transnar.arms.ARMS`): the Transformer-only baseline, the control
(TransNAR's architecture, parameters, data and steps, reading the NAR memory of
another instance of the same algorithm and size, so its memory tells nothing
about its question), the second control (the same, reading a blank memory:
every state zero), TransNAR, its variants (another memory mode, index hints),
and the students (the baseline's architecture, with no NAR, trained on the
seed's TransNAR's answers, section ``distill``, or on the run's data and
TransNAR's next-token distributions, section ``lm.teacher``: distillation)."""
DEFAULT_ARMS = ("baseline", "control", "transnar")
"""The arms a run trains unless ``arms`` says otherwise."""


@dataclass(frozen=True)
class EvalOptions:
    """How the trained models answer the evaluation set (``lm.data``'s test split).

    Attributes:
        batch_size: prompts decoded together (all of one algorithm and size).
        positions: ``random`` or ``linear`` positions at evaluation; None: the
            model's own setting (random, as the paper).
        position_seed: seeds the random positions.
        samples: keep each sample's prediction and scores (``results.json`` and
            ``predictions.jsonl``).
    """

    batch_size: int = 32
    positions: str | None = None
    position_seed: int = 0
    samples: bool = True

    def __post_init__(self):
        if not_int(self.batch_size) or self.batch_size < 1:
            raise ValueError(f"eval.batch_size must be an integer >= 1, got {self.batch_size!r}")
        if self.positions is not None and self.positions not in POSITION_KINDS:
            raise ValueError(
                f"eval.positions must be one of {POSITION_KINDS} or none, got {self.positions!r}"
            )
        if not_int(self.position_seed) or self.position_seed < 0:
            raise ValueError(
                f"eval.position_seed must be an integer >= 0, got {self.position_seed!r}"
            )


@dataclass(frozen=True)
class RunPipelineConfig:
    """Everything that defines a ``transnar run`` (see the module docstring);
    the defaults are the ``tiny`` preset."""

    nar: NARTrainConfig = field(default_factory=lambda: nar_preset("tiny"))
    lm: LMTrainConfig = field(default_factory=lambda: lm_preset("tiny"))
    eval: EvalOptions = field(default_factory=EvalOptions)
    seeds: int = 1
    arms: tuple[str, ...] = DEFAULT_ARMS
    distill: DistillConfig = field(default_factory=DistillConfig)

    def __post_init__(self):
        object.__setattr__(self, "arms", tuple(self.arms))
        if not_int(self.seeds) or self.seeds < 1:
            raise ValueError(f"seeds must be an integer >= 1, got {self.seeds!r}")
        unknown = [arm for arm in self.arms if arm not in ARMS]
        if unknown or not self.arms or len(set(self.arms)) != len(self.arms):
            raise ValueError(
                f"arms must be distinct names among {', '.join(ARMS)}, got {list(self.arms)}"
            )
        students = [arm for arm in self.arms if ARMS_BY_NAME[arm].student]
        if students and TEACHER not in self.arms:
            raise ValueError(
                f"arms has {', '.join(students)}, whose teacher is TransNAR: add {TEACHER}"
            )
        hinted = [arm for arm in self.arms if ARMS_BY_NAME[arm].index_hints]
        if hinted and self.lm.data.index_hints:
            raise ValueError(
                f"arms {', '.join(hinted)} add index hints, which lm.data.index_hints=true "
                "already gives every arm: use baseline and transnar"
            )
        if students and self.lm.data.index_hints:
            raise ValueError("the student arms do not support lm.data.index_hints yet")
        if self.distill.algorithms is not None:
            raise ValueError(
                "distill.algorithms must be none: the student learns lm.data.algorithms"
            )
        if self.lm.train.seed + self.seeds > 2**32:
            raise ValueError("lm.train.seed + seeds must stay below 2**32")
        missing = [a for a in self.lm.data.algorithms if a not in self.nar.nar.algorithms]
        if missing:
            raise ValueError(
                f"lm.data.algorithms has {', '.join(missing)}, which the NAR is not trained "
                f"on (nar.nar.algorithms: {', '.join(self.nar.nar.algorithms)})"
            )
        if self.lm.nar.checkpoint is not None:
            raise ValueError(
                "lm.nar.checkpoint must be none: the pipeline trains its own NAR (section nar)"
            )
        if self.lm.data.path is not None:
            raise ValueError("lm.data.path must be none: the pipeline writes its data itself")
        if self.lm.teacher.model is not None:
            raise ValueError(
                "lm.teacher.model must be none: the student-soft arm learns from its seed's "
                "TransNAR (lm.teacher's weight and temperature are its)"
            )
        if not self.lm.model.use_nar:
            raise ValueError(
                "lm.model.use_nar must be true: the pipeline trains both the baseline "
                "(use_nar false) and TransNAR"
            )
        self.eval_settings()  # an evaluation set the evaluation refuses is refused now

    def with_index_hints(self, shift_markers: bool = False) -> RunPipelineConfig:
        """This config with ``lm.data.index_hints`` on (and ``shift_markers`` when
        true): the index-hint arms' data, training and evaluation (its ``arms``
        mean nothing)."""
        data = dataclasses.replace(self.lm.data, index_hints=True)
        if shift_markers:
            data = dataclasses.replace(data, shift_markers=True)
        return dataclasses.replace(
            self,
            lm=dataclasses.replace(self.lm, data=data),
            arms=("baseline",),  # its own arms are not read
        )

    def model_eval_settings(self, index_hints: bool) -> EvalSettings:
        """A model's evaluation (:meth:`eval_settings`; with index hints for the
        index-hint arms): its stage's config (``eval-<arm>-s<seed>``)."""
        return (self.with_index_hints() if index_hints else self).eval_settings()

    def eval_settings(self) -> EvalSettings:
        """The evaluation: ``lm.data``'s test split, answered as ``eval`` says."""
        data = self.lm.data
        return EvalSettings(
            algorithms=data.algorithms,
            sizes=data.test_sizes,
            seeds=(data.test_seed,),
            count=data.test_count,
            batch_size=self.eval.batch_size,
            positions=self.eval.positions,
            position_seed=self.eval.position_seed,
            use_hints=data.use_hints,
            index_hints=data.index_hints,
            float_format=data.float_format,
            truncate_decimals=data.truncate_decimals,
            training_seeds=(data.train_seed, data.val_seed),
            train_sizes=data.train_sizes,
            keep_samples=self.eval.samples,
        )

    def student_questions(self, arm: str) -> DistillConfig:
        """The questions a student arm's teacher answers: the ``distill``
        section's, what it leaves empty filled in from ``lm.data``
        (:meth:`~transnar.training.distill.DistillConfig.resolved`), with the
        evaluation sizes added for a wide student (``student-wide``)."""
        data = self.lm.data
        questions = self.distill.resolved(data, data.algorithms)
        if ARMS_BY_NAME[arm].distill_at_test_sizes:
            sizes = tuple(sorted({*questions.sizes, *data.test_sizes}))
            questions = dataclasses.replace(questions, sizes=sizes)
        return questions

    def to_dict(self) -> dict[str, Any]:
        """JSON- and YAML-serialisable: ``{"seeds", "arms", "nar", "lm", "eval",
        "distill"}``."""
        return {
            "seeds": self.seeds,
            "arms": list(self.arms),
            "nar": self.nar.to_dict(),
            "lm": self.lm.to_dict(),
            "eval": dataclasses.asdict(self.eval),
            "distill": self.distill.to_dict(),
        }


def apply_overrides(
    config: RunPipelineConfig, overrides: Iterable[str] | Mapping[str, Any]
) -> RunPipelineConfig:
    """The config with ``key=value`` overrides applied (dotted paths or unambiguous
    tails; values parsed by the field's type).

    Raises:
        ValueError: a malformed item, an unknown or ambiguous key, a value that
            does not parse, or a config that fails validation.
    """
    return _config.apply_overrides(config, overrides)


def from_mapping(data: Mapping[str, Any], base: RunPipelineConfig) -> RunPipelineConfig:
    """``base`` with every leaf of a nested mapping (a YAML file, a ``config.json``)
    applied as an override; a complete mapping gives its config whatever the base.

    Each value is written out as override text and parsed by its field's type,
    so a mapping is checked as strictly as the command line.
    """
    flat = _config.flatten({k: v for k, v in data.items() if k != "transnar_version"})
    return apply_overrides(base, {key: _as_text(value) for key, value in flat.items()})


def _as_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(_as_text(item) for item in value)
    return str(value)


def to_yaml(config: RunPipelineConfig, header: str = "") -> str:
    """The config as YAML (sections as blocks, lists on one line), after
    ``header`` comment lines."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def flow_list(dumper: yaml.SafeDumper, data: list) -> Any:
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)

    Dumper.add_representer(list, flow_list)
    comments = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    body = yaml.dump(config.to_dict(), Dumper=Dumper, sort_keys=False, width=100)
    return comments + body


def preset(name: str) -> RunPipelineConfig:
    """The :class:`RunPipelineConfig` of a preset (``tiny``, ``small``, ``clrs30`` or
    ``paper``): its packaged YAML file (:func:`transnar._config.preset_path`)."""
    return from_mapping(_config.preset_data(name), RunPipelineConfig())


__all__ = [
    "ARMS",
    "PRESET_NAMES",
    "EvalOptions",
    "RunPipelineConfig",
    "apply_overrides",
    "from_mapping",
    "load_yaml",
    "preset",
    "to_yaml",
]
