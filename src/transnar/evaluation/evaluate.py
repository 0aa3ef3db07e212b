"""Evaluating a TransNAR (or its Transformer-only baseline) on CLRS-Text.

For every algorithm x size x seed of the evaluation set (by default the
``transnar`` preset's test split: sizes 10, 12 and 14, seed 2), the rows and
their trajectories are drawn (:func:`~transnar.clrs.text.rows.examples`),
answered by greedy decoding (:func:`~transnar.lm.generate`, KV cache, stop at
the blank line), scored with the CLRS-Text metrics
(:func:`~transnar.clrs.text.score_answer`) and aggregated
(:func:`~transnar.clrs.text.score_report.aggregate`).

Batches hold one (algorithm, size): one NAR head, one node count. The NAR runs
once per batch (:meth:`~transnar.model.TransNAR.graph_memory` on
``Features.from_trajectories``, the canonical ``pos``) and its memory is passed
to every decoding step.

Decoding, leak-free and per question (:mod:`~transnar.evaluation.decoding`):
each sample may generate at most :func:`~transnar.clrs.text.answer_length_bound`
tokens, a bound on its answer's characters computed from its algorithm and
input probes alone (for the character tokenizer a character is a token; a
tokenizer that merges characters only needs fewer), capped where random
positions would run past the model's ``max_position``. Neither the budget nor
the positions drawn for it read the true answer, which is only used to score:
a model that runs on is cut at its budget and scores what its text scores.

Randomized positions at evaluation follow the model (``uses_random_positions``)
unless ``positions`` says otherwise. Each question draws them from its own
generator, seeded from ``position_seed`` and its text, so its answer does not
depend on what else is evaluated or on ``batch_size``, and ``transnar generate
--seed`` reproduces it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import platform
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import torch
from torch import nn

from transnar.clrs.specs import CLRS30_ALGORITHMS, get_spec
from transnar.clrs.text.answer_scores import AnswerScores, score_answer
from transnar.clrs.text.datasets import (
    TRANSNAR_REGIMES,
    TRANSNAR_TRAIN_SIZES,
    Split,
    check_index_hint_sizes,
    get_preset,
)
from transnar.clrs.text.formatting import check_float_format
from transnar.clrs.text.rows import examples
from transnar.clrs.text.score_report import ScoredRow, ScoreReport, aggregate
from transnar.evaluation.decoding import (
    GenerateFn,
    check_nar_knows,
    decode_questions,
    decoding_budget,
)
from transnar.evaluation.samples import EvalSample
from transnar.lm.generation import (
    POSITION_KINDS,
    Generation,
    evaluation_positions,
    generate,
    model_device,
)
from transnar.lm.tokenizer import CharTokenizer

DEFAULT_PRESET = "transnar"
DEFAULT_COUNT = 100
"""Samples per algorithm, size and seed by default (the preset's 3,000 is
paper scale; pass ``count`` for it)."""
TRAINING_SEEDS: tuple[int, ...] = tuple(
    sorted({s for name in ("train", "val") for s in get_preset(DEFAULT_PRESET)[name].seeds})
)
"""The seeds of the ``transnar`` preset's training and validation splits."""

REGIMES = ("in-distribution", "ood-interpolation", "ood-extrapolation", "ood-smaller")
"""What an evaluation size is to the training sizes (:func:`regime`)."""


def regime(size: int, train_sizes: Sequence[int] | None) -> str | None:
    """``in-distribution`` (a training size), ``ood-interpolation`` (between
    two), ``ood-extrapolation`` (above them all) or ``ood-smaller``; ``None``
    when the training sizes are unknown. With the TransNAR training sizes
    (4-8 and 12): 10, 12 and 14 are :data:`~transnar.clrs.text.datasets.TRANSNAR_REGIMES`.
    """
    if not train_sizes:
        return None
    if size in train_sizes:
        return "in-distribution"
    if size > max(train_sizes):
        return "ood-extrapolation"
    if size < min(train_sizes):
        return "ood-smaller"
    return "ood-interpolation"


