"""Pretrained Hugging Face causal LMs as TransNAR's language model (the ``hf`` extra).

:class:`HFCausalLM` puts a ``transformers`` causal LM of the GPT-2, GPT-NeoX
(Pythia) or Llama families behind :class:`~transnar.lm.DecoderLM`'s interface
(``forward`` with an ``after_layer`` hook, ``make_cache``, ``max_position``,
``tokenizer``, ``save_pretrained``/``from_pretrained``). :class:`~transnar.model.TransNAR`
then inserts its gated cross-attention blocks after the model's decoder layers
(through forward hooks on the layer modules, for the duration of each call),
and the training loop, :func:`~transnar.lm.generate` and the evaluation use it
unchanged. The gates start closed, so a new TransNAR computes exactly what the
pretrained model computes.

In training, ``model.lm.pretrained=<model id or directory>`` selects it; the
LM config's architecture fields are then read from the model
(:func:`pretrained_lm_config`), and ``mlp``/``d_ff`` only shape the FFN of the
cross-attention blocks.

- **Positions**: the model's own scheme (learned absolute positions for GPT-2,
  rotary for GPT-NeoX and Llama) at ``0, 1, ...`` over each sequence's real
  tokens. Randomized positions (Ruoss et al. 2023) do not apply: the
  pretrained model never saw them, so ``uses_random_positions()`` is False
  and sequences are limited to the model's ``max_position_embeddings``.
- **Tokenizer**: the model's own (:class:`HFTokenizer`), as a
  :class:`~transnar.lm.tokenizer.Tokenizer`: questions and answers are
  encoded separately, ``<bos>`` is the model's BOS token (else its EOS token),
  padding its PAD token (else EOS). Decoding goes token by token, so the
  tokenizer must decode each token to its own piece of the text; one that
  does not (SentencePiece's prefix space, as in Llama 2) is refused.
- **Files**: :meth:`HFCausalLM.save_pretrained` writes the model and tokenizer
  with the ``transformers`` API (``config.json``, ``model.safetensors``,
  tokenizer files), so the directory also loads with
  ``AutoModelForCausalLM.from_pretrained``; TransNAR adds ``transnar.json``
  and ``transnar.safetensors`` beside them.
- The model is loaded in float32 (training uses bf16 autocast on CUDA) and is
  fine-tuned with the cross-attention (only the NAR is frozen).

Shapes: ``B`` batch, ``T`` tokens in this call, ``S`` cached + new tokens,
``D`` model width, ``V`` vocabulary.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from transnar.lm.config import LMConfig
from transnar.lm.positions import check_attention_mask, linear_positions_after
from transnar.lm.tokenizer import CLRS_TEXT_ALPHABET, Tokenizer, check_fits
from transnar.lm.transformer import AfterLayer, LMOutput, next_token_loss
from transnar.persistence import refuse_existing

# model_type -> the attribute path of its decoder layers
DECODER_LAYERS = {
    "gpt2": "transformer.h",
    "gpt_neox": "gpt_neox.layers",
    "llama": "model.layers",
}
# transformers' files of a saved model, checked before overwriting one
HF_CONFIG = "config.json"
MODEL_FILES = (HF_CONFIG, "model.safetensors", "tokenizer.json", "tokenizer_config.json")
# A CLRS-Text example and the whole alphabet: what a tokenizer must encode and
# decode token by token.
PROBE_TEXT = "bfs:\ns: 0, A: [[0 1] [1 0.5]]\npi:\n" + "[0 0]\n\n" + CLRS_TEXT_ALPHABET


def _transformers():
    """The ``transformers`` module, or an ImportError naming the ``hf`` extra."""
    try:
        import transformers
    except ImportError:
        raise ImportError(
            "pretrained Hugging Face models need the transformers package: "
            "pip install 'transnar[hf]'"
        ) from None
    return transformers


def _load(loader: Any, source: str | os.PathLike, what: str) -> Any:
    """``loader.from_pretrained(source)``, with a missing model as one ValueError."""
    # a path (a model id never starts so) that does not exist: say so, not what the Hub says
    if str(source).startswith(("/", ".", "~")) and not Path(source).expanduser().exists():
        raise ValueError(f"cannot load the {what} of {str(source)!r}: no such directory")
    try:
        return loader.from_pretrained(source)
    except OSError as error:
        raise ValueError(f"cannot load the {what} of {str(source)!r}: {error}") from None


def _check_supported(hf_config: Any, source: str) -> None:
    model_type = getattr(hf_config, "model_type", None)
    if model_type not in DECODER_LAYERS:
        raise ValueError(
            f"{source!r} is a {model_type!r} model; transnar inserts cross-attention after "
            f"the decoder layers of {', '.join(DECODER_LAYERS)} models only"
        )


def pretrained_lm_config(config: LMConfig, hf_config: Any = None) -> LMConfig:
    """``config`` with the architecture of the pretrained model ``config.pretrained``.

    Width, layers, heads, vocabulary, ``max_position`` (the model's maximum
    positions), normalisation epsilon, initialisation scale and embedding tying
    come from the model; random positions are turned off. The other fields
    are kept (``mlp`` and ``d_ff`` shape the cross-attention blocks' FFN).

    Args:
        config: an LM config with ``pretrained`` set.
        hf_config: the model's ``transformers`` config (default: loaded from
            ``config.pretrained``).

    Raises:
        ValueError: no such model, or an unsupported architecture.
    """
    if config.pretrained is None:
        raise ValueError("the LM config names no pretrained model (lm.pretrained)")
    if hf_config is None:
        hf_config = _load(_transformers().AutoConfig, config.pretrained, "config")
    _check_supported(hf_config, config.pretrained)
    norm_eps = next(
        (
            getattr(hf_config, name)
            for name in ("rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon")
            if getattr(hf_config, name, None) is not None
        ),
        config.norm_eps,
    )
    return dataclasses.replace(
        config,
        vocab_size=hf_config.vocab_size,
        d_model=hf_config.hidden_size,
        n_layers=hf_config.num_hidden_layers,
        n_heads=hf_config.num_attention_heads,
        max_position=hf_config.max_position_embeddings,
        norm_eps=norm_eps,
        init_std=hf_config.initializer_range,
        tie_embeddings=bool(getattr(hf_config, "tie_word_embeddings", False)),
        random_positions=False,
        random_positions_eval=False,
    )


def _first_difference(a: str, b: str) -> int:
    """The index of the first character where ``a`` and ``b`` differ."""
    differing = (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
    return next(differing, min(len(a), len(b)))


class HFTokenizer(Tokenizer):
    """A Hugging Face tokenizer as a :class:`~transnar.lm.tokenizer.Tokenizer`.

    Texts are encoded without the tokenizer's own special tokens; ``bos_id``
    is its BOS token (else EOS, as GPT-2 starts documents), ``eos_id`` its EOS
    token and ``pad_id`` its PAD token (else EOS; padding is masked anyway).

    Args:
        tokenizer: a ``transformers`` tokenizer.

    Raises:
        ValueError: the tokenizer does not decode, token by token, a CLRS-Text
            example it encodes back to that example (:data:`PROBE_TEXT`).
    """

    def __init__(self, tokenizer: Any):
        self.hf = tokenizer
        self.eos_id = tokenizer.eos_token_id
        self.bos_id = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else self.eos_id
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        self.pad_id = pad_id if pad_id is not None else 0
        self._encodes: dict[str, bool] = {}
        pieces = "".join(self.decode([i]) for i in self.encode(PROBE_TEXT))
        if pieces != PROBE_TEXT:
            at = _first_difference(pieces, PROBE_TEXT)
            raise ValueError(
                f"the tokenizer {self.name!r} does not decode CLRS-Text token by token back "
                f"to the text it encodes (from character {at}: {PROBE_TEXT[at : at + 12]!r} "
                f"came back as {pieces[at : at + 12]!r}); transnar decodes answers token by "
                "token, so tokenizers that add a prefix space (SentencePiece) or lose "
                "characters are not supported"
            )

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike) -> HFTokenizer:
        """The tokenizer of a model id or directory (``AutoTokenizer``)."""
        return cls(_load(_transformers().AutoTokenizer, source, "tokenizer"))

    @property
    def name(self) -> str:
        return str(getattr(self.hf, "name_or_path", "") or type(self.hf).__name__)

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    def __len__(self) -> int:
        return len(self.hf)

    def __repr__(self) -> str:
        return f"HFTokenizer({self.name!r}, vocab_size={self.vocab_size})"

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """The ids of ``text`` (no special tokens but those asked for)."""
        ids = self.hf.encode(text, add_special_tokens=False)
        if add_bos and self.bos_id is not None:
            ids = [self.bos_id, *ids]
        if add_eos and self.eos_id is not None:
            ids = [*ids, self.eos_id]
        return ids

    def decode(self, ids: Iterable[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        """The text of ``ids``, as the tokenizer writes it (no space clean-up)."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return self.hf.decode(
            list(ids), skip_special_tokens=skip_special_tokens, clean_up_tokenization_spaces=False
        )

    def unknown_characters(self, text: str) -> list[tuple[int, str]]:
        """``(position, character)`` of the characters that do not survive encoding."""
        unknown = []
        for position, character in enumerate(text):
            if character not in self._encodes:
                self._encodes[character] = self.decode(self.encode(character)) == character
            if not self._encodes[character]:
                unknown.append((position, character))
        return unknown

    def save(self, directory: str | os.PathLike) -> None:
        """Writes the tokenizer's files to ``directory`` (``save_pretrained``)."""
        self.hf.save_pretrained(str(directory))


