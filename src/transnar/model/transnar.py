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
instance of the same algorithm and node count
(:func:`~transnar.model.decoy.decoy_features`): real NAR states, with nothing
about its own question in them.

With ``use_nar=False`` the same class is the Transformer-only baseline (no
cross-attention blocks, no NAR): one model, one switch.

The language model is a :class:`~transnar.lm.DecoderLM`, or, when
``lm.pretrained`` names one, a pretrained Hugging Face causal LM behind the
same interface (:class:`transnar.lm.hf.HFCausalLM`, the ``hf`` extra):
:mod:`transnar.lm.builders` picks the one the config asks for.

Shapes: ``B`` batch, ``T`` tokens, ``D`` model width, ``N`` nodes, ``M`` memory
slots (``N`` nodes or ``N * N`` edges), ``S`` NAR steps, ``Hn``/``He`` NAR node and
edge widths.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from transnar import persistence
from transnar.lm.builders import load_language_model
from transnar.lm.tokenizer import Tokenizer
from transnar.lm.transformer import LMOutput, init_weights
from transnar.model.config import STEP_MODES_READ, TransNARConfig
from transnar.model.decoy import decoy_features
from transnar.model.layers import GatedCrossAttentionBlock, StepReader
from transnar.nar.config import NARConfig
from transnar.nar.features import Features
from transnar.nar.memory import GraphMemory
from transnar.nar.model import NAR
from transnar.persistence import CheckpointError

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


@dataclasses.dataclass
class DecodingCache:
    """TransNAR's cache for decoding (:meth:`TransNAR.make_cache`).

    Attributes:
        lm: the language model's KV cache.
        memory: per cross-attention layer, the keys and values of the graph
            memory's nodes and edges ``(B, h, M, Dh)``, computed once.
        step_read: in the modes that read every step (``all``, ``pooled``), what
            the :class:`StepReader` made of the memory (nodes, their mask, edges,
            their mask), computed once; None before the first call.
    """

    lm: Any  # the language model's cache: a KVCache, or an HFCache
    memory: dict[int, dict[str, tuple[torch.Tensor, torch.Tensor]]] = dataclasses.field(
        default_factory=dict
    )
    step_read: tuple[torch.Tensor, ...] | None = None

    @property
    def length(self) -> int:
        """Tokens cached."""
        return self.lm.length


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
        if nar is not None and (config.nar_node_dim, config.nar_edge_dim) != nar_dims(nar.config):
            raise ValueError(
                f"the NAR's embeddings are {nar_dims(nar.config)} wide, config says "
                f"{(config.nar_node_dim, config.nar_edge_dim)}"
            )
        self.config = config
        self.lm = lm
        self.nar = nar.requires_grad_(False).eval() if config.use_nar else None
        self.xattn, self.step_reader = memory_readers(config)

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
        memory = GraphMemory.from_output(output, features.node_mask)
        if config.memory_source == "blank":  # the same shapes and masks, no information
            memory = dataclasses.replace(
                memory, nodes=torch.zeros_like(memory.nodes), edges=torch.zeros_like(memory.edges)
            )
        elif config.memory_source == "last-step":  # the same slots, no intermediate state
            memory = memory.last_step_everywhere()
        return memory

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
            read = self._step_read(memory, cache)

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

    def _step_read(
        self, memory: GraphMemory, cache: DecodingCache | None
    ) -> tuple[torch.Tensor, ...] | None:
        """The :class:`StepReader`'s reading of ``memory`` (None in the modes
        that read one step): once per cache, not at every decoded token."""
        if self.step_reader is None:
            return None
        if cache is None:
            return self.step_reader(memory)
        if cache.step_read is None:
            cache.step_read = self.step_reader(memory)
        return cache.step_read

    # generate() talks to the model through these, as to a DecoderLM.

    def make_cache(self, capacity: int = 0) -> DecodingCache:
        """An empty cache for decoding up to ``capacity`` tokens (0: grows)."""
        return DecodingCache(self.lm.make_cache(capacity))

    @property
    def max_position(self) -> int:
        """The language model's ``L_max``."""
        return self.lm.max_position

    def uses_random_positions(self) -> bool:
        """Whether it answers at random positions (its language model's choice)."""
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
        for stale in ours:  # first: never an old TransNAR config beside new LM weights
            (directory / stale).unlink(missing_ok=True)
        self.lm.save_pretrained(directory, overwrite=overwrite)
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
        return model.to(map_location).eval()


def memory_readers(config: TransNARConfig) -> tuple[nn.ModuleDict, StepReader | None]:
    """The trainable modules TransNAR adds to its language model: a gated
    cross-attention block per layer of ``config.xattn_layers()`` (keyed by the
    layer's index), and the :class:`StepReader` of the memory modes that read
    every step (None otherwise), initialised."""
    xattn = nn.ModuleDict({str(i): GatedCrossAttentionBlock(config) for i in config.xattn_layers()})
    for block in xattn.values():
        block.apply(functools.partial(init_weights, std=config.lm.init_std))
    reads_steps = config.use_nar and config.memory in STEP_MODES_READ
    return xattn, StepReader(config) if reads_steps else None


def nar_dims(nar: NARConfig) -> tuple[int, int]:
    """Widths of the node and edge embeddings of a NAR of this config."""
    return nar.hidden_dim, nar.hidden_dim


def with_nar_widths(config: TransNARConfig, nar: NARConfig) -> TransNARConfig:
    """``config`` with the cross-attention's memory widths set to those of a NAR
    of config ``nar``."""
    node_dim, edge_dim = nar_dims(nar)
    return dataclasses.replace(config, nar_node_dim=node_dim, nar_edge_dim=edge_dim)


__all__ = [
    "CONFIG_FILENAME",
    "FORMAT",
    "WEIGHTS_FILENAMES",
    "DecodingCache",
    "TransNAR",
    "memory_readers",
    "nar_dims",
    "with_nar_widths",
]