def default_split() -> Split:
    """The ``transnar`` preset's test split (sizes 10, 12, 14; seed 2)."""
    return get_preset(DEFAULT_PRESET)["test"]


@dataclass(frozen=True)
class EvalSettings:
    """What to evaluate and how.

    Attributes:
        algorithms: the algorithms, in CLRS-30 order or as given; ``None``:
            every algorithm the model's NAR knows (all 30 for a baseline).
        sizes: problem sizes (CLRS-Text ``length``).
        seeds: sampler seeds of the evaluation streams; must avoid
            ``training_seeds``.
        count: samples per (algorithm, size, seed).
        batch_size: prompts decoded together (all of one algorithm and size).
        positions: ``"random"`` or ``"linear"``; ``None``: the model's own
            evaluation setting.
        position_seed: seeds the random positions (with each question's text).
        use_hints: questions and answers with traces.
        index_hints: questions and answers with index hints (list and
            matrix elements preceded by their index markers); recorded
            (:meth:`to_dict`) only when true.
        float_format: CLRS-Text float format of the rows.
        truncate_decimals: float truncation of the instances (CLRS-Text: 3).
        training_seeds: seeds the model was trained (and validated) on;
            evaluating on one of them is refused.
        train_sizes: the sizes the model was trained on (default TransNAR's
            4-8 and 12), which make each evaluation size in or out of
            distribution (:func:`regime`); ``None``: unknown.
        keep_samples: keep per-sample records (predictions and scores).
    """

    algorithms: tuple[str, ...] | None = None
    sizes: tuple[int, ...] = tuple(TRANSNAR_REGIMES)
    seeds: tuple[int, ...] = default_split().seeds
    count: int = DEFAULT_COUNT
    batch_size: int = 32
    positions: str | None = None
    position_seed: int = 0
    use_hints: bool = False
    index_hints: bool = False
    float_format: str = "default"
    truncate_decimals: int | None = 3
    training_seeds: tuple[int, ...] = TRAINING_SEEDS
    train_sizes: tuple[int, ...] | None = TRANSNAR_TRAIN_SIZES
    keep_samples: bool = True

    def __post_init__(self):
        for name in ("sizes", "seeds", "training_seeds", "train_sizes"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if self.algorithms is not None:
            algorithms = tuple(self.algorithms)
            if not algorithms:
                raise ValueError("no algorithms to evaluate")
            for algorithm in algorithms:
                get_spec(algorithm)  # unknown names: a clear error with suggestions
            if len(set(algorithms)) != len(algorithms):
                raise ValueError(f"algorithms repeated: {list(algorithms)}")
            object.__setattr__(self, "algorithms", algorithms)
        if not self.sizes or min(self.sizes) < 1 or len(set(self.sizes)) != len(self.sizes):
            raise ValueError(f"sizes must be distinct positive integers, got {list(self.sizes)}")
        if not self.seeds or min(self.seeds) < 0 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and non-negative, got {list(self.seeds)}")
        shared = sorted(set(self.seeds) & set(self.training_seeds))
        if shared:
            raise ValueError(
                f"evaluation seed(s) {shared} are training seeds {list(self.training_seeds)}: "
                "the evaluation set would share instances with the training set"
            )
        for name in ("count", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.positions is not None and self.positions not in POSITION_KINDS:
            raise ValueError(f"positions must be one of {POSITION_KINDS}, got {self.positions!r}")
        check_float_format(self.float_format)
        if not isinstance(self.index_hints, bool):
            raise ValueError(f"index_hints must be True or False, got {self.index_hints!r}")
        if self.index_hints and self.algorithms is not None:
            sizes = dict.fromkeys(self.algorithms, self.sizes)
            check_index_hint_sizes([Split("test", sizes, self.seeds, self.count)])

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON values; ``index_hints`` only when true (so
        that results files and stage hashes without it stay as they were)."""
        data = dataclasses.asdict(self)
        if not self.index_hints:
            del data["index_hints"]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    def regimes(self) -> dict[int, str | None]:
        """Each evaluation size's :func:`regime`."""
        return {size: regime(size, self.train_sizes) for size in self.sizes}


@dataclass
class EvalResults:
    """Scores of one model on an evaluation set.

    Attributes:
        report: the aggregates (per algorithm x size, algorithm, family x
            size, family, size, overall).
        samples: one :class:`~transnar.evaluation.samples.EvalSample` per
            question (its stream, texts, prediction, scores, tokens generated,
            whether it stopped); empty unless ``keep_samples``.
        settings: the settings used, resolved (algorithms, positions).
        model: what was evaluated: ``label``, ``kind`` (``transnar`` or
            ``baseline``), ``path``, config, parameters.
        data_sha256: hash of every question and answer, in order.
        timing: seconds (total, NAR, decoding), generated tokens, tokens/s.
        created: ISO time of the evaluation.
    """

    report: ScoreReport
    samples: list[EvalSample]
    settings: EvalSettings
    model: dict[str, Any]
    data_sha256: str
    timing: dict[str, float]
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())

    @property
    def label(self) -> str:
        return self.model.get("label") or self.model.get("kind", "model")


KIND_LABELS = {"baseline": "baseline", "control": "control", "transnar": "TransNAR"}


def model_kind(model: nn.Module) -> str:
    """``"transnar"`` for a model that reads its question's NAR memory,
    ``"control"`` for one that reads another instance's, ``"baseline"`` otherwise."""
    config = getattr(model, "config", None)
    if not getattr(config, "use_nar", False):
        return "baseline"
    return getattr(config, "kind", "transnar")


def default_algorithms(model: nn.Module) -> tuple[str, ...]:
    """The algorithms of the model's NAR; all 30 for a model without one."""
    nar = getattr(model, "nar", None)
    if nar is not None:
        return tuple(nar.config.algorithms)
    return tuple(CLRS30_ALGORITHMS)


def describe_model(model: nn.Module, label: str | None = None, path: str | None = None) -> dict:
    """The ``model`` entry of a results file."""
    kind = model_kind(model)
    config = getattr(model, "config", None)
    nar = getattr(model, "nar", None)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "label": label or KIND_LABELS[kind],
        "kind": kind,
        "path": path,
        "parameters_trainable": parameters,
        "parameters_nar": sum(p.numel() for p in nar.parameters()) if nar is not None else 0,
        "config": config.to_dict() if hasattr(config, "to_dict") else None,
        "nar": nar.config.to_dict() if nar is not None else None,
    }


