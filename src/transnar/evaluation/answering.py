"""Answering one CLRS-Text question from its text alone (``transnar generate``).

The NAR needs the instance's graph, and a CLRS-Text question holds all of it:
:func:`~transnar.clrs.text.parse_question` reads the input probes back,
:func:`~transnar.clrs.initial_state` runs the algorithm up to its first hint
snapshot only, and ``Features.from_trajectories`` builds the NAR's batch of one
from that. The decoding budget and the
random positions are those of the evaluation
(:mod:`~transnar.evaluation.decoding`): the same question with the same
position seed gets the same answer here and in ``transnar lm eval``.
Nothing before the answer reads the true answer: the algorithm runs to its
end (:func:`~transnar.clrs.execute`) only after generation, to score, and not
at all with ``score=False``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from transnar.arms import ARM_NAMES
from transnar.clrs.execute import execute, initial_state
from transnar.clrs.text.answer_scores import AnswerScores, score_answer
from transnar.clrs.text.formatting import (
    format_example,
    marker_offset_of,
)
from transnar.clrs.text.questions import has_index_hints, has_trace, parse_question
from transnar.evaluation.decoding import check_nar_knows, decode_questions, decoding_budget
from transnar.lm.generation import evaluation_positions
from transnar.lm.tokenizer import CharTokenizer

_TOKEN = re.compile(r"[\[\](),:]|[^\s\[\](),:]+")
"""The tokens of a value's text: brackets, commas, colons and numbers."""


@dataclass(frozen=True)
class Answer:
    """A model's answer to one question.

    Attributes:
        question: the prompt given to the model.
        algorithm: the question's algorithm.
        num_nodes: nodes of its instance.
        text: the answer, up to (without) the blank line that ends it.
        stopped: whether it ended (blank line or ``<eos>``) within the bound.
        truth: the true answer (without the blank line), computed after the
            answer; ``None`` when not scored (``score=False``).
        scores: the CLRS-Text scores of ``text`` against ``truth``; ``None``
            when not scored.
        max_new_tokens: the bound on generated tokens.
        positions: ``"random"`` or ``"linear"``, as decoded.
    """

    question: str
    algorithm: str
    num_nodes: int
    text: str
    stopped: bool
    truth: str | None
    scores: AnswerScores | None
    max_new_tokens: int
    positions: str


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
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    arm: str | None = None,
    seed: int | None = None,
) -> tuple[nn.Module, Path]:
    """A saved :class:`~transnar.model.TransNAR` (or baseline, or control):
    ``path`` is the directory of ``save_pretrained``, a training run directory
    holding it in ``model/``, or a pipeline run directory (``transnar run``),
    whose model is picked by ``arm`` and ``seed`` (:func:`find_model`).

    Returns:
        The model (evaluation mode, on ``device``) and the directory it was read from.

    Raises:
        ValueError: no saved model there, or a corrupt one.
    """
    from transnar.model import TransNAR

    directory, _ = find_model(path, arm, seed)
    try:
        model = TransNAR.from_pretrained(directory, map_location=str(device))
    except FileNotFoundError as error:
        raise ValueError(str(error)) from None
    return model.to(device).eval(), directory


def find_model(
    path: str | os.PathLike, arm: str | None = None, seed: int | None = None
) -> tuple[Path, str | None]:
    """The directory of the saved model that ``path`` means, and a note naming
    the model picked when ``path`` is a pipeline run.

    ``path`` is the directory of ``save_pretrained``, a run directory holding
    one in ``model/``, or a pipeline run directory (``config.yaml``,
    ``stages/``, ``<arm>-s<seed>/model/``): there ``arm`` (``baseline``,
    ``control`` or ``transnar``; default ``transnar``) and ``seed`` (the
    language model's training seed; default the arm's first) pick the model.

    Raises:
        ValueError: no such directory; ``arm`` or ``seed`` for a directory that
            is not a pipeline run; no trained model of that arm and seed.
    """
    from transnar.model.transnar import CONFIG_FILENAME

    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such directory")
    if not _is_pipeline_run(path):
        if arm is not None or seed is not None:
            raise ValueError(
                f"--arm and --model-seed pick a model of a pipeline run (transnar run); "
                f"{path} is not one"
            )
        directory = path
        if not (path / CONFIG_FILENAME).is_file() and (path / "model" / CONFIG_FILENAME).is_file():
            directory = path / "model"
        return directory, None
    trained = {}
    for child in sorted(path.iterdir()):
        match = _ARM_DIR.fullmatch(child.name)
        if match and (child / "model" / CONFIG_FILENAME).is_file():
            trained[match[1], int(match[2])] = child / "model"
    if arm is not None and arm not in ARM_NAMES:
        raise ValueError(f"--arm must be one of {', '.join(ARM_NAMES)}, got {arm!r}")
    available = ", ".join(f"{a}-s{s}" for a, s in sorted(trained)) or "none yet"
    arm = arm or "transnar"
    seeds = sorted(s for a, s in trained if a == arm)
    if seed is None and seeds:
        seed = seeds[0]
    if seed is None or (arm, seed) not in trained:
        which = arm if seed is None else f"{arm}-s{seed}"
        raise ValueError(
            f"{path} is a pipeline run without a trained {which} model (trained: "
            f"{available}); pick one with --arm and --model-seed, or finish the run "
            f"(transnar run --out {path})"
        )
    directory = trained[arm, seed]
    others = [f"{a}-s{s}" for a, s in sorted(trained) if (a, s) != (arm, seed)]
    note = f"using {directory}: the {arm} model of seed {seed} of the pipeline run {path}"
    if others:
        note += f" (others: {', '.join(others)}; pick with --arm and --model-seed)"
    return directory, note


