"""Positions (transnar.lm.positions): random draws, lengths, padding, linear."""

from __future__ import annotations

import pytest
import torch

from transnar.lm import linear_positions, pad_positions, random_positions


def test_random_positions_sorted_unique_in_range_and_distinct_rows():
    positions = random_positions(64, 50, 8192, torch.Generator().manual_seed(0))
    assert positions.shape == (64, 50) and positions.dtype == torch.int64
    assert (positions[:, 1:] > positions[:, :-1]).all()  # sorted and unique
    assert positions.min() >= 0 and positions.max() < 8192
    assert len({tuple(row) for row in positions.tolist()}) == 64
    again = random_positions(64, 50, 8192, torch.Generator().manual_seed(0))
    assert torch.equal(positions, again)
    # uniform over the range: the mean position is about L / 2
    assert abs(positions.float().mean().item() - 4096) < 200
    # all positions: a permutation of the range, so 0 .. L-1 exactly
    assert torch.equal(random_positions(2, 16, 16)[1], torch.arange(16))
    with pytest.raises(ValueError, match="longer than max_position"):
        random_positions(1, 17, 16)


def test_random_positions_with_lengths():
    lengths = torch.tensor([5, 0, 8])
    positions = random_positions(3, 8, 100, torch.Generator().manual_seed(0), lengths=lengths)
    for row, n in zip(positions, lengths.tolist(), strict=True):
        assert (row[1:n] > row[: n - 1]).all() if n > 1 else True
        assert (row[n:] == 0).all() and (row < 100).all()
    with pytest.raises(ValueError, match="at most 8"):
        random_positions(3, 8, 100, lengths=torch.tensor([9, 1, 1]))


def test_pad_positions():
    mask = torch.tensor([[False, False, True, True, True], [True, True, True, True, False]])
    drawn = torch.tensor([[3, 9, 20, 0, 0], [1, 2, 5, 7, 0]])
    assert pad_positions(drawn, mask).tolist() == [[0, 0, 3, 9, 20], [1, 2, 5, 7, 0]]
    assert linear_positions(2, 3, offset=4).tolist() == [[4, 5, 6], [4, 5, 6]]
