"""TransNAR: a decoder-only Transformer that cross-attends to a frozen NAR (Bounsi et al. 2024).

After every ``xattn_every``-th Transformer layer, a gated cross-attention block
(Flamingo style, ``DESIGN.md`` §6) lets the tokens read the NAR's node and edge
embeddings of the same problem instance::

    x = x + tanh(a1) * W [ attend(norm(x), nodes) ; attend(norm(x), edges) ]
    x = x + tanh(a2) * FFN(norm(x))

with ``a1 = a2 = 0`` at initialisation, so TransNAR starts out computing exactly
what its language model computes. Keys and values are projected from the NAR
width; the edge memory is the ``N * N`` flattened edges; padding nodes and edges
are masked. The NAR is frozen (no gradients, evaluation mode) and runs on the
graph of the instance, feeding back its own hints
(:meth:`TransNAR.graph_memory`). It is **leak-free** by default
(``nar_steps="learned"``): it starts from the instance's inputs and step-0
hints and stops when its termination head says so (at the latest at a step
budget per algorithm and node count), never reading the true trajectory's
length, outputs or later hints; ``nar_steps="oracle"`` runs it to the true
length instead (the CLRS protocol: an explicit ablation, since the length is
information about the answer). By default every block reads the NAR's final
embeddings; ``memory="lockstep"`` makes block ``l`` (of ``L``) read NAR step
``round(l * S / L)`` of the sample's ``S`` steps; ``memory="all"`` lets every
block read the states of every step the NAR ran (``S * N`` nodes and ``S * N * N``
edges, each with a learned encoding of its step added, the steps after a
sample's last masked); ``memory="pooled"`` reads a fixed-size summary instead:
each node's (edge's) states pooled over its steps by learned attention
(:class:`StepReader`; the TransNAR paper's "progressive decoding" direction).

The **control** (``memory_source="decoy"``) is TransNAR with the same
architecture and parameters whose memory is the NAR's memory of another
instance of the same algorithm and node count (:func:`decoy_features`): real
NAR states, with nothing about its own question in them.

With ``use_nar=False`` the same class is the Transformer-only baseline (no
cross-attention blocks, no NAR): one model, one switch.

The language model is a :class:`~transnar.lm.DecoderLM`, or, when
``lm.pretrained`` names one, a pretrained Hugging Face causal LM behind the
same interface (:class:`transnar.lm.hf.HFCausalLM`, the ``hf`` extra):
:func:`build_tokenizer`, :func:`build_language_model` and
:func:`load_language_model` pick the one the config asks for.

Shapes: ``B`` batch, ``T`` tokens, ``D`` model width, ``N`` nodes, ``M`` memory
slots (``N`` nodes or ``N * N`` edges), ``S`` NAR steps, ``Hn``/``He`` NAR node and
edge widths.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from transnar import persistence
from transnar.clrs.bounds import size_of_nodes
from transnar.clrs.samplers import sample
from transnar.lm.config import LMConfig
from transnar.lm.tokenizer import CharTokenizer, Tokenizer
from transnar.lm.transformer import MLP, DecoderLM, LMOutput, RMSNorm, init_weights
from transnar.nar.config import NARConfig
from transnar.nar.features import Features
from transnar.nar.memory import GraphMemory
from transnar.nar.model import NAR
from transnar.nar.stepping import check_step_mode
from transnar.persistence import CheckpointError

MEMORY_MODES = ("final", "lockstep", "all", "pooled")
STEP_MODES_READ = ("all", "pooled")  # the memory modes that read every step (StepReader)
STEP_FREQUENCIES = 8  # sinusoidal frequencies of the step encoding
MEMORY_SOURCES = ("question", "decoy")
DECOY_SEED_BIT = 1 << 31
"""Decoy instances are drawn with sampler seeds at or above this, far from the
small seeds of the data splits."""
DECOY_TRUNCATE_DECIMALS = 3
"""Decoy instances are drawn as CLRS-Text's are, floats truncated to 3 decimals."""
FORMAT = persistence.FileFormat(
    "transnar.model",
    2,
    "saved TransNAR config",
    remedy="save the model again (TransNAR.save_pretrained, or train it again)",
    older_versions=(1,),
)
"""Version 2 names its weights file (``transnar.safetensors``, or ``transnar.pt``
without safetensors); version 1 always used ``transnar.pt``."""
CONFIG_FILENAME = "transnar.json"
WEIGHTS_STEM = "transnar"
WEIGHTS_FILENAMES = ("transnar.safetensors", "transnar.pt")


