"""Scoring NAR predictions as the reference does (CLRS ``evaluation.py``).

Per output type: masks, F1 of the positive class (entries of -1 ignored);
``mask_one`` and categoricals, accuracy of the argmax; pointers, accuracy;
scalars, mean squared error. A permutation output and its ``_mask`` are first
fused back into predecessor pointers (the first node points to itself) and
scored as a pointer. An algorithm's score is the mean over its outputs (the
"micro-F1" of the CLRS papers). Scores are *micro* averages over a whole
evaluation set: :class:`Scorer` accumulates counts batch by batch, padding
nodes excluded.
"""

from __future__ import annotations

import torch

from transnar.clrs.specs import MASKED, AlgorithmSpec, Type
from transnar.nar.features import Features
from transnar.nar.losses import element_mask
from transnar.nar.model import NAR, NAROutput


def hard_outputs(nar: NAR, features: Features, output: NAROutput, sinkhorn_steps: int = 50) -> dict:
    """Predicted output values: masks 0/1, one-hots, pointer indices, scalars.

    Permutation outputs are fused with their masks into pointers (and the
    mask dropped), as the reference scores them.
    """
    values = nar.probe_values(features, output.outputs, hard=True, sinkhorn_steps=sinkhorn_steps)
    return fuse_permutations(nar.head(features.algorithm).spec, values)


def fuse_permutations(
    spec: AlgorithmSpec, values: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """Permutation matrix + first-node mask -> predecessor pointers (``(B, N)`` int64)."""
    fused = dict(values)
    for name, probe in spec.items():
        if probe.type is Type.PERMUTATION_POINTER and name in values:
            mask = fused.pop(f"{name}_mask")
            pointers = values[name].argmax(-1)
            self_pointers = torch.arange(pointers.shape[-1], device=pointers.device).expand_as(
                pointers
            )
            fused[name] = torch.where(mask > 0.5, self_pointers, pointers)
    return fused


class Scorer:
    """Accumulates the reference's per-output scores over many batches of one algorithm."""

    def __init__(self, spec: AlgorithmSpec):
        self.spec = spec
        self.counts: dict[str, dict[str, float]] = {}

    def update(self, predictions: dict[str, torch.Tensor], features: Features) -> None:
        """Adds one batch: ``predictions`` from :func:`hard_outputs`."""
        truth = fuse_permutations(self.spec, features.outputs)
        for name, predicted in predictions.items():
            probe = self.spec[name]
            kind = Type.POINTER if probe.type is Type.PERMUTATION_POINTER else probe.type
            real = element_mask(probe.location, features.node_mask)
            if kind is Type.MASK_ONE:
                # One choice over the last node axis: per sample (node) or per row (edge).
                real = real.any(-1)
            counts = self.counts.setdefault(name, {"a": 0.0, "b": 0.0, "c": 0.0, "n": 0.0})
            _accumulate(kind, predicted, truth[name], real, counts)

    def scores(self) -> dict[str, float]:
        """Score per output, and ``score``: their mean."""
        result = {}
        for name, counts in self.counts.items():
            probe = self.spec[name]
            kind = Type.POINTER if probe.type is Type.PERMUTATION_POINTER else probe.type
            result[name] = _finish(kind, counts)
        if result:
            result["score"] = sum(result.values()) / len(result)
        return result


def _accumulate(
    kind: Type, predicted: torch.Tensor, truth: torch.Tensor, real: torch.Tensor, counts: dict
) -> None:
    """Adds a batch to the counts: (a, b, c, n) are per-type accumulators."""
    if kind is Type.SCALAR:
        counts["a"] += float(torch.where(real, (predicted - truth) ** 2, 0.0).sum())
        counts["n"] += float(real.sum())
    elif kind is Type.MASK:
        valid = real & (truth != MASKED)
        positive_pred, positive_true = predicted > 0.5, truth > 0.5
        counts["a"] += float((positive_pred & positive_true & valid).sum())  # true positives
        counts["b"] += float((positive_pred & ~positive_true & valid).sum())  # false positives
        counts["c"] += float((~positive_pred & positive_true & valid).sum())  # false negatives
    elif kind in (Type.MASK_ONE, Type.CATEGORICAL):
        valid = real & (truth != MASKED).all(-1)
        correct = predicted.argmax(-1) == truth.argmax(-1)
        counts["a"] += float((correct & valid).sum())
        counts["n"] += float(valid.sum())
    elif kind is Type.POINTER:
        counts["a"] += float(((predicted == truth) & real).sum())
        counts["n"] += float(real.sum())
    else:
        raise ValueError(f"cannot score {kind.value} outputs")


def _finish(kind: Type, counts: dict) -> float:
    if kind is Type.MASK:
        tp, fp, fn = counts["a"], counts["b"], counts["c"]
        precision = tp / (tp + fp) if tp + fp > 0 else 1.0
        recall = tp / (tp + fn) if tp + fn > 0 else 1.0
        return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return counts["a"] / counts["n"] if counts["n"] else 0.0
