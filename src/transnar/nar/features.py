"""The torch boundary: a batch of preprocessed trajectories as tensors.

Shapes (``B`` batch, ``T`` hint steps, ``N`` nodes, ``C`` classes):

- node probes ``(B, N)`` (categorical ``(B, N, C)``), edge probes ``(B, N, N)``
  (categorical ``(B, N, N, C)``), graph probes ``(B,)`` (categorical
  ``(B, C)``); a permutation pointer is ``(B, N, N)`` one-hot rows;
- hints carry the time axis after the batch axis: ``(B, T, ...)``;
- pointers are ``int64`` node indices, everything else ``float32``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from transnar.clrs import Batch, Trajectory, collate
from transnar.clrs.specs import AlgorithmSpec, Type
from transnar.clrs.transforms import preprocess


@dataclass
class Features:
    """One algorithm's batch, preprocessed for the NAR, as tensors.

    Attributes:
        algorithm: the algorithm's name.
        spec: the probe table after preprocessing (``pred_h`` as input,
            permutation outputs).
        inputs: probe name -> ``(B, ...)`` tensor.
        hints: probe name -> ``(B, T, ...)`` tensor, zero after each length.
        outputs: probe name -> ``(B, ...)`` tensor.
        lengths: ``(B,)`` int64, hint steps per sample.
        node_mask: ``(B, N)`` bool, True on real (not padding) nodes.
    """

    algorithm: str
    spec: AlgorithmSpec
    inputs: dict[str, torch.Tensor]
    hints: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor]
    lengths: torch.Tensor
    node_mask: torch.Tensor

    @property
    def batch_size(self) -> int:
        return self.lengths.shape[0]

    @property
    def num_nodes(self) -> int:
        return self.node_mask.shape[1]

    @property
    def max_length(self) -> int:
        return next(iter(self.hints.values())).shape[1] if self.hints else 1

    def rows(self, index: torch.Tensor) -> Features:
        """The samples ``index`` (``(R,)`` int64) of the batch; the time axis keeps
        the batch's length."""

        def take(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {k: v.index_select(0, index) for k, v in tensors.items()}

        return Features(
            self.algorithm,
            self.spec,
            take(self.inputs),
            take(self.hints),
            take(self.outputs),
            self.lengths.index_select(0, index),
            self.node_mask.index_select(0, index),
        )

    def to(self, device: torch.device | str) -> Features:
        """The same features on ``device``."""

        def move(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {k: v.to(device) for k, v in tensors.items()}

        return Features(
            self.algorithm,
            self.spec,
            move(self.inputs),
            move(self.hints),
            move(self.outputs),
            self.lengths.to(device),
            self.node_mask.to(device),
        )

    @classmethod
    def from_batch(cls, batch: Batch) -> Features:
        """Tensors of a collated batch of (preprocessed) trajectories."""

        def convert(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
            out = {}
            for name, value in arrays.items():
                if batch.spec[name].type is Type.POINTER:
                    out[name] = torch.from_numpy(value.astype(np.int64))
                else:
                    out[name] = torch.from_numpy(value.astype(np.float32))
            return out

        n = int(batch.num_nodes.max())
        node_mask = torch.from_numpy(np.arange(n)[None, :] < batch.num_nodes[:, None])
        return cls(
            algorithm=batch.algorithm,
            spec=batch.spec,
            inputs=convert(batch.inputs),
            hints=convert(batch.hints),
            outputs=convert(batch.outputs),
            lengths=torch.from_numpy(batch.lengths.astype(np.int64)),
            node_mask=node_mask,
        )

    @classmethod
    def from_trajectories(
        cls, trajectories: Sequence[Trajectory], rng: np.random.RandomState | None = None
    ) -> Features:
        """Preprocesses (``pred_h`` as input, permutations; random ``pos`` when
        ``rng`` is given), collates and converts raw trajectories."""
        return cls.from_batch(collate([preprocess(t, rng) for t in trajectories]))