def evaluate(
    model: nn.Module,
    settings: EvalSettings | None = None,
    tokenizer: CharTokenizer | None = None,
    label: str | None = None,
    path: str | None = None,
    progress: bool | None = False,
    generate_fn: GenerateFn = generate,
) -> EvalResults:
    """Generates, scores and aggregates the model's answers on the evaluation set.

    Args:
        model: a :class:`~transnar.model.TransNAR` (``use_nar`` true or false)
            or any model :func:`~transnar.lm.generate` can decode with (then
            without graph memory).
        settings: what to evaluate (default :class:`EvalSettings`).
        tokenizer: default the model's.
        label: the model's name in tables and plots (default ``TransNAR`` or
            ``baseline``).
        path: where the model was loaded from (recorded).
        progress: a progress bar (``None``: only on a terminal).
        generate_fn: the decoder, :func:`~transnar.lm.generate` or anything
            with its signature (tests pass a stub).

    Returns:
        The :class:`EvalResults`.

    Raises:
        ValueError: an algorithm the NAR does not know, a prompt longer than
            the model accepts, bad settings.
    """
    from tqdm import tqdm

    settings = settings or EvalSettings()
    tokenizer = tokenizer or getattr(model, "tokenizer", None) or CharTokenizer()
    algorithms = settings.algorithms or default_algorithms(model)
    check_nar_knows(model, algorithms)
    positions = settings.positions or evaluation_positions(model)
    settings = dataclasses.replace(settings, algorithms=tuple(algorithms), positions=positions)
    device = model_device(model)
    was_training = model.training
    model.eval()

    scored: list[ScoredRow] = []
    samples: list[EvalSample] = []
    digest = hashlib.sha256()
    timing = {"seconds": 0.0, "nar_seconds": 0.0, "generated_tokens": 0, "samples": 0}
    start = time.perf_counter()
    total = len(algorithms) * len(settings.sizes) * len(settings.seeds) * settings.count
    disable = None if progress is None else not progress
    try:
        with tqdm(total=total, desc="evaluating", unit="sample", disable=disable) as bar:
            for algorithm, size, seed, batch in _batches(algorithms, settings):
                rows, trajectories = [row for row, _ in batch], [t for _, t in batch]
                for row in rows:
                    digest.update(row["question"].encode())
                    digest.update(row["answer"].encode())
                prompts = [row["question"] for row in rows]
                budgets = [
                    decoding_budget(
                        algorithm,
                        t.inputs,
                        settings.use_hints,
                        p,
                        tokenizer,
                        model,
                        positions,
                        index_hints=settings.index_hints,
                    )
                    for p, t in zip(prompts, trajectories, strict=True)
                ]
                generation, nar_seconds = decode_questions(
                    model,
                    tokenizer,
                    prompts,
                    trajectories,
                    budgets,
                    positions,
                    settings.position_seed,
                    generate_fn,
                )
                timing["nar_seconds"] += nar_seconds
                for i, row in enumerate(rows):
                    scores = score_answer(
                        algorithm,
                        generation.texts[i],
                        row["answer"],
                        settings.use_hints,
                        settings.index_hints,
                    )
                    scored.append(
                        ScoredRow(len(scored) + 1, algorithm, size, row["use_hints"], scores)
                    )
                    timing["generated_tokens"] += int(generation.num_tokens[i])
                    if settings.keep_samples:
                        samples.append(_sample(algorithm, size, seed, row, generation, i, scores))
                bar.update(len(rows))
    finally:
        model.train(was_training)
    timing["seconds"] = time.perf_counter() - start
    timing["samples"] = len(scored)
    timing["decode_seconds"] = timing["seconds"] - timing["nar_seconds"]
    timing["tokens_per_second"] = timing["generated_tokens"] / max(timing["seconds"], 1e-9)
    timing["device"] = str(device)
    timing["torch_threads"] = torch.get_num_threads()
    timing["machine"] = platform.machine()
    report = aggregate(scored, source=path)
    return EvalResults(
        report=report,
        samples=samples,
        settings=settings,
        model=describe_model(model, label, path),
        data_sha256=digest.hexdigest(),
        timing=timing,
    )


