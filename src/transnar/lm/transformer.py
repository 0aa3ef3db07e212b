"""A decoder-only Transformer language model, in one file (nanoGPT style).

Pre-norm blocks (RMSNorm), causal multi-head self-attention through
``F.scaled_dot_product_attention`` with RoPE applied to queries and keys at
given integer positions, a SwiGLU (or GELU) MLP, optional tied embeddings.

**Randomized positions** (Ruoss et al. 2023; ``REFERENCE.md`` §4): each
sequence gets sorted positions drawn without replacement from
``[0, max_position)`` (:func:`random_positions`) instead of ``0 .. T-1``, so
that the rotations seen in training cover those of longer test sequences. On
in training; at evaluation ``LMConfig.random_positions_eval`` (default on, as
the reference). With a KV cache, a sequence's positions are drawn once for
prompt + longest answer and consumed left to right: cached keys are stored
rotated, so they keep their positions (:func:`~transnar.lm.generate` does this).

**Padding**: a batch of different lengths carries an ``attention_mask``
(``(B, S)``, True on real tokens, covering the cached tokens and this call's).
Padded keys are masked out; each pad query attends to itself only, so no row
of the softmax is empty. Positions are laid onto the real tokens only
(:func:`pad_positions`), so a padded sequence gets exactly the logits it gets
alone. Prompts are padded on the left for decoding (all sequences then end
at the same column); training batches may pad on the right, and then need no
``attention_mask`` (causal attention never looks ahead at the padding, and the
unmasked path is the fast ``is_causal`` kernel): give them
``pad_positions(random_positions(B, T, L, lengths=lengths), mask)`` so that each
sequence draws exactly as many positions as it has tokens.

**Composable** (TransNAR): :meth:`DecoderLM.forward` is ``embed`` -> blocks ->
``norm`` -> ``head``, and calls ``after_layer(layer_index, hidden)`` after each
block, where TransNAR inserts its gated cross-attention. The pieces are public:
``embed(input_ids)``, ``rope(positions)``, ``attention_bias(...)``, ``layers``
(``block(x, rope, mask, cache)``), ``norm``, ``head``.

Shapes: ``B`` batch, ``T`` tokens in this call, ``S`` keys (cached + this
call), ``D`` model width, ``H`` heads, ``Dh`` head width, ``V`` vocabulary.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from transnar import __version__
from transnar._files import CheckpointError, atomic_write, refuse_existing, unreadable_file
from transnar.lm.tokenizer import FILENAME as TOKENIZER_FILENAME
from transnar.lm.tokenizer import IGNORE_INDEX, CharTokenizer

MLP_KINDS = ("swiglu", "gelu")
FORMAT = "transnar.lm"
VERSION = 1
CONFIG_FILENAME = "config.json"
SAFETENSORS_FILENAME = "model.safetensors"
TORCH_FILENAME = "model.pt"

# after_layer(layer_index, hidden (B, T, D)) -> hidden (B, T, D)
AfterLayer = Callable[[int, torch.Tensor], torch.Tensor]
Rope = tuple[torch.Tensor, torch.Tensor]  # cos, sin: (B, 1, T, Dh / 2) each


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
            :mod:`transnar.hf`); its architecture fields are then read from
            that model (:func:`transnar.hf.pretrained_lm_config`).
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
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown LM config key(s) {unknown} (known: {sorted(known)})")
        return cls(**data)


@dataclass
class LMOutput:
    """``logits`` ``(B, T, V)``; ``loss``: mean next-token cross-entropy over the
    labels that are not :data:`IGNORE_INDEX` (None without labels)."""

    logits: torch.Tensor
    loss: torch.Tensor | None = None


def next_token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy: position ``t`` of ``logits`` ``(B, T, V)``
    predicts ``labels[:, t + 1]`` (``(B, T)``, aligned with the inputs); labels
    equal to :data:`IGNORE_INDEX` are skipped. Computed in float32."""
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.size(-1)).float(),  # (B (T - 1), V)
        labels[:, 1:].reshape(-1),  # (B (T - 1),)
        ignore_index=IGNORE_INDEX,
    )