class HFCache:
    """The KV cache of an :class:`HFCausalLM` call sequence: the model's own
    cache object (None before the first call) and the tokens it holds."""

    def __init__(self):
        self.state: Any = None
        self.length = 0


def _after_layer_hook(
    after_layer: AfterLayer, index: int, module: nn.Module, args: Any, output: Any
) -> Any:
    """A forward hook: ``after_layer`` applied to a decoder layer's hidden states
    ``(B, T, D)`` (its output, or the first item of the tuple it returns)."""
    if isinstance(output, tuple):
        return (after_layer(index, output[0]), *output[1:])
    return after_layer(index, output)


class HFCausalLM(nn.Module):
    """A pretrained Hugging Face causal LM with :class:`~transnar.lm.DecoderLM`'s interface.

    Args:
        model: a ``transformers`` causal LM of a supported family
            (:data:`DECODER_LAYERS`).
        tokenizer: its tokenizer.
        config: an LM config whose ``pretrained`` names the model's source;
            its architecture fields are replaced by the model's
            (:func:`pretrained_lm_config`) in ``self.config``.

    Raises:
        ValueError: an unsupported architecture, or a tokenizer larger than
            the model's vocabulary.
    """

    def __init__(self, model: nn.Module, tokenizer: HFTokenizer, config: LMConfig):
        super().__init__()
        self.config = pretrained_lm_config(config, model.config)
        check_fits(tokenizer, self.config.vocab_size)
        self.model = model
        self.tokenizer = tokenizer
        parameters = inspect.signature(model.forward).parameters
        # transformers 5 renamed past_key_values to cache (input and output)
        self._cache_name = "cache" if "cache" in parameters else "past_key_values"

    @classmethod
    def from_pretrained(
        cls,
        source: str | os.PathLike,
        config: LMConfig | None = None,
        tokenizer: HFTokenizer | None = None,
        map_location: torch.device | str = "cpu",
    ) -> HFCausalLM:
        """Loads a model id or directory with ``AutoModelForCausalLM`` (in float32).

        Args:
            source: a Hugging Face model id or a local directory (also one
                written by :meth:`save_pretrained`).
            config: the LM config to complete (default ``LMConfig(pretrained=source)``).
            tokenizer: the model's tokenizer (default: loaded from ``source``).
            map_location: where the weights go.

        Raises:
            ValueError: no model there, or an unsupported architecture.
        """
        transformers = _transformers()
        config = config if config is not None else LMConfig(pretrained=str(source))
        _check_supported(_load(transformers.AutoConfig, source, "config"), str(source))
        model = _load(transformers.AutoModelForCausalLM, source, "model").float()
        tokenizer = tokenizer if tokenizer is not None else HFTokenizer.from_pretrained(source)
        return cls(model, tokenizer, config).to(map_location)

    def save_pretrained(self, directory: str | os.PathLike, overwrite: bool = False) -> Path:
        """Writes the model and its tokenizer with the ``transformers`` API: into a
        staging directory, then moved into ``directory`` file by file, its
        ``config.json`` last (an interrupted save never leaves a config beside
        other weights).

        Raises:
            OutputExistsError: a saved model is there and ``overwrite`` is False.
        """
        directory = Path(directory)
        refuse_existing([directory / name for name in MODEL_FILES], overwrite)
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".saving-") as staging:
            self.model.save_pretrained(staging)
            self.tokenizer.save(Path(staging))
            (directory / HF_CONFIG).unlink(missing_ok=True)
            for path in sorted(Path(staging).iterdir(), key=lambda p: p.name == HF_CONFIG):
                os.replace(path, directory / path.name)
        return directory

    # --- DecoderLM's interface -----------------------------------------------------

    @property
    def max_position(self) -> int:
        return self.config.max_position

    def uses_random_positions(self) -> bool:
        """Never: a pretrained model keeps its own position scheme."""
        return False

    def make_cache(self, capacity: int = 0) -> HFCache:
        """An empty KV cache (``capacity`` is not needed: the model's cache grows)."""
        return HFCache()

    def decoder_layers(self) -> nn.ModuleList:
        """The model's decoder layers, in order."""
        path = DECODER_LAYERS[self.model.config.model_type]
        return functools.reduce(getattr, path.split("."), self.model)

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        cache: HFCache | None = None,
        after_layer: AfterLayer | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> LMOutput:
        """Runs the model on ``input_ids`` ``(B, T)``; see :meth:`DecoderLM.forward`.

        Args:
            input_ids: ``(B, T)`` token ids (after the cached ones).
            positions: ``(B, T)`` the tokens' positions in the model's scheme
                (default ``0, 1, ...`` over the real tokens, after the cached ones).
            labels: ``(B, T)`` targets aligned with the inputs, :data:`IGNORE_INDEX`
                on the prompt and padding.
            cache: an :class:`HFCache` (:meth:`make_cache`) to read and extend.
            after_layer: ``after_layer(layer_index, hidden (B, T, D)) -> hidden``,
                applied to each decoder layer's output.
            attention_mask: ``(B, S)``, True on real tokens (cached and new).

        Returns:
            :class:`~transnar.lm.LMOutput`: ``logits`` ``(B, T, V)`` and the
            answer-only loss when ``labels`` are given.

        Raises:
            ValueError: positions beyond the model's ``max_position``, or
                inputs of the wrong shape.
        """
        B, T = input_ids.shape
        past = 0 if cache is None else cache.length
        check_attention_mask(attention_mask, B, past, T)
        if positions is None:
            positions = linear_positions_after(B, T, past, attention_mask, input_ids.device)
        elif positions.shape != (B, T):
            raise ValueError(f"positions must be (B, T) = {(B, T)}, got {tuple(positions.shape)}")
        if int(positions.max()) >= self.max_position:
            raise ValueError(
                f"position {int(positions.max())} is beyond the pretrained model's "
                f"max_position {self.max_position}: the sequence is too long for it"
            )
        inputs = {
            "input_ids": input_ids,
            "position_ids": positions,
            "attention_mask": None if attention_mask is None else attention_mask.long(),
            "use_cache": cache is not None,
        }
        if cache is not None:
            inputs[self._cache_name] = cache.state
        layers = self.decoder_layers() if after_layer is not None else []
        handles = [
            layer.register_forward_hook(functools.partial(_after_layer_hook, after_layer, index))
            for index, layer in enumerate(layers)
        ]
        try:
            output = self.model(**inputs)
        finally:
            for handle in handles:
                handle.remove()
        if cache is not None:
            cache.state = getattr(output, self._cache_name)
            cache.length += T
        logits = output.logits  # (B, T, V)
        loss = None if labels is None else next_token_loss(logits, labels)
        return LMOutput(logits=logits, loss=loss)


__all__ = [
    "DECODER_LAYERS",
    "HFCache",
    "HFCausalLM",
    "HFTokenizer",
    "pretrained_lm_config",
]
