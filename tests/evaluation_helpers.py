"""Helpers of the evaluation tests: tiny random models, saved; a truthful decoder.

Import them as ``from tests.evaluation_helpers import ...``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from transnar.clrs.execute import execute
from transnar.clrs.text import format_example, has_index_hints, parse_question
from transnar.clrs.text.answer_scores import AnswerScores
from transnar.clrs.text.score_report import ScoredRow, aggregate
from transnar.lm import CharTokenizer, DecoderLM, Generation, LMConfig
from transnar.model import TransNAR, TransNARConfig
from transnar.nar import NAR, NARConfig

ALGORITHMS = ("bfs", "insertion_sort")
NAR_HIDDEN = 8


def tiny_lm_config(**overrides) -> LMConfig:
    options = {"vocab_size": 79, "d_model": 32, "n_layers": 2, "n_heads": 4, "max_position": 512}
    return LMConfig(**{**options, **overrides})


def tiny_model(use_nar: bool = True, algorithms=ALGORITHMS, seed: int = 0) -> TransNAR:
    """A tiny random TransNAR (or baseline), in eval mode."""
    torch.manual_seed(seed)
    lm_config = tiny_lm_config()
    lm = DecoderLM(lm_config, tokenizer=CharTokenizer())
    if not use_nar:
        return TransNAR(TransNARConfig(lm=lm_config, use_nar=False), lm).eval()
    nar = NAR(NARConfig(algorithms=tuple(algorithms), hidden_dim=NAR_HIDDEN, nb_triplet_fts=4))
    config = TransNARConfig(lm=lm_config, nar_node_dim=NAR_HIDDEN, nar_edge_dim=NAR_HIDDEN)
    return TransNAR(config, lm, nar).eval()


def talkative_model(use_nar: bool = True) -> TransNAR:
    """A tiny TransNAR (or baseline) with large random weights: it runs on past
    any answer, and its tokens depend on their positions (and the graph memory)."""
    model = tiny_model(use_nar=use_nar)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator))
    return model


def saved_model(directory: Path, use_nar: bool = True, **options) -> Path:
    """``directory`` holding a tiny model saved with ``save_pretrained``."""
    tiny_model(use_nar, **options).save_pretrained(directory)
    return directory


def truth_of(question: str) -> str:
    """The true answer of a question (its instance read back and run), with
    traces and index hints when the question has them."""
    trajectory = execute(*parse_question(question))
    use_hints = question.rstrip("\n").rsplit("\n", 1)[-1].startswith("trace | ")
    return format_example(trajectory, use_hints, index_hints=has_index_hints(question))[1]


class TruthfulGenerate:
    """A stand-in for :func:`transnar.lm.generate` that answers every question
    right, recording each call's arguments."""

    def __init__(self):
        self.calls: list[dict] = []

    def __call__(self, model, tokenizer, prompts, max_new_tokens, **kwargs) -> Generation:
        self.calls.append({"prompts": list(prompts), "max_new_tokens": max_new_tokens, **kwargs})
        texts = [truth_of(p) for p in prompts]
        counts = [len(t) for t in texts]
        return Generation(texts, counts, [[0] * n for n in counts], [True] * len(texts))


def results_document(label, kind, clrs_by_cell, sha="x"):
    """A minimal results document with the given CLRS scores (parse = shape = 1)."""
    rows = [
        ScoredRow(0, algorithm, size, False, AnswerScores(1.0, 1.0, value, None))
        for (algorithm, size), value in clrs_by_cell.items()
    ]
    return {
        "label": label,
        "model": {"kind": kind},
        "data_sha256": sha,
        "scores": aggregate(rows).to_dict(),
        "source": f"{label}.json",
    }