@dataclass(frozen=True)
class TransNARConfig:
    """A TransNAR (or, with ``use_nar=False``, its Transformer-only baseline).

    Attributes:
        lm: the language model.
        use_nar: cross-attend to a frozen NAR (TransNAR) or not (baseline).
        xattn_every: a cross-attention block after every k-th LM layer.
        xattn_heads: heads of the cross-attention (default: the LM's).
        memory: ``final`` (every block reads the NAR's final embeddings),
            ``lockstep`` (block ``l`` of ``L`` reads NAR step ``round(l S / L)``),
            ``all`` (every block reads every step, step-encoded) or ``pooled``
            (every block reads each node's and edge's steps pooled by learned
            attention: the size of ``final``).
        nar_node_dim: width of the NAR's node embeddings.
        nar_edge_dim: width of the NAR's edge embeddings.
        nar_steps: how the NAR steps (:mod:`transnar.nar.stepping`):
            ``learned`` (leak-free, the default), ``budget`` (leak-free) or
            ``oracle`` (the true trajectory length: reads the answer's length).
        memory_source: ``question`` (TransNAR: the NAR runs on the question's
            instance) or ``decoy`` (the control: on another instance of the
            same algorithm and node count, :func:`decoy_features`).
    """

    lm: LMConfig = dataclasses.field(default_factory=LMConfig)
    use_nar: bool = True
    xattn_every: int = 1
    xattn_heads: int | None = None
    memory: str = "final"
    nar_node_dim: int = 128
    nar_edge_dim: int = 128
    nar_steps: str = "learned"
    memory_source: str = "question"

    def __post_init__(self):
        if self.memory not in MEMORY_MODES:
            raise ValueError(f"memory must be one of {MEMORY_MODES}, got {self.memory!r}")
        check_step_mode(self.nar_steps, "nar_steps")
        if self.memory_source not in MEMORY_SOURCES:
            raise ValueError(
                f"memory_source must be one of {MEMORY_SOURCES}, got {self.memory_source!r}"
            )
        if not 1 <= self.xattn_every <= self.lm.n_layers:
            raise ValueError(
                f"xattn_every must be in [1, {self.lm.n_layers}] (the LM's layers), "
                f"got {self.xattn_every}"
            )
        if self.lm.d_model % self.heads:
            raise ValueError(f"d_model {self.lm.d_model} is not divisible by {self.heads} heads")

    @property
    def heads(self) -> int:
        return self.xattn_heads or self.lm.n_heads

    def xattn_layers(self) -> list[int]:
        """Indices of the LM layers followed by a cross-attention block."""
        if not self.use_nar:
            return []
        return [i for i in range(self.lm.n_layers) if (i + 1) % self.xattn_every == 0]

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["lm"] = self.lm.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TransNARConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TransNAR config key(s) {unknown} (known: {sorted(known)})")
        # Files made before leak-free stepping ran the NAR to the true length.
        defaults = {"nar_steps": "oracle"}
        return cls(**{**defaults, **data, "lm": LMConfig.from_dict(data.get("lm", {}))})

    @property
    def kind(self) -> str:
        """``baseline``, ``control`` or ``transnar``."""
        if not self.use_nar:
            return "baseline"
        return "control" if self.memory_source == "decoy" else "transnar"


@dataclasses.dataclass
class DecodingCache:
    """TransNAR's cache for decoding (:meth:`TransNAR.make_cache`).

    Attributes:
        lm: the language model's KV cache.
        memory: per cross-attention layer, the keys and values of the graph
            memory's nodes and edges ``(B, h, M, Dh)``, computed once.
    """

    lm: Any  # the language model's cache: a KVCache, or an HFCache
    memory: dict[int, dict[str, tuple[torch.Tensor, torch.Tensor]]] = dataclasses.field(
        default_factory=dict
    )

    @property
    def length(self) -> int:
        """Tokens cached."""
        return self.lm.length


