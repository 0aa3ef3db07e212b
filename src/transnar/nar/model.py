"""The Neural Algorithmic Reasoner: encode, process, decode, step by step.

Shapes: ``B`` batch, ``T`` hint steps, ``S = max(1, T - 1)`` processor steps,
``N`` nodes, ``H`` hidden width, ``E`` edge latent width (``H``).

At step ``s`` (``0 <= s < S``) the NAR encodes the inputs and the current hint
(the ground truth at step 0; afterwards its own previous prediction, softened,
or with probability ``hint_teacher_forcing`` in training the ground truth),
runs the shared processor, and decodes the outputs and the hint of step
``s + 1``. A sample's outputs (and embeddings) stop changing after its own last
step (``s = length - 2``). One :class:`~transnar.nar.heads.AlgorithmHead` per
algorithm holds its encoders, decoders and termination head; the
:class:`~transnar.nar.processors.Processor` is shared (multi-task).

Which step is a sample's last is the step mode's choice
(:mod:`transnar.nar.stepping`): its true ``length - 2`` (``oracle``, the CLRS
protocol, and always in training), the first step where its termination head
says "done" (``learned``), or its step budget (``budget``); the last two read
nothing of the trajectory beyond its inputs and step-0 hints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from transnar.clrs.specs import SPECS
from transnar.clrs.transforms import preprocess_spec
from transnar.nar.config import NARConfig
from transnar.nar.decoders import postprocess
from transnar.nar.encoders import dense
from transnar.nar.factored import FactoredEdges
from transnar.nar.features import Features
from transnar.nar.heads import AlgorithmHead
from transnar.nar.layers import parameter_dtype
from transnar.nar.losses import hint_loss_sum, output_loss_sum, termination_loss_sum
from transnar.nar.processors import Processor
from transnar.nar.stepping import check_step_mode, step_budget

TERMINATION = "termination"
"""The name of the termination head's loss term."""


@dataclass
class NAROutput:
    """What one run of the NAR over a batch produces.

    Attributes:
        outputs: output name -> raw prediction (logits; log-Sinkhorn for
            permutations), each sample's from its own last step.
        hints: hint name -> ``(B, S, ...)`` raw predictions of hint steps
            ``1 .. S`` (empty when hints are not decoded).
        node_embeddings: ``(B, S, N, H)`` processor states after each step,
            frozen after each sample's last step (only when asked for).
        edge_embeddings: ``(B, S, N, N, E)`` triplet edge latents (the encoded
            edge features for processors without triplets), likewise.
            With ``final_only`` both have one step, ``S = 1``: each sample's
            state at its last step.
        last_steps: ``(B,)`` int64, the step each sample's outputs come from.
        termination: ``(B, S)`` logits of "this step is the last" (None
            without a termination head).
    """

    outputs: dict[str, torch.Tensor]
    hints: dict[str, torch.Tensor]
    node_embeddings: torch.Tensor | None = None
    edge_embeddings: torch.Tensor | None = None
    last_steps: torch.Tensor | None = None
    termination: torch.Tensor | None = None


