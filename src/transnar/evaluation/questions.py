"""Answering one CLRS-Text question from its text alone (``transnar generate``).

The NAR needs the instance's graph, and a CLRS-Text question holds all of it:
:func:`~transnar.clrs.text.parse_question` reads the input probes back,
:func:`~transnar.clrs.execute` runs the algorithm (which also gives the true
answer), and ``Features.from_trajectories`` builds the NAR's batch of one.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from transnar.clrs.execute import execute
from transnar.clrs.text.answers import AnswerScores, score_answer
from transnar.clrs.text.formatting import TRACE, TRACE_SEPARATOR, format_example
from transnar.clrs.text.questions import parse_question
from transnar.lm.generation import generate
from transnar.lm.tokenizer import CharTokenizer
from transnar.nar.features import Features


@dataclass(frozen=True)
class Answer:
    """A model's answer to one question.

    Attributes:
        question: the prompt given to the model.
        algorithm: the question's algorithm.
        num_nodes: nodes of its instance.
        text: the answer, up to (without) the blank line that ends it.
        stopped: whether it ended (blank line or ``<eos>``) within the bound.
        truth: the true answer (without the blank line).
        scores: the CLRS-Text scores of ``text`` against ``truth``.
        max_new_tokens: the bound on generated tokens.
    """

    question: str
    algorithm: str
    num_nodes: int
    text: str
    stopped: bool
    truth: str
    scores: AnswerScores
    max_new_tokens: int


def normalize_question(text: str) -> str:
    """A question as typed on a command line: literal ``\\n`` become newlines
    when the text has no real one; the last line gets its newline."""
    if "\n" not in text and "\\n" in text:
        text = text.replace("\\n", "\n")
    text = text.strip(" \t\r\n")
    if not text:
        raise ValueError("the question is empty")
    return text + "\n"


def load_model(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[nn.Module, Path]:
    """A saved :class:`~transnar.model.TransNAR` (or baseline): ``path`` is the
    directory of ``save_pretrained`` or a run directory holding it in ``model/``.

    Returns:
        The model (evaluation mode, on ``device``) and the directory it was read from.

    Raises:
        ValueError: no saved model there, or a corrupt one.
    """
    from transnar.model import CONFIG_FILENAME, TransNAR

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such directory")
    directory = path
    if not (path / CONFIG_FILENAME).is_file() and (path / "model" / CONFIG_FILENAME).is_file():
        directory = path / "model"
    try:
        model = TransNAR.from_pretrained(directory, map_location=str(device))
    except FileNotFoundError as error:
        raise ValueError(str(error)) from None
    return model.to(device).eval(), directory


def answer_question(
    model: nn.Module,
    question: str,
    tokenizer: CharTokenizer | None = None,
    max_new_tokens: int | None = None,
    positions: str | None = None,
    seed: int = 0,
    margin: float = 0.25,
    min_margin: int = 8,
) -> Answer:
    """Greedy answer of ``model`` to one CLRS-Text question.

    Args:
        model: a TransNAR or baseline (or any model :func:`~transnar.lm.generate` decodes).
        question: the question (see :func:`normalize_question` for loose input).
        tokenizer: default the model's.
        max_new_tokens: the bound on generated tokens; default as in
            evaluation: the true answer's length plus a margin.
        positions: ``random`` or ``linear``; default the model's.
        seed: seeds random positions.
        margin, min_margin: the default bound's margin (see
            :class:`~transnar.evaluation.EvalSettings`).

    Raises:
        ValueError: a malformed question (naming line and column), an
            instance the algorithm rejects, an algorithm the NAR does not know,
            characters outside the tokenizer's alphabet.
    """
    question = normalize_question(question)
    tokenizer = tokenizer or getattr(model, "tokenizer", None) or CharTokenizer()
    algorithm, inputs = parse_question(question)
    try:
        trajectory = execute(algorithm, inputs)
    except ValueError as error:
        raise ValueError(f"the question's instance is not valid for {algorithm}: {error}") from None
    names_line = question.rstrip("\n").rsplit("\n", 1)[-1]
    use_hints = names_line.startswith(f"{TRACE}{TRACE_SEPARATOR}")
    truth = format_example(trajectory, use_hints)[1]
    unknown = tokenizer.unknown_characters(question)
    if unknown:
        position, character = unknown[0]
        raise ValueError(f"character {character!r} at position {position} is not in the alphabet")
    if max_new_tokens is None:
        longest = len(tokenizer.encode(truth))
        max_new_tokens = longest + max(min_margin, math.ceil(margin * longest))
        limit = getattr(model, "max_position", None)
        if limit is not None:
            max_new_tokens = min(max_new_tokens, limit - len(tokenizer.encode(question)) - 1)
    if max_new_tokens < 1:
        raise ValueError("the question leaves no room for an answer within the model's positions")
    kwargs = {}
    nar = getattr(model, "nar", None)
    if nar is not None:
        if algorithm not in nar.config.algorithms:
            raise ValueError(
                f"the model's NAR was not trained on {algorithm!r} "
                f"(it knows {', '.join(nar.config.algorithms)})"
            )
        device = next(model.parameters()).device
        kwargs["memory"] = model.graph_memory(Features.from_trajectories([trajectory]).to(device))
    generation = generate(
        model,
        tokenizer,
        [question],
        max_new_tokens,
        positions=positions,
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    )
    text = generation.texts[0]
    return Answer(
        question=question,
        algorithm=algorithm,
        num_nodes=trajectory.num_nodes,
        text=text.split("\n\n", 1)[0].strip("\n"),
        stopped=generation.stopped[0],
        truth=truth.strip("\n"),
        scores=score_answer(algorithm, text, truth, use_hints),
        max_new_tokens=max_new_tokens,
    )


__all__ = ["Answer", "answer_question", "load_model", "normalize_question"]
