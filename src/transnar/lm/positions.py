"""Token positions for RoPE: linear, randomized, and laid onto padded batches.

**Randomized positions** (Ruoss et al. 2023; ``REFERENCE.md`` §4): each
sequence gets sorted positions drawn without replacement from
``[0, max_position)`` (:func:`random_positions`) instead of ``0 .. T-1``, so
that the rotations seen in training cover those of longer test sequences. On
in training; at evaluation ``LMConfig.random_positions_eval`` (default on, as
the reference). With a KV cache, a sequence's positions are drawn once for
prompt + longest answer and consumed left to right: cached keys are stored
rotated, so they keep their positions (:func:`~transnar.lm.generate` does this).

**Padding**: a padded batch lays each sequence's positions onto its real
tokens only (:func:`pad_positions`), so a padded sequence gets exactly the
logits it gets alone. Training batches padded on the right take
``pad_positions(random_positions(B, T, L, lengths=lengths), mask)``, so that
each sequence draws exactly as many positions as it has tokens.

Shapes: ``B`` batch, ``T`` tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def linear_positions(
    batch: int, length: int, offset: int = 0, device: torch.device | str | None = None
) -> torch.Tensor:
    """``offset, offset + 1, ...`` for every sequence: ``(B, T)`` int64."""
    positions = torch.arange(offset, offset + length, device=device)
    return positions.unsqueeze(0).expand(batch, length)


def random_positions(
    batch: int,
    length: int,
    max_position: int,
    generator: torch.Generator | Sequence[torch.Generator] | None = None,
    lengths: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Randomized positions (Ruoss et al. 2023): ``(B, T)`` int64.

    Each row holds sorted positions drawn uniformly without replacement from
    ``[0, max_position)``, independently per row: the positions of the ``T``
    (or ``lengths[b]``) smallest of ``max_position`` uniform keys.

    Args:
        batch: ``B``.
        length: ``T`` (at most ``max_position``).
        max_position: ``L_max``.
        generator: the random generator (default: torch's global one), or one
            generator per row: then row ``b`` depends on ``generator[b]`` and
            its own length alone, not on the rest of the batch (how
            evaluation makes each question's positions reproducible).
        lengths: optional ``(B,)``: row ``b`` draws only ``lengths[b]``
            positions, in its first ``lengths[b]`` entries; the rest are 0
            (padding; see :func:`pad_positions`). A row's draw does not
            depend on ``T``.
        device: where the result goes (drawn on the generator's device).
    """
    if length > max_position:
        raise ValueError(
            f"cannot draw {length} distinct positions from [0, {max_position}): "
            "the sequence is longer than max_position"
        )
    if generator is None or isinstance(generator, torch.Generator):
        draw_device = generator.device if generator is not None else device
        keys = torch.rand(batch, max_position, generator=generator, device=draw_device)
    else:
        if len(generator) != batch:
            raise ValueError(f"one generator per row: got {len(generator)} for {batch} rows")
        keys = torch.stack(
            [torch.rand(max_position, generator=g, device=g.device) for g in generator]
        )  # (B, max_position)
    # the positions of the T smallest keys, smallest key first: a uniform T-subset
    # per row, whose first k entries are a uniform k-subset for any k <= T
    chosen = keys.topk(length, dim=-1, largest=False, sorted=True).indices  # (B, T)
    if lengths is not None:
        lengths = torch.as_tensor(lengths, device=chosen.device).view(batch, 1)
        if (lengths > length).any():
            raise ValueError(f"lengths must be at most {length}")
        unused = torch.arange(length, device=chosen.device) >= lengths  # (B, T)
        # unused slots sort last (max_position is above every position), then become 0
        chosen = chosen.masked_fill(unused, max_position).sort(dim=-1).values
        return chosen.masked_fill(chosen == max_position, 0).to(device)
    return chosen.sort(dim=-1).values.to(device)


def pad_positions(positions: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Lays each sequence's positions onto its real tokens in a padded batch.

    Args:
        positions: ``(B, T')``: row ``b``'s positions, its ``k``-th real token
            taking ``positions[b, k]`` (``T'`` at least the most real tokens).
        attention_mask: ``(B, T)``, True on real tokens (padding anywhere).

    Returns:
        ``(B, T)`` int64: the ``k``-th real token of row ``b`` at
        ``positions[b, k]``, padding at 0.
    """
    attention_mask = attention_mask.bool()
    rank = (attention_mask.long().cumsum(dim=-1) - 1).clamp(min=0)  # (B, T): k of each token
    placed = positions.gather(1, rank)
    return placed.masked_fill(~attention_mask, 0)


def linear_positions_after(
    batch: int,
    length: int,
    past: int,
    attention_mask: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``(B, T)`` linear positions of ``length`` new tokens after ``past`` cached
    ones: ``past, past + 1, ...``, or, with an ``attention_mask`` ``(B, past +
    T)``, counted over each row's real tokens (padding at 0)."""
    if attention_mask is None:
        return linear_positions(batch, length, offset=past, device=device)
    return pad_positions(linear_positions(batch, past + length, device=device), attention_mask)[
        :, past:
    ]


def check_attention_mask(
    attention_mask: torch.Tensor | None, batch: int, past: int, length: int
) -> None:
    """A ``ValueError`` unless the mask (if any) is ``(B, cached + new tokens)``."""
    if attention_mask is not None and attention_mask.shape != (batch, past + length):
        raise ValueError(
            f"attention_mask must be (B, cached + new tokens) = {(batch, past + length)}, "
            f"got {tuple(attention_mask.shape)}"
        )


__all__ = [
    "check_attention_mask",
    "linear_positions",
    "linear_positions_after",
    "pad_positions",
    "random_positions",
]