class NAR(nn.Module):
    """A (multi-task) Neural Algorithmic Reasoner."""

    def __init__(self, config: NARConfig):
        super().__init__()
        self.config = config
        self.processor = Processor(config)
        edge_dim = 2 * config.hidden_dim if config.uses_triplets else config.hidden_dim
        self.heads = nn.ModuleDict(
            {
                name: AlgorithmHead(preprocess_spec(SPECS[name]), config, edge_dim)
                for name in config.algorithms
            }
        )

    def head(self, algorithm: str) -> AlgorithmHead:
        """The encoders and decoders of ``algorithm``; a ``ValueError`` if it has none."""
        if algorithm not in self.heads:
            raise ValueError(
                f"this NAR was not trained on {algorithm!r} (it knows {list(self.heads)})"
            )
        return self.heads[algorithm]

    def probe_values(
        self,
        features: Features,
        predictions: dict[str, torch.Tensor],
        hard: bool,
        sinkhorn_steps: int,
    ) -> dict[str, torch.Tensor]:
        """The probe values of raw ``predictions`` (probe name -> tensor) of
        ``features``' algorithm (:func:`~transnar.nar.decoders.postprocess`):
        soft, to feed back, or ``hard``, to score."""
        spec = self.head(features.algorithm).spec
        temperature = self.config.sinkhorn_temperature
        return {
            name: postprocess(
                spec[name], prediction, features.node_mask, hard, sinkhorn_steps, temperature
            )
            for name, prediction in predictions.items()
        }

    def forward(
        self,
        features: Features,
        repred: bool | None = None,
        embeddings: bool = False,
        steps: str = "oracle",
        final_only: bool = False,
        keep_hints: bool = True,
    ) -> NAROutput:
        """Runs the NAR over a batch, step by step, until every sample's last step.

        Args:
            features: the batch (see :class:`~transnar.nar.features.Features`).
            repred: evaluation mode: feed back the NAR's own hint predictions
                (and no dropout, no Sinkhorn noise). In training (``False``)
                predictions are fed back too, except with teacher forcing.
                Default: ``not self.training``, so ``nar.eval()`` means evaluation.
            embeddings: also return the node and edge embeddings.
            steps: which step is each sample's last (:mod:`transnar.nar.stepping`):
                ``oracle`` (its true length; always in training), ``learned``
                or ``budget`` (leak-free: only in evaluation mode).
            final_only: keep only each sample's embeddings at its last step.
            keep_hints: return every step's hint predictions (the hint loss
                needs them); ``False``: none are kept (``hints`` is empty), so
                memory does not grow with the number of steps (scoring and
                TransNAR's memory read only outputs and embeddings).
        """
        if repred is None:
            repred = not self.training
        config = self.config
        head = self.head(features.algorithm)
        spec = head.spec
        node_mask = features.node_mask
        b, n = node_mask.shape
        stop = _Stopping(features, check_step_mode(steps), head, repred)
        hard = config.hint_repred_mode == "hard" or (
            config.hint_repred_mode == "hard_on_eval" and repred
        )
        hidden = torch.zeros(
            b, n, config.hidden_dim, device=node_mask.device, dtype=parameter_dtype(self)
        )
        hint_steps: dict[str, list[torch.Tensor]] = {
            name: [] for name in spec.hints if config.decode_hints
        }
        previous: dict[str, torch.Tensor] = {}
        node_states: list[torch.Tensor] = []
        edge_states: list[torch.Tensor] = []
        termination: list[torch.Tensor] = []
        inputs = head.encode_factored(features.inputs, node_mask)  # the same at every step
        # A sample's outputs are its predictions at its last step and are never
        # fed back: each sample's outputs are decoded once, at that step.
        ending_rows: list[torch.Tensor] = []
        ending_outputs: list[dict[str, torch.Tensor]] = []
        for step in range(stop.steps):
            current = self._current_hints(features, step, previous, hard, repred)
            encoded = inputs + head.encode_factored(current, node_mask)
            node_fts, edge_fts, graph_fts = encoded.node, encoded.edge, encoded.graph
            new_hidden, latents = hidden, None
            for _ in range(config.msg_passing_steps):
                new_hidden, latents = self.processor(
                    node_fts, edge_fts, graph_fts, encoded.adjacency, new_hidden, node_mask
                )
            if not repred and config.dropout > 0:
                new_hidden = F.dropout(new_hidden, config.dropout, training=True)
            h_t = torch.cat([node_fts, hidden, new_hidden], dim=-1)
            e_t = edge_fts if latents is None else edge_fts.with_extra(latents)
            previous = head.decode(
                h_t, e_t, graph_fts, node_mask, training=not repred, names=hint_steps
            )
            logits = None
            if head.termination is not None:
                logits = head.terminate(h_t, graph_fts, node_mask)
                termination.append(logits)
            running = stop.running(step)  # (B,) samples whose last step is this one or later
            ending = stop.ending(step, logits)  # (R,) the samples ending here
            if ending is not None and spec.outputs:
                ending_rows.append(ending)
                ending_outputs.append(
                    head.decode(
                        *_sample_rows(ending, b, h_t, e_t, graph_fts, node_mask),
                        training=not repred,
                        names=spec.outputs,
                    )
                )
            if keep_hints:
                for name, values in hint_steps.items():
                    values.append(previous[name])
            if embeddings:
                edge_state = edge_fts.dense() if latents is None else latents
                if final_only:
                    node_states[:] = [_keep_finished(running, new_hidden, _last(node_states))]
                    edge_states[:] = [_keep_finished(running, edge_state, _last(edge_states))]
                else:
                    node_states.append(_keep_finished(running, new_hidden, _last(node_states)))
                    edge_states.append(_keep_finished(running, edge_state, _last(edge_states)))
            hidden = new_hidden
            if stop.all_ended():
                break
        return NAROutput(
            outputs=_in_sample_order(ending_rows, ending_outputs),
            hints={name: torch.stack(v, dim=1) for name, v in hint_steps.items()}
            if keep_hints
            else {},
            node_embeddings=torch.stack(node_states, dim=1) if embeddings else None,
            edge_embeddings=torch.stack(edge_states, dim=1) if embeddings else None,
            last_steps=stop.last_steps,
            termination=torch.stack(termination, dim=1) if termination else None,
        )

    def _current_hints(
        self,
        features: Features,
        step: int,
        previous: dict[str, torch.Tensor],
        hard: bool,
        repred: bool,
    ) -> dict[str, torch.Tensor]:
        """The hint values encoded at ``step``."""
        config = self.config
        if not config.encode_hints:
            return {}
        if step == 0:  # (hints encoded are decoded too: hint_mode encoded_decoded)
            return {name: values[:, step] for name, values in features.hints.items()}
        spec = self.head(features.algorithm).spec
        fed = self.probe_values(features, previous, hard, config.feedback_sinkhorn_steps)
        if repred or config.hint_teacher_forcing == 0.0:
            return fed
        force = (
            torch.rand(features.batch_size, device=features.node_mask.device)
            < config.hint_teacher_forcing
        )
        mixed = {}
        for name, value in fed.items():
            true_value = features.hints[name][:, step]
            if value.is_floating_point() and not true_value.is_floating_point():
                true_value = dense(spec[name], true_value, features.num_nodes, value.dtype)
            mixed[name] = _where_samples(force, true_value.to(value.dtype), value)
        return mixed

    def loss(
        self,
        features: Features,
        output: NAROutput,
        reduce_counts: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Sum of the output losses and (when decoded) the hint losses, each a mean
        over its real elements (and, for hints, valid steps).

        Args:
            features: the batch.
            output: the NAR's predictions on it.
            reduce_counts: maps the ``(P,)`` element counts of the probes' means
                to the counts to divide by; data-parallel training passes the
                sum over the processes (:func:`transnar.training.distributed.all_reduce_sum`),
                so that each process's loss is its share of the global batch's.

        Returns:
            The total loss and each probe's term (as floats, for logging).
        """
        spec = self.head(features.algorithm).spec
        parts = {
            name: output_loss_sum(
                spec[name], output.outputs[name], features.outputs[name], features.node_mask
            )
            for name in spec.outputs
        }
        for name, predictions in output.hints.items():
            truth = features.hints[name][:, 1 : predictions.shape[1] + 1]
            if truth.shape[1] == predictions.shape[1]:
                parts[name] = hint_loss_sum(
                    spec[name], predictions, truth, features.lengths, features.node_mask
                )
        if output.termination is not None:
            parts[TERMINATION] = termination_loss_sum(output.termination, features.lengths)
        sums = torch.stack([total for total, _ in parts.values()])  # (P,)
        counts = torch.stack([count for _, count in parts.values()])  # (P,)
        if reduce_counts is not None:
            counts = reduce_counts(counts)
        terms = sums / counts.clamp(min=1)
        names = list(parts)
        return terms.sum(), {name: float(t) for name, t in zip(names, terms.detach(), strict=True)}

    @torch.no_grad()
    def embed(
        self, features: Features, steps: str = "oracle", final_only: bool = False
    ) -> NAROutput:
        """Runs the NAR in evaluation mode and returns its embeddings (per step,
        or with ``final_only`` each sample's last), stepping as ``steps`` says.

        The model is left in the mode it was in; gradients are not tracked.
        """
        return self(
            features,
            repred=True,
            embeddings=True,
            steps=steps,
            final_only=final_only,
            keep_hints=False,
        )


def _last(states: list[torch.Tensor]) -> torch.Tensor | None:
    return states[-1] if states else None


class _Stopping:
    """Which samples end at each step, as the step mode says (see :meth:`NAR.forward`).

    ``oracle`` reads each sample's true length; the leak-free modes read its
    step budget (from its node count) and, in ``learned`` mode, its
    termination logits, one step at a time.
    """

    def __init__(self, features: Features, mode: str, head: AlgorithmHead, repred: bool):
        self.mode = mode
        lengths = features.lengths
        if mode == "oracle":
            self.steps = max(1, features.max_length - 1)
            self.last_steps = (lengths - 2).clamp(min=0)
            self._by_step = _samples_by_last_step(lengths)
            self._lengths = lengths
            return
        if not repred:
            raise ValueError(
                f"steps={mode!r} is for evaluation (repred); training follows the true trajectory"
            )
        if mode == "learned" and head.termination is None:
            raise ValueError(
                "this NAR has no termination head (nar.termination=false, or a file made "
                "before it existed): use steps=budget or oracle, or train a new NAR"
            )
        self.budget = step_budget(features.algorithm, features.node_mask)  # (B,)
        self.steps = int(self.budget.max())
        self.last_steps = self.budget - 1
        self._ended = torch.zeros_like(self.budget, dtype=torch.bool)

    def running(self, step: int) -> torch.Tensor:
        """``(B,)`` True for the samples whose last step is ``step`` or later
        (call before :meth:`ending` of the same step)."""
        if self.mode == "oracle":
            return self._lengths > step + 1
        return ~self._ended

    def ending(self, step: int, logits: torch.Tensor | None) -> torch.Tensor | None:
        """``(R,)`` the samples whose last step is ``step`` (None if none)."""
        if self.mode == "oracle":
            return self._by_step.get(step)
        ends = ~self._ended & (self.budget == step + 1)
        if self.mode == "learned":
            ends = ends | (~self._ended & (logits > 0))
        rows = ends.nonzero().squeeze(1)
        if len(rows) == 0:
            return None
        self._ended = self._ended | ends
        self.last_steps = torch.where(ends, step, self.last_steps)
        return rows

    def all_ended(self) -> bool:
        """Whether no sample runs on (the leak-free modes stop early)."""
        return self.mode != "oracle" and bool(self._ended.all())


def _keep_finished(
    running: torch.Tensor, new: torch.Tensor, old: torch.Tensor | None
) -> torch.Tensor:
    """``new`` for running samples, ``old`` for finished ones (``new`` if none yet)."""
    return new if old is None else _where_samples(running, new, old)


def _samples_by_last_step(lengths: torch.Tensor) -> dict[int, torch.Tensor]:
    """Step -> ``(R,)`` indices of the samples whose last step it is,
    ``max(0, length - 2)``; read from the device once."""
    last_steps = (lengths - 2).clamp(min=0).tolist()
    by_step: dict[int, list[int]] = {}
    for sample, step in enumerate(last_steps):
        by_step.setdefault(step, []).append(sample)
    return {step: torch.tensor(samples, device=lengths.device) for step, samples in by_step.items()}


def _sample_rows(index: torch.Tensor, batch_size: int, *values):
    """``values`` (tensors or :class:`FactoredEdges`, samples first) at the samples
    ``index``; as they are when ``index`` is every sample in order."""
    if len(index) == batch_size:
        return values
    return tuple(
        value.rows(index) if isinstance(value, FactoredEdges) else value[index] for value in values
    )


def _in_sample_order(
    rows: list[torch.Tensor], parts: list[dict[str, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """Joins per-step predictions of disjoint sample sets (``rows[i]`` the samples of
    ``parts[i]``, together every sample once) into one batch in sample order."""
    if len(parts) <= 1:
        return parts[0] if parts else {}
    order = torch.argsort(torch.cat(rows))
    return {name: torch.cat([part[name] for part in parts])[order] for name in parts[0]}


def _where_samples(select: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per sample (leading axis): ``a`` where ``select``, else ``b``."""
    return torch.where(select.reshape(-1, *([1] * (a.dim() - 1))), a, b)