def init_weights(module: nn.Module, std: float) -> None:
    """GPT-2's initialisation of one module: linear and embedding weights from
    ``N(0, std)``, linear biases zero (use with ``Module.apply``)."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=std)


# --- positions ---------------------------------------------------------------------


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


# --- the model ---------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()  # normalise in float32, even under autocast
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x32.type_as(x) * self.weight


class Rotary(nn.Module):
    """RoPE (Su et al. 2021), rotate-half layout, at arbitrary integer positions."""

    def __init__(self, head_dim: int, base: float):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)  # (Dh / 2,)

    def forward(self, positions: torch.Tensor) -> Rope:
        # positions (B, T) -> angles (B, 1, T, Dh / 2); the 1 broadcasts over heads
        angles = positions.to(self.inv_freq.device).float()[:, None, :, None] * self.inv_freq
        return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, rope: Rope) -> torch.Tensor:
    """Rotates the pairs ``(x[i], x[i + Dh/2])`` of ``x`` ``(B, H, T, Dh)`` by the angles."""
    cos, sin = rope
    x1, x2 = x.float().chunk(2, dim=-1)  # (B, H, T, Dh / 2) each
    rotated = torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)
    return rotated.type_as(x)


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


class CausalSelfAttention(nn.Module):
    def __init__(self, config: LMConfig):
        super().__init__()
        self.n_heads, self.head_dim, self.dropout = config.n_heads, config.head_dim, config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=False)
        self.out = nn.Linear(config.d_model, config.d_model, bias=False)  # residual projection

    def forward(
        self,
        x: torch.Tensor,
        rope: Rope,
        mask: torch.Tensor | None = None,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=2)  # (B, T, D) each
        q = q.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)
        k = k.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)
        v = v.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)
        q, k = apply_rotary(q, rope), apply_rotary(k, rope)
        if cache is not None:
            k, v = cache.update(k, v)  # (B, H, S, Dh), rotated at their own positions
        S = k.shape[2]
        # no mask: plain causal attention (S == T), or one new token that sees every key
        is_causal = mask is None and T > 1
        if is_causal and S != T:
            raise ValueError("several new tokens after cached ones need an explicit mask")
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=is_causal,
        )  # (B, H, T, Dh)
        y = y.transpose(1, 2).contiguous().view(B, T, D)  # (B, T, D)
        return self.out(y)


class MLP(nn.Module):
    def __init__(self, config: LMConfig):
        super().__init__()
        self.swiglu = config.mlp == "swiglu"
        hidden = config.mlp_hidden
        # SwiGLU: one matrix for the gate and the value halves
        self.up = nn.Linear(config.d_model, (2 if self.swiglu else 1) * hidden, bias=False)
        self.out = nn.Linear(hidden, config.d_model, bias=False)  # residual projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.swiglu:
            gate, value = self.up(x).chunk(2, dim=-1)  # (B, T, hidden) each
            return self.out(F.silu(gate) * value)
        return self.out(F.gelu(self.up(x)))


class Block(nn.Module):
    """Pre-norm block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, config: LMConfig):
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attn = CausalSelfAttention(config)
        self.mlp_norm = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = MLP(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        rope: Rope,
        mask: torch.Tensor | None = None,
        cache: LayerCache | None = None,
    ) -> torch.Tensor:
        """``x`` ``(B, T, D)``; ``rope`` of this call's positions; ``mask`` ``(B, 1, T, S)``
        bool (True: may attend) or None for plain causal attention."""
        x = x + self.dropout(self.attn(self.attn_norm(x), rope, mask, cache))
        x = x + self.dropout(self.mlp(self.mlp_norm(x)))
        return x


