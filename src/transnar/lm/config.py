"""The architecture of a :class:`~transnar.lm.DecoderLM`: :class:`LMConfig`."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from transnar._config import check_keys

MLP_KINDS = ("swiglu", "gelu")


@dataclass(frozen=True)
class LMConfig:
    """Architecture of a :class:`DecoderLM`.

    Attributes:
        vocab_size: ``V``, at least the tokenizer's (79 for the default
            :class:`~transnar.lm.CharTokenizer`).
        d_model: ``D``.
        n_layers: number of blocks.
        n_heads: ``H``; ``D / H`` must be even (RoPE rotates pairs).
        d_ff: hidden width of the MLP; ``None``: ``4 D`` for GELU, ``8 D / 3``
            rounded up to a multiple of 32 for SwiGLU (about the same parameters).
        mlp: ``"swiglu"`` or ``"gelu"``.
        dropout: on embeddings, attention weights and residual branches.
        tie_embeddings: the output head shares the embedding matrix.
        rope_base: RoPE's base (``theta``).
        max_position: ``L_max``: random positions are drawn from
            ``[0, max_position)`` (8,192 in TransNAR); also the longest
            sequence the model accepts with random positions.
        random_positions: draw random positions in training when none are given.
        random_positions_eval: likewise in eval mode (default on, as the reference).
        norm_eps: RMSNorm epsilon.
        init_std: standard deviation of the normal initialisation (residual
            output projections get ``init_std / sqrt(2 n_layers)``).
        pretrained: a Hugging Face causal LM (model id or local directory) to
            use instead of a new :class:`DecoderLM` (the ``hf`` extra,
            :mod:`transnar.lm.hf`); its architecture fields are then read from
            that model (:func:`transnar.lm.hf.pretrained_lm_config`).
    """

    vocab_size: int = 79
    d_model: int = 256
    n_layers: int = 6
    n_heads: int = 8
    d_ff: int | None = None
    mlp: str = "swiglu"
    dropout: float = 0.0
    tie_embeddings: bool = True
    rope_base: float = 10000.0
    max_position: int = 8192
    random_positions: bool = True
    random_positions_eval: bool = True
    norm_eps: float = 1e-5
    init_std: float = 0.02
    pretrained: str | None = None

    def __post_init__(self):
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "max_position"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})"
            )
        if self.head_dim % 2:
            raise ValueError(f"the head width d_model / n_heads must be even, got {self.head_dim}")
        if self.d_ff is not None and (not isinstance(self.d_ff, int) or self.d_ff < 1):
            raise ValueError(f"d_ff must be a positive integer or None, got {self.d_ff!r}")
        if self.mlp not in MLP_KINDS:
            raise ValueError(f"mlp must be one of {MLP_KINDS}, got {self.mlp!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        for name in ("rope_base", "norm_eps", "init_std"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.pretrained is not None and (
            not isinstance(self.pretrained, str) or not self.pretrained.strip()
        ):
            raise ValueError(
                f"pretrained must be a model id or directory (or None), got {self.pretrained!r}"
            )

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def mlp_hidden(self) -> int:
        if self.d_ff is not None:
            return self.d_ff
        if self.mlp == "gelu":
            return 4 * self.d_model
        return 32 * math.ceil(8 * self.d_model / 3 / 32)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LMConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error naming them."""
        check_keys(data, cls, "LM")
        return cls(**data)


__all__ = ["MLP_KINDS", "LMConfig"]