class CrossAttention(nn.Module):
    """Multi-head attention from tokens ``(B, T, D)`` to a memory ``(B, M, Dm)``."""

    def __init__(self, d_model: int, memory_dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(d_model, d_model, bias=False)
        self.key_value = nn.Linear(memory_dim, 2 * d_model, bias=False)

    def keys_values(
        self, memory: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The memory ``(B, M, Dm)`` as keys and values ``(B, h, M, Dh)`` each."""
        B = memory.shape[0]
        k, v = self.key_value(memory.to(dtype)).chunk(2, dim=-1)  # (B, M, D) each
        k = k.view(B, -1, self.heads, k.shape[-1] // self.heads).transpose(1, 2)
        v = v.view(B, -1, self.heads, v.shape[-1] // self.heads).transpose(1, 2)
        return k, v

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        mask: torch.Tensor,
        keys_values: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``x`` ``(B, T, D)``, ``memory`` ``(B, M, Dm)``, ``mask`` ``(B, M)`` -> ``(B, T, D)``;
        ``keys_values``: :meth:`keys_values` of ``memory``, when already computed."""
        B, T, D = x.shape
        q = self.query(x).view(B, T, self.heads, D // self.heads).transpose(1, 2)  # (B, h, T, Dh)
        k, v = keys_values if keys_values is not None else self.keys_values(memory, x.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        return out.transpose(1, 2).reshape(B, T, D)


class GatedCrossAttentionBlock(nn.Module):
    """Tokens read the NAR's nodes and edges; tanh gates closed at initialisation."""

    def __init__(self, config: TransNARConfig):
        super().__init__()
        lm = config.lm
        self.norm = RMSNorm(lm.d_model, lm.norm_eps)
        self.nodes = CrossAttention(lm.d_model, config.nar_node_dim, config.heads)
        self.edges = CrossAttention(lm.d_model, config.nar_edge_dim, config.heads)
        self.combine = nn.Linear(2 * lm.d_model, lm.d_model, bias=False)
        self.attention_gate = nn.Parameter(torch.zeros(1))
        self.mlp_norm = RMSNorm(lm.d_model, lm.norm_eps)
        self.mlp = MLP(lm)
        self.mlp_gate = nn.Parameter(torch.zeros(1))

    def forward(
        self,
        x: torch.Tensor,
        nodes: torch.Tensor,
        node_mask: torch.Tensor,
        edges: torch.Tensor,
        edge_mask: torch.Tensor,
        cache: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """``x`` ``(B, T, D)``; ``nodes`` ``(B, N, Hn)``, ``edges`` ``(B, N * N, He)``;
        ``cache`` keeps the memory's keys and values from one call to the next
        (decoding, where the memory does not change)."""
        h = self.norm(x)
        if cache is not None and not cache:
            cache["nodes"] = self.nodes.keys_values(nodes, h.dtype)
            cache["edges"] = self.edges.keys_values(edges, h.dtype)
        cache = cache or {}
        read = torch.cat(
            [
                self.nodes(h, nodes, node_mask, cache.get("nodes")),
                self.edges(h, edges, edge_mask, cache.get("edges")),
            ],
            dim=-1,
        )
        x = x + torch.tanh(self.attention_gate) * self.combine(read)
        return x + torch.tanh(self.mlp_gate) * self.mlp(self.mlp_norm(x))


class StepReader(nn.Module):
    """What the blocks read of a memory kept step by step (``all`` and ``pooled`` modes).

    Each step ``s`` gets an encoding (sinusoids of ``s`` through a learned
    linear map, zero at initialisation) added to its node and edge states.
    ``all`` flattens the steps into the memory slots, masking a sample's steps
    after its last; ``pooled`` replaces each node's (edge's) states by their
    attention-weighted mean over its steps, with a learned query (zero at
    initialisation: the plain mean over the steps it ran).
    """

    def __init__(self, config: TransNARConfig):
        super().__init__()
        if config.memory not in STEP_MODES_READ:
            raise ValueError(f"a StepReader reads {STEP_MODES_READ} memories, not {config.memory}")
        self.mode = config.memory
        self.node_steps = nn.Linear(2 * STEP_FREQUENCIES, config.nar_node_dim)
        self.edge_steps = nn.Linear(2 * STEP_FREQUENCIES, config.nar_edge_dim)
        for layer in (self.node_steps, self.edge_steps):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        if self.mode == "pooled":
            self.node_query = nn.Parameter(torch.zeros(config.nar_node_dim))
            self.edge_query = nn.Parameter(torch.zeros(config.nar_edge_dim))

    def forward(
        self, memory: GraphMemory
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(nodes (B, M_n, Hn), node_mask (B, M_n), edges (B, M_e, He),
        edge_mask (B, M_e))``: ``M_n = S N`` and ``M_e = S N^2`` in ``all`` mode,
        ``N`` and ``N^2`` in ``pooled`` mode."""
        B, S = memory.nodes.shape[:2]
        steps = torch.arange(S, device=memory.nodes.device)
        ran = steps[None, :] < memory.steps.to(steps.device)[:, None]  # (B, S)
        encoding = step_encoding(steps).to(memory.nodes.dtype)  # (S, 2F)
        nodes = memory.nodes + self.node_steps(encoding)[None, :, None, :]  # (B, S, N, Hn)
        edges = memory.edges + self.edge_steps(encoding)[None, :, None, :]  # (B, S, N², He)
        if self.mode == "pooled":
            nodes = _pool_steps(nodes, ran, self.node_query)  # (B, N, Hn)
            edges = _pool_steps(edges, ran, self.edge_query)  # (B, N², He)
            return nodes, memory.node_mask, edges, memory.edge_mask
        node_mask = (ran[:, :, None] & memory.node_mask[:, None, :]).reshape(B, -1)  # (B, S N)
        edge_mask = (ran[:, :, None] & memory.edge_mask[:, None, :]).reshape(B, -1)  # (B, S N²)
        return nodes.flatten(1, 2), node_mask, edges.flatten(1, 2), edge_mask


def step_encoding(steps: torch.Tensor) -> torch.Tensor:
    """Sinusoids of the steps ``(S,)``: ``(S, 2F)`` (:data:`STEP_FREQUENCIES` ``F``)."""
    exponents = torch.arange(STEP_FREQUENCIES, device=steps.device) / STEP_FREQUENCIES
    frequencies = 1.0 / 100.0**exponents  # periods from 2 pi to 2 pi 100**(7/8) steps
    angles = steps.float()[:, None] * frequencies  # (S, F)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def _pool_steps(states: torch.Tensor, ran: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """``states`` ``(B, S, M, H)`` pooled over the steps each sample ``ran``
    (``(B, S)``) with attention weights ``softmax_s(states . query / sqrt(H))``."""
    scores = states @ query.to(states.dtype) / states.shape[-1] ** 0.5  # (B, S, M)
    scores = scores.masked_fill(~ran[:, :, None], float("-inf"))
    weights = scores.softmax(dim=1)  # (B, S, M)
    return (weights[..., None] * states).sum(dim=1)  # (B, M, H)


class TransNAR(nn.Module):
    """A language model with gated cross-attention to a frozen NAR.

    Args:
        config: the architecture.
        lm: the language model (its config must be ``config.lm``): a
            :class:`DecoderLM` or a :class:`transnar.lm.hf.HFCausalLM`.
        nar: the pre-trained NAR (required when ``config.use_nar``); it is frozen
            here: ``requires_grad_(False)`` and kept in evaluation mode.
    """

    def __init__(self, config: TransNARConfig, lm: nn.Module, nar: NAR | None = None):
        super().__init__()
        if lm.config != config.lm:
            raise ValueError("the language model's config differs from config.lm")
        if config.use_nar and nar is None:
            raise ValueError("TransNAR needs a NAR (or set use_nar=False for the baseline)")
        if nar is not None and (config.nar_node_dim, config.nar_edge_dim) != nar_dims(nar):
            raise ValueError(
                f"the NAR's embeddings are {nar_dims(nar)} wide, config says "
                f"{(config.nar_node_dim, config.nar_edge_dim)}"
            )
        self.config = config
        self.lm = lm
        self.nar = nar.requires_grad_(False).eval() if config.use_nar else None
        self.xattn = nn.ModuleDict(
            {str(i): GatedCrossAttentionBlock(config) for i in config.xattn_layers()}
        )
        for block in self.xattn.values():
            block.apply(functools.partial(init_weights, std=config.lm.init_std))
        self.step_reader = (
            StepReader(config) if config.use_nar and config.memory in STEP_MODES_READ else None
        )

    @property
    def tokenizer(self) -> Tokenizer | None:
        return self.lm.tokenizer

    def train(self, mode: bool = True) -> TransNAR:
        """As ``nn.Module.train``, but the NAR always stays in evaluation mode."""
        super().train(mode)
        if self.nar is not None:
            self.nar.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters an optimizer should update (the NAR's are frozen)."""
        return [p for p in self.parameters() if p.requires_grad]

    @torch.no_grad()
    def graph_memory(self, features: Features) -> GraphMemory:
        """Runs the frozen NAR on a batch of graphs (evaluation mode, its own hints)
        and returns its memory (:meth:`GraphMemory.from_output`).

        Args:
            features: the graphs of the batch's instances, preprocessed for the
                NAR without randomized ``pos`` (``Features.from_trajectories``).
                With leak-free stepping only their inputs, step-0 hints and
                node mask are read (an :func:`~transnar.clrs.execute.initial_state`
                is enough).
        """
        if self.nar is None:
            raise ValueError("this model has no NAR (use_nar=False)")
        config = self.config
        if config.memory_source == "decoy":
            features = decoy_features(features).to(features.node_mask.device)
        output = self.nar.embed(
            features, steps=config.nar_steps, final_only=config.memory == "final"
        )
        return GraphMemory.from_output(output, features.node_mask)

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        cache: DecodingCache | None = None,
        attention_mask: torch.Tensor | None = None,
        memory: GraphMemory | None = None,
    ) -> LMOutput:
        """The language model's forward (see :meth:`DecoderLM.forward`), with the
        cross-attention blocks reading ``memory`` (required for TransNAR).

        With a ``cache`` (:meth:`make_cache`), the cross-attention's keys and
        values of ``memory`` are computed at the first call and reused after:
        every call with that cache must pass the same memory.
        """
        after_layer = None
        if self.xattn:
            if memory is None:
                raise ValueError("TransNAR needs the graph memory of the batch (graph_memory)")
            layers = self.config.lm.n_layers
            read = None if self.step_reader is None else self.step_reader(memory)

            def after_layer(index: int, x: torch.Tensor) -> torch.Tensor:
                if str(index) not in self.xattn:
                    return x
                if read is not None:
                    nodes, node_mask, edges, edge_mask = read
                else:
                    nodes, edges = memory.at_layer(index, layers, self.config.memory)
                    node_mask, edge_mask = memory.node_mask, memory.edge_mask
                block = self.xattn[str(index)]
                kept = None if cache is None else cache.memory.setdefault(index, {})
                return block(x, nodes, node_mask, edges, edge_mask, kept)

        lm_cache = None if cache is None else cache.lm
        return self.lm(input_ids, positions, labels, lm_cache, after_layer, attention_mask)

    # generate() talks to the model through these, as to a DecoderLM.

    def make_cache(self, capacity: int = 0) -> DecodingCache:
        return DecodingCache(self.lm.make_cache(capacity))

    @property
    def max_position(self) -> int:
        return self.lm.max_position

    def uses_random_positions(self) -> bool:
        return self.lm.uses_random_positions()

    # --- files --------------------------------------------------------------------

    def save_pretrained(self, directory: str | os.PathLike, overwrite: bool = False) -> Path:
        """Writes the language model (its ``save_pretrained``: a ``DecoderLM``'s
        files or a Hugging Face model's), then the cross-attention and NAR
        weights (``transnar.safetensors``, or ``transnar.pt`` without
        safetensors) and last ``transnar.json`` (the TransNAR and NAR configs)."""
        directory = Path(directory)
        ours = [CONFIG_FILENAME, *WEIGHTS_FILENAMES]
        persistence.refuse_existing([directory / name for name in ours], overwrite)
        self.lm.save_pretrained(directory, overwrite=overwrite)
        for stale in ours:  # never a config beside other weights
            (directory / stale).unlink(missing_ok=True)
        weights_name = persistence.weights_filename(WEIGHTS_STEM)
        state = {
            k: v.detach().cpu().contiguous()
            for k, v in self.state_dict().items()
            if not k.startswith("lm.")
        }
        persistence.write_weights(directory / weights_name, state, metadata={"format": FORMAT.name})
        document = {
            **FORMAT.header(),
            **persistence.provenance(),
            "weights": weights_name,
            "config": self.config.to_dict(),
            "nar": self.nar.config.to_dict() if self.nar is not None else None,
        }
        persistence.write_json(directory / CONFIG_FILENAME, document)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, map_location: str = "cpu") -> TransNAR:
        """Loads a model written by :meth:`save_pretrained` (in evaluation mode).

        Raises:
            FileNotFoundError: no saved TransNAR there.
            CheckpointError: a corrupt, incomplete or mismatched directory.
        """
        directory = Path(directory)
        path = directory / CONFIG_FILENAME
        document = persistence.read_json(path, FORMAT, holder="saved TransNAR")
        try:
            config = TransNARConfig.from_dict(document["config"])
            nar = NAR(NARConfig.from_dict(document["nar"])) if document["nar"] else None
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise CheckpointError(f"{path}: bad TransNAR config: {error}") from None
        weights_name = document.get("weights", "transnar.pt")  # version 1 names none: .pt
        if weights_name not in WEIGHTS_FILENAMES:
            raise CheckpointError(f"{path}: unknown weights file {weights_name!r}")
        weights = directory / weights_name
        lm = load_language_model(config.lm, directory, map_location)
        model = cls(config, lm, nar)
        state = persistence.read_weights(weights, "TransNAR weights file", map_location)
        persistence.load_state(model, state, weights, unsaved=("lm",))  # the LM's are loaded
        return model.eval()


def build_tokenizer(config: LMConfig) -> Tokenizer:
    """The tokenizer of a language model: the pretrained model's own (``config.pretrained``)
    or the character tokenizer."""
    if config.pretrained is None:
        return CharTokenizer()
    from transnar.lm.hf import HFTokenizer

    return HFTokenizer.from_pretrained(config.pretrained)


def build_language_model(config: LMConfig, tokenizer: Tokenizer) -> nn.Module:
    """A new :class:`DecoderLM` (random weights, from torch's generator), or the
    pretrained model ``config.pretrained`` (its weights, with ``tokenizer``)."""
    if config.pretrained is None:
        return DecoderLM(config, tokenizer=tokenizer)
    from transnar.lm.hf import HFCausalLM

    return HFCausalLM.from_pretrained(config.pretrained, config, tokenizer)


def load_language_model(
    config: LMConfig, directory: str | os.PathLike, map_location: str = "cpu"
) -> nn.Module:
    """The language model saved in ``directory`` by ``save_pretrained``: a
    :class:`DecoderLM`, or the pretrained model's fine-tuned weights and tokenizer.

    Raises:
        CheckpointError: a missing or unreadable model.
    """
    if config.pretrained is None:
        return DecoderLM.from_pretrained(directory, map_location=map_location)
    from transnar.lm.hf import HFCausalLM

    try:
        return HFCausalLM.from_pretrained(directory, config, map_location=map_location)
    except ValueError as error:
        raise CheckpointError(f"{directory}: {error}") from None


def decoy_features(features: Features) -> Features:
    """The control's graphs: for each sample, another instance of its algorithm
    with the same node count, drawn from the sampler (CLRS-Text's distribution)
    with a seed made from the sample's inputs (so a question always gets the
    same decoy, whatever batch it is in). The decoy's memory is made by the
    same NAR in the same way, and says nothing about the question.
    """
    algorithm = features.algorithm
    counts = features.node_mask.sum(dim=1).tolist()
    inputs = {name: value.cpu().numpy() for name, value in sorted(features.inputs.items())}
    decoys = []
    for row, count in enumerate(counts):
        count = int(count)
        key = b"".join(value[row].tobytes() for name, value in inputs.items() if name != "pos")
        seed = DECOY_SEED_BIT | zlib.crc32(key) >> 1
        size = size_of_nodes(algorithm, count)
        (decoy,) = sample(algorithm, size, seed, 1, DECOY_TRUNCATE_DECIMALS)
        decoys.append(decoy)
    return Features.from_trajectories(decoys)


def nar_dims(nar: NAR) -> tuple[int, int]:
    """Widths of a NAR's node and edge embeddings."""
    return nar.config.hidden_dim, nar.config.hidden_dim
