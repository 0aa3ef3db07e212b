"""Greedy batched decoding of CLRS-Text answers, with or without a KV cache.

A CLRS-Text answer ends with a blank line (``"\\n\\n"``), so decoding stops each
sequence at its first blank line, at ``<eos>``, or after its budget
(``max_new_tokens``: one for all, or one per prompt).

Layout: the prompts (``<bos>`` + question) are padded on the **left**, so every
sequence's next token goes to the same column; an ``attention_mask`` keeps the
padding out of attention; so does it keep the answer slots beyond a
sequence's own budget, which it never fills. Each sequence's positions are
fixed before decoding for its own prompt plus its own budget (random
positions: one sorted draw of that many from ``[0, max_position)``, as Ruoss
et al. 2023; linear: ``0, 1, ...``) and consumed left to right, so a token has
the same position whether it is fed as prompt, as a cached step or in a full
recomputation. A budget that depends on the question alone thus keeps the
positions free of the true answer.

The model is anything with :class:`~transnar.lm.DecoderLM`'s ``forward``
signature (``model(input_ids, positions=..., cache=..., attention_mask=...,
**forward_kwargs)`` returning an object with ``logits``) and, for the cached
path, a ``make_cache(capacity)`` method. TransNAR passes its graph memory
through ``forward_kwargs``, forwarded to every call.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from transnar.lm.positions import linear_positions, pad_positions, random_positions
from transnar.lm.tokenizer import Tokenizer

BLANK_LINE = "\n\n"
POSITION_KINDS = ("random", "linear")


@dataclass
class Generation:
    """What :func:`generate` returns, one entry per prompt.

    Attributes:
        texts: the decoded answers, up to and including the blank line that
            ends them (so a correct answer equals the CLRS-Text ``answer``).
        num_tokens: tokens generated (the stop included).
        token_ids: those tokens.
        stopped: True where the answer ended (blank line or ``<eos>``), False
            where its budget (``max_new_tokens``) cut it.
    """

    texts: list[str]
    num_tokens: list[int]
    token_ids: list[list[int]]
    stopped: list[bool]


@torch.no_grad()
def generate(
    model: nn.Module,
    tokenizer: Tokenizer,
    prompts: Sequence[str],
    max_new_tokens: int | Sequence[int],
    positions: str | None = None,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    use_cache: bool = True,
    add_bos: bool = True,
    max_position: int | None = None,
    stop: str = BLANK_LINE,
    **forward_kwargs,
) -> Generation:
    """Greedy answers to ``prompts``, batched.

    Args:
        model: a :class:`~transnar.lm.DecoderLM` or anything with its
            ``forward`` signature (see the module docstring). Put in eval mode
            for the call if it is in training mode, then put back.
        tokenizer: encodes the prompts and decodes the answers.
        prompts: the questions (CLRS-Text ``question``, ending in ``":\\n"``).
        max_new_tokens: the most tokens generated per prompt: one budget for
            all, or one per prompt (a sequence's positions are drawn for its
            own prompt and budget, and it is cut at its own budget).
        positions: ``"random"`` (one sorted random draw per sequence, the
            reference's evaluation) or ``"linear"``; ``None``: what the model
            uses at evaluation (its ``uses_random_positions()`` in eval mode;
            random for a model without that method).
        generator: random generator of the positions (default: torch's global
            one), or one per prompt (as the evaluation passes them): with a single
            one, a prompt's positions depend on the other prompts of the batch.
        use_cache: decode with a KV cache (one token per step) or recompute
            the whole sequence at every step (slow; for tests and benchmarks).
        add_bos: start each prompt with ``<bos>``, as in training
            (:meth:`~transnar.lm.tokenizer.Tokenizer.encode_example`).
        max_position: ``L_max`` for random positions (default ``model.max_position``).
        stop: the text that ends an answer.
        **forward_kwargs: passed to every ``model(...)`` call (e.g. TransNAR's
            graph memory).

    Returns:
        A :class:`Generation`.
    """
    if isinstance(prompts, str):
        raise ValueError("prompts must be a sequence of strings, not one string")
    if positions is None:
        positions = evaluation_positions(model)
    if positions not in POSITION_KINDS:
        raise ValueError(f"positions must be one of {POSITION_KINDS}, got {positions!r}")
    budgets = _budgets(max_new_tokens, len(prompts))
    if not prompts:
        return Generation([], [], [], [])
    device = model_device(model)
    encoded = [tokenizer.encode(p, add_bos=add_bos) for p in prompts]
    if min(len(e) for e in encoded) == 0:
        raise ValueError("an empty prompt (without <bos>) has nothing to continue")
    prompt_ids, prompt_mask = tokenizer.pad(encoded, padding_side="left")  # (B, P)
    B, P = prompt_ids.shape
    if positions == "random" and max_position is None:
        max_position = getattr(model, "max_position", None)
        if max_position is None:
            raise ValueError("random positions need max_position (the model has none)")
    mask, layout_positions = _layout(prompt_mask, budgets, positions, max_position, generator)
    mask, layout_positions = mask.to(device), layout_positions.to(device)  # (B, total) each
    prompt_ids = prompt_ids.to(device)
    longest = max(budgets)
    tokens = torch.empty(B, longest, dtype=torch.long, device=device)
    answers = _Answers(tokenizer, budgets, stop)
    with _eval_mode(model):
        cache = model.make_cache(P + longest) if use_cache else None
        logits = model(
            prompt_ids,
            positions=layout_positions[:, :P],
            cache=cache,
            attention_mask=mask[:, :P],
            **forward_kwargs,
        ).logits  # (B, P, V)
        for step in range(longest):
            # ids past the tokenizer's (a vocabulary padded for speed) are never chosen
            next_ids = logits[:, -1, : len(tokenizer)].argmax(dim=-1)  # (B,)
            tokens[:, step] = next_ids
            if answers.add(next_ids.tolist()):
                break
            t = P + step  # the column of the token just chosen
            if use_cache:
                inputs, span = next_ids[:, None], slice(t, t + 1)  # (B, 1)
            else:  # recompute everything: prompt and answer so far
                inputs, span = (
                    torch.cat([prompt_ids, tokens[:, : step + 1]], dim=1),
                    slice(0, t + 1),
                )
            logits = model(
                inputs,
                positions=layout_positions[:, span],
                cache=cache,
                attention_mask=mask[:, : t + 1],
                **forward_kwargs,
            ).logits  # (B, 1 or t + 1, V)
    token_ids = [tokens[b, : answers.counts[b]].tolist() for b in range(B)]
    return Generation(answers.texts, answers.counts, token_ids, answers.stopped)


def _layout(
    prompt_mask: torch.Tensor,
    budgets: list[int],
    positions: str,
    max_position: int | None,
    generator: torch.Generator | Sequence[torch.Generator] | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole layout of a batch: left padding, prompt, then each sequence's own
    answer slots. ``prompt_mask`` ``(B, P)``; returns the attention mask and the
    positions, ``(B, P + max(budgets))`` each, positions drawn for each sequence's
    prompt plus its own budget and laid on its real tokens."""
    longest = max(budgets)
    answer_mask = torch.arange(longest) < torch.tensor(budgets)[:, None]  # (B, longest)
    mask = torch.cat([prompt_mask, answer_mask], dim=1)  # (B, total)
    lengths = mask.sum(dim=1)  # (B,) prompt + own budget
    width = int(lengths.max())  # the longest prompt + own budget
    B = mask.shape[0]
    if positions == "random":
        drawn = random_positions(B, width, max_position, generator=generator, lengths=lengths)
    else:
        drawn = linear_positions(B, width)
    return mask, pad_positions(drawn, mask)


class _Answers:
    """Each sequence's answer text as tokens come, and whether it is done:
    stopped (the ``stop`` text or ``<eos>``) or cut at its budget."""

    def __init__(self, tokenizer: Tokenizer, budgets: list[int], stop: str):
        self.tokenizer, self.budgets, self.stop = tokenizer, budgets, stop
        count = len(budgets)
        self.texts = [""] * count
        self.counts = [0] * count
        self.stopped = [False] * count
        self.done = [False] * count

    def add(self, token_ids: list[int]) -> bool:
        """One new token per sequence (those of done sequences are ignored);
        whether every sequence is done."""
        stop = self.stop
        for b, token_id in enumerate(token_ids):
            if self.done[b]:
                continue
            self.counts[b] += 1
            if token_id == self.tokenizer.eos_id:
                self.stopped[b] = True
            else:
                piece = self.tokenizer.decode([token_id])
                self.texts[b] += piece
                if stop and stop in self.texts[b][-(len(stop) + len(piece)) :]:
                    self.texts[b] = self.texts[b][: self.texts[b].index(stop) + len(stop)]
                    self.stopped[b] = True
            self.done[b] = self.stopped[b] or self.counts[b] == self.budgets[b]
        return all(self.done)


def _budgets(max_new_tokens: int | Sequence[int], count: int) -> list[int]:
    """Each prompt's budget: ``max_new_tokens`` for all, or one per prompt."""
    if isinstance(max_new_tokens, numbers.Integral):
        budgets = [int(max_new_tokens)] * count
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        return budgets
    budgets = [int(b) for b in max_new_tokens]
    if len(budgets) != count:
        raise ValueError(f"max_new_tokens has {len(budgets)} budgets for {count} prompts")
    if budgets and min(budgets) < 1:
        raise ValueError(f"max_new_tokens must be at least 1, got {min(budgets)}")
    return budgets


def evaluation_positions(model: nn.Module) -> str:
    """``"random"`` or ``"linear"``: the positions ``model`` uses in eval mode
    (its ``uses_random_positions()``; random for a model without that method)."""
    uses_random_positions = getattr(model, "uses_random_positions", None)
    if uses_random_positions is None:
        return "random"
    with _eval_mode(model):
        return "random" if uses_random_positions() else "linear"


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters (CPU for a model without any)."""
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Eval mode for the block (no dropout), then the model's mode as it was."""
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


__all__ = ["BLANK_LINE", "Generation", "evaluation_positions", "generate", "model_device"]