def _sample(
    algorithm: str,
    size: int,
    seed: int,
    row: Mapping[str, Any],
    generation: Generation,
    index: int,
    scores: AnswerScores,
) -> EvalSample:
    """One question's sample: the question, the truth, the model's answer
    (``generation``'s ``index``-th) and its scores."""
    return EvalSample(
        algorithm=algorithm,
        size=size,
        seed=seed,
        index=row["index"],
        prediction=generation.texts[index],
        scores=scores,
        num_tokens=int(generation.num_tokens[index]),
        stopped=bool(generation.stopped[index]),
        question=row["question"],
        answer=row["answer"],
    )


def _batches(
    algorithms: Iterable[str], settings: EvalSettings
) -> Iterator[tuple[str, int, int, list]]:
    """``(algorithm, size, seed, [(row, trajectory), ...])``, at most
    ``batch_size`` rows of one stream each."""
    for algorithm in algorithms:
        for size in settings.sizes:
            for seed in settings.seeds:
                stream = examples(
                    algorithm,
                    size,
                    seed,
                    settings.count,
                    settings.use_hints,
                    settings.float_format,
                    settings.truncate_decimals,
                    index_hints=settings.index_hints,
                )
                batch = []
                for pair in stream:
                    batch.append(pair)
                    if len(batch) == settings.batch_size:
                        yield algorithm, size, seed, batch
                        batch = []
                if batch:
                    yield algorithm, size, seed, batch


__all__ = [
    "DEFAULT_COUNT",
    "DEFAULT_PRESET",
    "REGIMES",
    "TRAINING_SEEDS",
    "EvalResults",
    "EvalSettings",
    "default_algorithms",
    "default_split",
    "describe_model",
    "evaluate",
    "model_kind",
    "regime",
]
