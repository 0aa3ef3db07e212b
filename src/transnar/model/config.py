"""The TransNAR config: the language model, where the cross-attention goes, what it reads.

:class:`TransNARConfig` describes a TransNAR, its control (``memory_source="decoy"``)
or, with ``use_nar=False``, its Transformer-only baseline; the memory modes
(:data:`MEMORY_MODES`) and sources (:data:`MEMORY_SOURCES`) are explained in
:mod:`transnar.model.transnar`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from transnar._config import check_keys, not_int
from transnar.lm.config import LMConfig
from transnar.nar.stepping import check_step_mode

MEMORY_MODES = ("final", "lockstep", "all", "pooled")
STEP_MODES_READ = ("all", "pooled")  # the memory modes that read every step (StepReader)
MEMORY_SOURCES = ("question", "decoy", "blank", "last-step")


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
            instance), ``decoy`` (the control: on another instance of the
            same algorithm and node count,
            :func:`~transnar.model.decoy.decoy_features`) or ``blank`` (a
            second control: the question's memory with every state zero, its
            masks kept: TransNAR's parameters, no information at all) or
            ``last-step`` (the question's memory with every step's states
            replaced by its last step's, the shapes and masks kept: with
            ``memory="all"``, the control of what the intermediate states add
            beyond the number of slots read; the same as ``question`` in
            ``final`` mode).
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
        for name in ("nar_node_dim", "nar_edge_dim"):
            value = getattr(self, name)
            if not_int(value) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        heads = self.xattn_heads
        if heads is not None and (not_int(heads) or heads < 1):
            raise ValueError(
                f"xattn_heads must be an integer >= 1 or None (the LM's), got {heads!r}"
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
        """The cross-attention's heads: ``xattn_heads``, or the LM's."""
        return self.xattn_heads if self.xattn_heads is not None else self.lm.n_heads

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
        check_keys(data, cls, "TransNAR")
        # Files made before leak-free stepping ran the NAR to the true length.
        defaults = {"nar_steps": "oracle"}
        return cls(**{**defaults, **data, "lm": LMConfig.from_dict(data.get("lm", {}))})

    @property
    def kind(self) -> str:
        """``baseline``, ``control`` (a decoy, blank or last-step memory) or ``transnar``."""
        if not self.use_nar:
            return "baseline"
        return "transnar" if self.memory_source == "question" else "control"


__all__ = ["MEMORY_MODES", "MEMORY_SOURCES", "STEP_MODES_READ", "TransNARConfig"]
