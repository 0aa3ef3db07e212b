"""A decoder-only Transformer language model (nanoGPT style).

Pre-norm blocks (RMSNorm), causal multi-head self-attention through
``F.scaled_dot_product_attention`` with RoPE applied to queries and keys at
given integer positions (linear or randomized: :mod:`transnar.lm.positions`),
a SwiGLU (or GELU) MLP, optional tied embeddings, a KV cache
(:mod:`transnar.lm.cache`).

**Padding**: a batch of different lengths carries an ``attention_mask``
(``(B, S)``, True on real tokens, covering the cached tokens and this call's).
Padded keys are masked out; each pad query attends to itself only, so no row
of the softmax is empty. Positions are laid onto the real tokens only
(:func:`~transnar.lm.positions.pad_positions`), so a padded sequence gets
exactly the logits it gets alone. Prompts are padded on the left for decoding
(all sequences then end at the same column); training batches may pad on the
right, and then need no ``attention_mask`` (causal attention never looks
ahead at the padding, and the unmasked path is the fast ``is_causal`` kernel).

**Composable** (TransNAR): :meth:`DecoderLM.forward` is ``embed`` -> blocks ->
``norm`` -> ``head``, and calls ``after_layer(layer_index, hidden)`` after each
block, where TransNAR inserts its gated cross-attention. The pieces are public:
``embed(input_ids)``, ``rope(positions)``, ``attention_bias(...)``, ``layers``
(``block(x, rope, mask, cache)``), ``norm``, ``head``.

**Files**: :meth:`DecoderLM.save_pretrained` writes ``config.json`` (a
:mod:`transnar.persistence` header, format ``transnar.lm``), the weights
(``model.safetensors``, or ``model.pt`` without safetensors) and ``tokenizer.json``.

Shapes: ``B`` batch, ``T`` tokens in this call, ``S`` keys (cached + this
call), ``D`` model width, ``H`` heads, ``Dh`` head width, ``V`` vocabulary.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from transnar.lm.cache import KVCache, LayerCache
from transnar.lm.config import LMConfig
from transnar.lm.positions import (
    check_attention_mask,
    linear_positions_after,
    pad_positions,
    random_positions,
)
from transnar.lm.tokenizer import FILENAME as TOKENIZER_FILENAME
from transnar.lm.tokenizer import IGNORE_INDEX, CharTokenizer, check_fits
from transnar.persistence import (
    CheckpointError,
    FileFormat,
    load_state,
    provenance,
    read_json,
    read_weights,
    refuse_existing,
    weights_filename,
    write_json,
    write_weights,
)

FORMAT = FileFormat(
    "transnar.lm",
    1,
    "saved LM config",
    remedy="save the model again (DecoderLM.save_pretrained, or train it again)",
)
CONFIG_FILENAME = "config.json"
SAFETENSORS_FILENAME = "model.safetensors"
TORCH_FILENAME = "model.pt"

# after_layer(layer_index, hidden (B, T, D)) -> hidden (B, T, D)
AfterLayer = Callable[[int, torch.Tensor], torch.Tensor]
# cos (cos, cos) and signed sin (-sin, sin) of the angles: (B, 1, T, Dh) each
Rope = tuple[torch.Tensor, torch.Tensor]


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


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last dimension, with a learned scale."""

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
        cos, sin = angles.cos(), angles.sin()
        return torch.cat((cos, cos), dim=-1), torch.cat((-sin, sin), dim=-1)  # (B, 1, T, Dh)