_ARM_DIR = re.compile(rf"({'|'.join(ARM_NAMES)})-s(\d+)")


def _is_pipeline_run(path: Path) -> bool:
    """Whether ``path`` is a pipeline run directory (its ``stages/`` or ``config.yaml``)."""
    return (path / "stages").is_dir() or (path / "config.yaml").is_file()


def answer_question(
    model: nn.Module,
    question: str,
    tokenizer: CharTokenizer | None = None,
    max_new_tokens: int | None = None,
    positions: str | None = None,
    seed: int = 0,
    score: bool = True,
) -> Answer:
    """Greedy answer of ``model`` to one CLRS-Text question, from its text alone.

    Before answering, the algorithm runs only up to its first hint snapshot
    (:func:`~transnar.clrs.initial_state`: the NAR's graph, and the check of a
    trace question's ``initial_trace``); the true answer is computed after.
    The question says whether answers have traces (its output-names line)
    and index hints (:func:`~transnar.clrs.text.has_index_hints`, starting
    at ``a`` or, shifted, further along): the budget, the truth and the scores
    follow it.

    Args:
        model: a TransNAR or baseline (or any model :func:`~transnar.lm.generate` decodes).
        question: the question (see :func:`normalize_question` for loose input).
        tokenizer: default the model's.
        max_new_tokens: the bound on generated tokens; default as in
            evaluation (:func:`~transnar.evaluation.decoding.decoding_budget`).
        positions: ``random`` or ``linear``; default the model's at evaluation.
        seed: seeds random positions with the question's text
            (:func:`~transnar.evaluation.decoding.question_generator`): the
            answer is the one :func:`~transnar.evaluation.evaluate` gives this
            question with ``position_seed=seed``.
        score: after answering, run the algorithm to its end for the true
            answer and the scores; ``False``: no run beyond the first hint
            (``truth`` and ``scores`` are then ``None``).

    Raises:
        ValueError: a malformed question (naming line and column), an
            instance the algorithm rejects, an initial trace that is not the
            algorithm's first step, an algorithm the NAR does not know,
            characters outside the tokenizer's alphabet.
    """
    question = normalize_question(question)
    tokenizer = tokenizer or getattr(model, "tokenizer", None) or CharTokenizer()
    algorithm, inputs = parse_question(question)  # checks a trace against the first step
    index_hints = has_index_hints(question)  # parse_question checked every marker
    try:
        state = initial_state(algorithm, inputs)
    except ValueError as error:
        raise ValueError(f"the question's instance is not valid for {algorithm}: {error}") from None
    use_hints = has_trace(question)
    unknown = tokenizer.unknown_characters(question)
    if unknown:
        position, character = unknown[0]
        raise ValueError(f"character {character!r} at position {position} is not in the alphabet")
    if positions is None:
        positions = evaluation_positions(model)
    if max_new_tokens is None:
        max_new_tokens = decoding_budget(
            algorithm, inputs, use_hints, question, tokenizer, model, positions, index_hints
        )
    if max_new_tokens < 1:
        raise ValueError("the question leaves no room for an answer within the model's positions")
    check_nar_knows(model, [algorithm])
    generation, _ = decode_questions(
        model, tokenizer, [question], [state], [max_new_tokens], positions, seed
    )
    text = generation.texts[0]
    truth = scores = None
    if score:  # only now: the whole run, for the true answer
        trajectory = execute(algorithm, inputs)
        offset = marker_offset_of(question) if index_hints else 0  # shifted markers too
        truth = format_example(
            trajectory, use_hints, index_hints=index_hints, marker_offset=offset
        )[1]
        scores = score_answer(algorithm, text, truth, use_hints, index_hints)
    return Answer(
        question=question,
        algorithm=algorithm,
        num_nodes=state.num_nodes,
        text=text.split("\n\n", 1)[0].strip("\n"),
        stopped=generation.stopped[0],
        truth=None if truth is None else truth.strip("\n"),
        scores=scores,
        max_new_tokens=max_new_tokens,
        positions=positions,
    )


__all__ = [
    "Answer",
    "answer_question",
    "find_model",
    "load_model",
    "normalize_question",
]
