"""The KV cache of a :class:`~transnar.lm.DecoderLM`: keys and values of every
layer, stored rotated (each key keeps the position it was computed at).

Shapes: ``B`` batch, ``H`` heads, ``T`` new tokens, ``S`` cached + new tokens,
``Dh`` head width.
"""

from __future__ import annotations

import torch


class LayerCache:
    """Keys and values of one layer, stored rotated: ``(B, H, capacity, Dh)``.

    Allocated at the first update (with the keys' dtype and device, so it
    follows autocast) and doubled when full.
    """

    def __init__(self, capacity: int = 0):
        self.capacity = capacity
        self.length = 0
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Appends ``k``, ``v`` ``(B, H, T, Dh)``; returns all keys and values ``(B, H, S, Dh)``."""
        B, H, T, Dh = k.shape
        end = self.length + T
        if self.keys is None or end > self.keys.shape[2]:
            capacity = max(end, self.capacity, 2 * (0 if self.keys is None else self.keys.shape[2]))
            keys, values = k.new_empty(B, H, capacity, Dh), v.new_empty(B, H, capacity, Dh)
            if self.keys is not None:
                keys[:, :, : self.length] = self.keys[:, :, : self.length]
                values[:, :, : self.length] = self.values[:, :, : self.length]
            self.keys, self.values = keys, values
        self.keys[:, :, self.length : end] = k
        self.values[:, :, self.length : end] = v
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]


class KVCache:
    """The :class:`LayerCache` of every layer; ``length`` tokens are cached.

    Args:
        n_layers: number of blocks.
        capacity: tokens to preallocate per layer (prompt + longest answer);
            the cache grows beyond it if needed.
    """

    def __init__(self, n_layers: int, capacity: int = 0):
        self.layers = [LayerCache(capacity) for _ in range(n_layers)]

    @property
    def length(self) -> int:
        return self.layers[0].length


__all__ = ["KVCache", "LayerCache"]