def apply_rotary(x: torch.Tensor, rope: Rope) -> torch.Tensor:
    """Rotates the pairs ``(x[i], x[i + Dh/2])`` of ``x`` ``(B, H, T, Dh)`` by the angles:
    ``(x1 cos - x2 sin, x2 cos + x1 sin)``, as ``x * (cos, cos) + (x2, x1) * (-sin, sin)``
    (the same numbers; two full-width products are much faster on the CPU than four
    half-width ones of the strided halves of ``x``)."""
    cos, signed_sin = rope
    x32 = x.float()
    x1, x2 = x32.chunk(2, dim=-1)  # (B, H, T, Dh / 2) each
    rotated = x32 * cos + torch.cat((x2, x1), dim=-1) * signed_sin
    return rotated.type_as(x)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with rotary position embeddings and an
    optional KV cache (one :class:`LayerCache` per layer)."""

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
        """``x`` ``(B, T, D)`` -> ``(B, T, D)``; ``mask`` ``(B, 1, T, S)`` bool (True:
        may attend; None: causal), ``S`` the cached plus new tokens."""
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
    """The feed-forward block: SwiGLU (``mlp="swiglu"``) or a GELU MLP."""

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
                "with transnar.lm.hf.HFCausalLM, not DecoderLM"
            )
        if tokenizer is not None:
            check_fits(tokenizer, config.vocab_size)
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
        check_attention_mask(attention_mask, batch, past, length)
        if attention_mask is not None:
            attention_mask = attention_mask.bool()
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
        return linear_positions_after(batch, length, past, attention_mask, device)

    def attention_bias(
        self,
        attention_mask: torch.Tensor | None,
        past: int,
        length: int,
        device: torch.device | None = None,
    ) -> torch.Tensor | None:
        """The mask the blocks get: ``(B, 1, T, S)`` bool (True: may attend), or None
        for plain causal attention (no padding and no cache, or one new token
        with a cache and no padding).

        Query ``i`` (the ``past + i``-th token) sees key ``j <= past + i`` when
        key ``j`` is real; a padding query sees itself only (no empty softmax row).
        ``device``: the mask's without an ``attention_mask`` (the input's).
        """
        if attention_mask is None and (past == 0 or length == 1):
            return None
        S = past + length
        device = attention_mask.device if attention_mask is not None else device
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
        check_attention_mask(attention_mask, B, past, T)
        x = self.embed(input_ids)  # (B, T, D)
        rope = self.rope(positions)  # cos, signed sin (B, 1, T, Dh)
        mask = self.attention_bias(attention_mask, past, T, input_ids.device)  # (B,1,T,S)|None
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
                (:class:`~transnar.persistence.OutputExistsError`) before writing.
        """
        tokenizer = tokenizer if tokenizer is not None else self.tokenizer
        if tokenizer is None:
            raise ValueError("no tokenizer to save: pass tokenizer= or build the model with one")
        check_fits(tokenizer, self.config.vocab_size)
        directory = Path(directory)
        weights_name = weights_filename("model")
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
        write_weights(directory / weights_name, state, metadata={"format": FORMAT.name})
        tokenizer.save(directory, overwrite=True)
        document = {
            **FORMAT.header(),
            "model": type(self).__name__,
            **provenance(torch_version=True),
            "weights": weights_name,
            "config": self.config.to_dict(),
        }
        write_json(directory / CONFIG_FILENAME, document)
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
        document = read_json(config_path, FORMAT, holder="saved LM")
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
        try:
            check_fits(saved_tokenizer, config.vocab_size)
        except ValueError as error:
            raise CheckpointError(f"{directory}: {error}") from None
        weights_name = document.get("weights")
        if weights_name not in (SAFETENSORS_FILENAME, TORCH_FILENAME):
            raise CheckpointError(
                f"{directory}: unknown weights file {weights_name!r} in {CONFIG_FILENAME}"
            )
        state = read_weights(directory / weights_name, "weights file")
        model = cls(config, tokenizer=saved_tokenizer)
        tied = ("head.weight",) if config.tie_embeddings else ()
        load_state(model, state, directory, unsaved=tied)
        return model.to(map_location).eval()


__all__ = [
    "Block",
    "CausalSelfAttention",
    "DecoderLM",
    "LMOutput",
    "apply_rotary",
    "init_weights",
    "next_token_loss",
]