class DecoderLM(nn.Module):
    """The decoder-only language model (the Transformer-only baseline).

    Args:
        config: the architecture.
        tokenizer: optional; kept as ``self.tokenizer`` and saved by
            :meth:`save_pretrained`. Its vocabulary must fit ``config.vocab_size``.
    """

    def __init__(self, config: LMConfig, tokenizer: CharTokenizer | None = None):
        super().__init__()
        if config.pretrained is not None:
            raise ValueError(
                f"the LM config names a pretrained model ({config.pretrained!r}): build it "
                "with transnar.hf.HFCausalLM, not DecoderLM"
            )
        if tokenizer is not None and len(tokenizer) > config.vocab_size:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens, more than vocab_size "
                f"{config.vocab_size}"
            )
        self.config = config
        self.tokenizer = tokenizer
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model)
        self.embed_dropout = nn.Dropout(config.dropout)
        self.rotary = Rotary(config.head_dim, config.rope_base)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.head.weight = self.embed_tokens.weight
        self.apply(self._init_weights)
        # scaled residual projections (GPT-2): each block adds two to the residual stream
        residual_std = config.init_std / math.sqrt(2 * config.n_layers)
        for name, parameter in self.named_parameters():
            if name.endswith(("attn.out.weight", "mlp.out.weight")):
                nn.init.normal_(parameter, mean=0.0, std=residual_std)

    def _init_weights(self, module: nn.Module) -> None:
        init_weights(module, self.config.init_std)

    # --- the pieces ---------------------------------------------------------------

    @property
    def max_position(self) -> int:
        return self.config.max_position

    def uses_random_positions(self) -> bool:
        """Whether :meth:`forward` draws random positions when given none (now)."""
        if self.training:
            return self.config.random_positions
        return self.config.random_positions_eval

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Token embeddings (with dropout): ``(B, T)`` -> ``(B, T, D)``."""
        return self.embed_dropout(self.embed_tokens(input_ids))

    def rope(self, positions: torch.Tensor) -> Rope:
        """The rotations of ``positions`` ``(B, T)``, for every block."""
        return self.rotary(positions)

    def make_cache(self, capacity: int = 0) -> KVCache:
        """An empty KV cache for :meth:`forward`, preallocating ``capacity`` tokens."""
        return KVCache(self.config.n_layers, capacity)

    def default_positions(
        self,
        batch: int,
        length: int,
        past: int = 0,
        attention_mask: torch.Tensor | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """The positions :meth:`forward` uses when given none: ``(B, T)``.

        Linear (``0, 1, ...`` over the real tokens, after ``past`` cached ones)
        or, when :meth:`uses_random_positions`, a fresh random draw per
        sequence over its real tokens. A random draw cannot continue a cache:
        pass the positions drawn for the whole sequence instead.
        """
        if attention_mask is not None:
            attention_mask = attention_mask.bool()
            if attention_mask.shape != (batch, past + length):
                raise ValueError(
                    f"attention_mask must be (B, cached + new tokens) = {(batch, past + length)}, "
                    f"got {tuple(attention_mask.shape)}"
                )
        if self.uses_random_positions():
            if past:
                raise ValueError(
                    "random positions with a KV cache: pass positions drawn once for prompt + "
                    "answer (random_positions), so that cached keys keep theirs"
                )
            if attention_mask is None:
                return random_positions(batch, length, self.max_position, device=device)
            lengths = attention_mask.sum(dim=-1)
            drawn = random_positions(
                batch, length, self.max_position, lengths=lengths, device=device
            )
            return pad_positions(drawn, attention_mask)
        if attention_mask is None:
            return linear_positions(batch, length, offset=past, device=device)
        return pad_positions(linear_positions(batch, past + length, device=device), attention_mask)[
            :, past:
        ]

    def attention_bias(
        self, attention_mask: torch.Tensor | None, past: int, length: int
    ) -> torch.Tensor | None:
        """The mask the blocks get: ``(B, 1, T, S)`` bool (True: may attend), or None
        for plain causal attention (no padding and no cache, or one new token
        with a cache and no padding).

        Query ``i`` (the ``past + i``-th token) sees key ``j <= past + i`` when
        key ``j`` is real; a padding query sees itself only (no empty softmax row).
        """
        if attention_mask is None and (past == 0 or length == 1):
            return None
        S = past + length
        device = attention_mask.device if attention_mask is not None else None
        query = torch.arange(past, S, device=device)[:, None]  # (T, 1): absolute index
        key = torch.arange(S, device=device)[None, :]  # (1, S)
        allowed = (key <= query)[None, None]  # (1, 1, T, S)
        if attention_mask is not None:
            allowed = (allowed & attention_mask.bool()[:, None, None, :]) | (key == query)
        return allowed

    # --- forward ------------------------------------------------------------------

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        cache: KVCache | None = None,
        after_layer: AfterLayer | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> LMOutput:
        """Runs the model on ``input_ids`` ``(B, T)``.

        Args:
            input_ids: ``(B, T)`` token ids (this call's; after the cached ones).
            positions: ``(B, T)`` int64 positions of these tokens (default:
                :meth:`default_positions`).
            labels: ``(B, T)`` targets aligned with ``input_ids`` (shifted
                here: position ``t`` predicts ``labels[:, t + 1]``);
                :data:`IGNORE_INDEX` marks the prompt and padding.
            cache: a :class:`KVCache` (:meth:`make_cache`) to read and extend.
            after_layer: ``after_layer(layer_index, hidden (B, T, D)) -> hidden``,
                called after each block (TransNAR's cross-attention goes there).
            attention_mask: ``(B, S)``, True on real tokens, over the cached
                tokens and these; None when nothing is padded.

        Returns:
            :class:`LMOutput` with ``logits`` ``(B, T, V)`` and the loss when
            ``labels`` are given (mean over the labels not ignored).
        """
        B, T = input_ids.shape
        past = 0 if cache is None else cache.length
        if positions is None:
            positions = self.default_positions(B, T, past, attention_mask, input_ids.device)
        elif positions.shape != (B, T):
            raise ValueError(f"positions must be (B, T) = {(B, T)}, got {tuple(positions.shape)}")
        if attention_mask is not None and attention_mask.shape != (B, past + T):
            raise ValueError(
                f"attention_mask must be (B, cached + new tokens) = {(B, past + T)}, "
                f"got {tuple(attention_mask.shape)}"
            )
        x = self.embed(input_ids)  # (B, T, D)
        rope = self.rope(positions)  # cos, sin (B, 1, T, Dh / 2)
        mask = self.attention_bias(attention_mask, past, T)  # (B, 1, T, S) or None
        for index, layer in enumerate(self.layers):
            x = layer(x, rope, mask, None if cache is None else cache.layers[index])  # (B, T, D)
            if after_layer is not None:
                x = after_layer(index, x)
        logits = self.head(self.norm(x))  # (B, T, V)
        loss = None if labels is None else next_token_loss(logits, labels)
        return LMOutput(logits=logits, loss=loss)

    def num_parameters(self, exclude_embeddings: bool = False) -> int:
        """Trainable parameters (tied matrices once); optionally without the embeddings."""
        params = {id(p): p for p in self.parameters() if p.requires_grad}
        if exclude_embeddings:
            params.pop(id(self.embed_tokens.weight), None)
        return sum(p.numel() for p in params.values())

    # --- files --------------------------------------------------------------------

    def save_pretrained(
        self,
        directory: str | os.PathLike,
        tokenizer: CharTokenizer | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Writes ``config.json``, the weights and ``tokenizer.json`` to ``directory``.

        Weights go to ``model.safetensors`` when ``safetensors`` is installed,
        else ``model.pt`` (a state dict, read back with ``weights_only=True``);
        a tied head is stored once. Each file is written atomically; the
        config last, so a directory with a config is complete.

        Args:
            directory: created if needed.
            tokenizer: the tokenizer to save (default ``self.tokenizer``; one is needed).
            overwrite: replace an existing saved model; otherwise refuse
                (:class:`~transnar._files.OutputExistsError`) before writing.
        """
        tokenizer = tokenizer if tokenizer is not None else self.tokenizer
        if tokenizer is None:
            raise ValueError("no tokenizer to save: pass tokenizer= or build the model with one")
        if len(tokenizer) > self.config.vocab_size:
            raise ValueError(
                f"the tokenizer has {len(tokenizer)} tokens, more than vocab_size "
                f"{self.config.vocab_size}"
            )
        directory = Path(directory)
        safetensors = _safetensors()
        weights_name = SAFETENSORS_FILENAME if safetensors else TORCH_FILENAME
        files = [CONFIG_FILENAME, SAFETENSORS_FILENAME, TORCH_FILENAME, TOKENIZER_FILENAME]
        refuse_existing([directory / name for name in files], overwrite)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        if self.config.tie_embeddings:
            state.pop("head.weight")
        directory.mkdir(parents=True, exist_ok=True)
        # an earlier save goes first, its config first: never a config beside other weights
        for stale in (CONFIG_FILENAME, SAFETENSORS_FILENAME, TORCH_FILENAME):
            if stale != weights_name:
                (directory / stale).unlink(missing_ok=True)
        with atomic_write(directory / weights_name, overwrite=True) as handle:
            if safetensors:
                handle.write(safetensors.save(state, metadata={"format": FORMAT}))
            else:
                torch.save(state, handle)
        tokenizer.save(directory, overwrite=True)
        document = {
            "format": FORMAT,
            "version": VERSION,
            "model": type(self).__name__,
            "transnar_version": __version__,
            "torch_version": torch.__version__,
            "weights": weights_name,
            "config": self.config.to_dict(),
        }
        with atomic_write(directory / CONFIG_FILENAME, overwrite=True, mode="w") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
        return directory

    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike,
        tokenizer: CharTokenizer | None = None,
        map_location: torch.device | str = "cpu",
    ) -> DecoderLM:
        """Loads a model saved by :meth:`save_pretrained` (in eval mode).

        Args:
            directory: the saved model.
            tokenizer: if given, it must equal the saved one (a
                :class:`CheckpointError` otherwise).
            map_location: where the weights go.

        Raises:
            FileNotFoundError: no saved model there.
            CheckpointError: a corrupt, incomplete or mismatched directory.
        """
        directory = Path(directory)
        config_path = directory / CONFIG_FILENAME
        if not config_path.is_file():
            raise FileNotFoundError(f"{directory} holds no saved LM (no {CONFIG_FILENAME})")
        try:
            document = json.loads(config_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise CheckpointError(f"{config_path} is not valid JSON: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CheckpointError(f"{config_path} is not a {FORMAT} config")
        if document.get("version") != VERSION:
            raise CheckpointError(
                f"{config_path} has {FORMAT} version {document.get('version')!r}; "
                f"this transnar reads version {VERSION}"
            )
        if document.get("model") != cls.__name__:
            raise CheckpointError(
                f"{config_path} holds a {document.get('model')!r}, not a {cls.__name__}"
            )
        try:
            config = LMConfig.from_dict(document["config"])
        except (KeyError, TypeError, ValueError) as error:
            raise CheckpointError(f"{config_path}: bad config: {error}") from None
        try:
            saved_tokenizer = CharTokenizer.load(directory)
        except (FileNotFoundError, ValueError) as error:
            raise CheckpointError(f"{directory}: {error}") from None
        if tokenizer is not None and tokenizer != saved_tokenizer:
            raise CheckpointError(
                f"the tokenizer given differs from the one saved in {directory}: "
                f"{tokenizer!r} vs {saved_tokenizer!r}"
            )
        if len(saved_tokenizer) > config.vocab_size:
            raise CheckpointError(
                f"{directory}: the tokenizer has {len(saved_tokenizer)} tokens, more than "
                f"vocab_size {config.vocab_size}"
            )
        state = _read_weights(directory, document.get("weights"))
        model = cls(config, tokenizer=saved_tokenizer)
        expected = model.state_dict()
        tied = {"head.weight"} if config.tie_embeddings else set()
        missing = sorted(set(expected) - set(state) - tied)
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            raise CheckpointError(
                f"{directory}: the weights do not match the config (missing {missing[:5]}, "
                f"unexpected {unexpected[:5]})"
            )
        wrong = [
            f"{k}: {tuple(v.shape)} vs {tuple(expected[k].shape)}"
            for k, v in state.items()
            if v.shape != expected[k].shape
        ]
        if wrong:
            raise CheckpointError(f"{directory}: weights of the wrong shape: {wrong[:5]}")
        model.load_state_dict(state, strict=False)
        return model.to(map_location).eval()


def _safetensors():
    """The ``safetensors.torch`` module, or None when it is not installed."""
    try:
        import safetensors.torch
    except ImportError:
        return None
    return safetensors.torch


def _read_weights(directory: Path, name: object) -> dict[str, torch.Tensor]:
    if name not in (SAFETENSORS_FILENAME, TORCH_FILENAME):
        raise CheckpointError(f"{directory}: unknown weights file {name!r} in {CONFIG_FILENAME}")
    path = directory / name
    if not path.is_file():
        raise CheckpointError(f"{directory}: the weights file {name} is missing")
    try:
        if name == SAFETENSORS_FILENAME:
            safetensors = _safetensors()
            if safetensors is None:
                raise CheckpointError(
                    f"{path} needs the safetensors package: pip install safetensors"
                )
            state = safetensors.load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as error:  # whatever a corrupt file raises
        raise unreadable_file(path, "weights file", error) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return state


__all__ = [
    "IGNORE_INDEX",
    "Block",
    "CausalSelfAttention",
    "CheckpointError",
    "DecoderLM",
    "KVCache",
    "LMConfig",
    "LMOutput",
    "LayerCache",
    "apply_rotary",
    "init_weights",
    "linear_positions",
    "next_token_loss",
    "pad_positions",
    "random_positions",
]
