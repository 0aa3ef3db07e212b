"""How one question is decoded, the same in ``transnar lm eval`` and ``transnar generate``.

Two things besides the model decide a greedy answer, and both depend on the
question alone, so that an answer can be reproduced one question at a time:

- the **budget** (:func:`decoding_budget`): at most
  :func:`~transnar.clrs.text.answer_length_bound` tokens, the larger bound of
  the two float formats (CLRS-30 answers without traces hold no float, so the
  format changes nothing there), capped so that the prompt and the answer fit
  the model's ``max_position`` when positions are random;
- the **random positions** (:func:`question_generator`): drawn, for the
  question's prompt plus its budget, from a generator seeded by the position
  seed and the question's text, one generator per question
  (:func:`~transnar.lm.positions.random_positions`).

So ``transnar generate MODEL --seed S --question Q`` answers ``Q`` exactly as
``transnar lm eval MODEL --position-seed S`` did in its batch (up to
floating-point ties between batched and single decoding). Both decode through
:func:`decode_questions`: the model's NAR (when it has one) reads each
question's graph, then greedy decoding within the budgets.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from transnar.clrs.text.budget import answer_length_bound
from transnar.clrs.text.formatting import FLOAT_FORMATS
from transnar.clrs.trajectory import Trajectory
from transnar.lm.generation import Generation, generate, model_device
from transnar.lm.tokenizer import Tokenizer
from transnar.nar.features import Features

GenerateFn = Callable[..., Generation]
""":func:`~transnar.lm.generate`, or anything with its signature (tests pass stubs)."""


def question_generator(position_seed: int, question: str) -> torch.Generator:
    """The generator of one question's random positions: seeded from
    ``position_seed`` and the question's text, nothing else."""
    key = f"{int(position_seed)}\n{question}".encode()
    seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1
    return torch.Generator().manual_seed(seed)


def decoding_budget(
    algorithm: str,
    inputs: Mapping[str, Any],
    use_hints: bool,
    prompt: str,
    tokenizer: Tokenizer,
    model: nn.Module,
    positions: str,
    index_hints: bool = False,
) -> int:
    """The most tokens the answer to ``prompt`` may take.

    Args:
        algorithm: the question's algorithm.
        inputs: its input probes (a trajectory's or the parsed question's).
        use_hints: whether the answer carries its trace.
        prompt: the question's text (its tokens with ``<bos>`` count against
            ``max_position``).
        tokenizer: encodes the prompt.
        model: its ``max_position`` (if any) caps random positions.
        positions: ``"random"`` or ``"linear"``.
        index_hints: whether the answer carries index markers (the bound
            counts them).

    Raises:
        ValueError: the prompt leaves no room for an answer within the
            model's ``max_position``.
    """
    budget = max(
        answer_length_bound(algorithm, inputs, use_hints, f, index_hints) for f in FLOAT_FORMATS
    )
    limit = getattr(model, "max_position", None)
    if limit is None or positions != "random":
        return budget
    length = len(tokenizer.encode(prompt, add_bos=True))
    if limit - length < 1:
        raise ValueError(
            f"a prompt of {length} tokens leaves no room for an answer within the model's "
            f"max_position {limit}"
        )
    return min(budget, limit - length)


def check_nar_knows(model: nn.Module, algorithms: Sequence[str]) -> None:
    """Raises ``ValueError`` naming those of ``algorithms`` that the model's NAR
    was not trained on (a model without a NAR decodes any algorithm)."""
    nar = getattr(model, "nar", None)
    if nar is None:
        return
    unknown = [a for a in algorithms if a not in nar.config.algorithms]
    if unknown:
        raise ValueError(
            f"the model's NAR was not trained on {', '.join(unknown)} "
            f"(it knows {', '.join(nar.config.algorithms)})"
        )


def decode_questions(
    model: nn.Module,
    tokenizer: Tokenizer,
    questions: Sequence[str],
    graphs: Sequence[Trajectory],
    budgets: Sequence[int],
    positions: str,
    position_seed: int,
    generate_fn: GenerateFn = generate,
) -> tuple[Generation, float]:
    """Greedy answers to ``questions`` of one algorithm and size, as every
    command decodes them.

    A model with a NAR first reads their graphs (``graphs``: each question's
    trajectory, or its :func:`~transnar.clrs.initial_state`: only the inputs
    are read) through :meth:`~transnar.model.TransNAR.graph_memory`; each
    question may generate ``budgets[i]`` tokens (:func:`decoding_budget`) and
    draws its random positions from :func:`question_generator`; ``generate_fn``
    decodes.

    Returns:
        The generation, and the seconds the NAR took (0 without one).
    """
    memory: dict[str, Any] = {}
    nar_seconds = 0.0
    if getattr(model, "nar", None) is not None:
        start = time.perf_counter()
        features = Features.from_trajectories(list(graphs)).to(model_device(model))
        memory["memory"] = model.graph_memory(features)
        nar_seconds = time.perf_counter() - start
    generation = generate_fn(
        model,
        tokenizer,
        list(questions),
        list(budgets),
        positions=positions,
        generator=[question_generator(position_seed, q) for q in questions],
        **memory,
    )
    return generation, nar_seconds


__all__ = [
    "GenerateFn",
    "check_nar_knows",
    "decode_questions",
    "decoding_budget",
    "question_generator",
]
