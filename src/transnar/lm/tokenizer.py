"""A character-level tokenizer over the fixed CLRS-Text alphabet.

**Decision** (``DESIGN.md`` §6): one token per character, so every digit is a
token and numbers the model never saw are not unseen tokens. The alphabet is
what :func:`~transnar.clrs.text.format_example` can print:

- newline (lines of the question; the blank line ending an answer) and space;
- the punctuation of the format: ``[ ]`` (node and edge values), ``( )`` (pair
  traces), ``,`` (separators), ``.`` (floats), ``:`` (``name:``), ``|``
  (trace separator), ``_`` (names), ``-`` (negative numbers, the ``-1`` of
  masked cells, float exponents) and ``+`` (float exponents such as ``1e+16``);
- the digits;
- the ASCII letters: algorithm and probe names are lower case apart from
  ``A`` and ``Pi``, floats may print ``e``, ``inf`` and ``nan``; all 52
  letters are kept so that no name is ever out of the alphabet.

Ids: the four special tokens first (``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2,
``<unk>`` 3), then the characters in :data:`CLRS_TEXT_ALPHABET` order (79
tokens in all). A character outside the alphabet becomes ``<unk>`` (or, with
``strict=True``, an :class:`UnknownCharacterError` naming it and its position);
``<unk>`` decodes to U+FFFD, so an answer holding one never parses.

Training examples are ``<bos> question answer``; :meth:`CharTokenizer.encode_example`
gives the ids and the answer-only labels (the prompt's labels are
:data:`IGNORE_INDEX`, which the loss skips).

The vocabulary is saved next to the model (``tokenizer.json``); tokenizers
compare equal (and hash alike) when their vocabularies are the same, so a
model can check it was handed the right one.

:class:`Tokenizer` is what the data pipeline and decoding use of a tokenizer
(examples with answer-only labels, padding, the special ids); a pretrained
Hugging Face model brings its own (:class:`transnar.lm.hf.HFTokenizer`).
"""

from __future__ import annotations

import abc
import json
import os
import string
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from transnar.persistence import FileFormat, write_json

FORMAT = FileFormat(
    "transnar.char_tokenizer",
    1,
    "saved tokenizer",
    remedy="save the tokenizer again (CharTokenizer.save, or save the model again)",
)
FILENAME = "tokenizer.json"

# Labels with this value add nothing to the loss (the prompt, padding).
IGNORE_INDEX = -100

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, UNK)
# What <unk> decodes to: the Unicode replacement character.
UNK_TEXT = "\ufffd"

CLRS_TEXT_ALPHABET = (
    "\n "  # line breaks (a blank line ends an answer) and spaces
    + "()+,-.:[]_|"  # the punctuation of the format
    + string.digits
    + string.ascii_uppercase
    + string.ascii_lowercase
)


class UnknownCharacterError(ValueError):
    """A character outside the tokenizer's alphabet (``strict`` encoding)."""

    def __init__(self, character: str, position: int, text: str):
        self.character = character
        self.position = position
        context = text[max(0, position - 20) : position + 20]
        super().__init__(
            f"character {character!r} (U+{ord(character):04X}) at position {position} is not "
            f"in the tokenizer's alphabet; near {context!r}"
        )


class Tokenizer(abc.ABC):
    """What the data pipeline and :func:`~transnar.lm.generate` need of a tokenizer.

    Subclasses give :meth:`encode`, :meth:`decode`, :meth:`unknown_characters`,
    ``__len__`` and the ids ``pad_id``, ``bos_id`` and ``eos_id``; examples,
    padding and batches are built here from those.
    """

    pad_id: int
    bos_id: int | None
    eos_id: int | None

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of token ids."""

    @abc.abstractmethod
    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """The ids of ``text``, optionally after ``<bos>`` and before ``<eos>``."""

    @abc.abstractmethod
    def decode(self, ids: Iterable[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        """The text of ``ids``; decoding ids one by one and joining the pieces
        gives the same text (:func:`~transnar.lm.generate` relies on it)."""

    @abc.abstractmethod
    def unknown_characters(self, text: str) -> list[tuple[int, str]]:
        """``(position, character)`` of every character of ``text`` the tokenizer
        cannot encode."""

    def encode_example(
        self, question: str, answer: str, add_bos: bool = True, **options
    ) -> tuple[list[int], list[int]]:
        """Ids and answer-only labels of a CLRS-Text example.

        The question and the answer are encoded separately, so that the answer's
        tokens are those a model generates after the prompt.

        Args:
            question: the prompt.
            answer: the target.
            add_bos: start with ``<bos>``.
            **options: passed to :meth:`encode` (``strict`` for :class:`CharTokenizer`).

        Returns:
            ``(input_ids, labels)`` of equal length: the ids of
            ``[<bos>] question answer``, and the same ids with the prompt's
            (``<bos>`` and the question) replaced by :data:`IGNORE_INDEX`.
            Labels are aligned with the inputs; the model shifts them.
        """
        prompt = self.encode(question, add_bos=add_bos, **options)
        target = self.encode(answer, **options)
        return prompt + target, [IGNORE_INDEX] * len(prompt) + target

    def pad(
        self,
        sequences: Sequence[Sequence[int]],
        padding_side: str = "left",
        value: int | None = None,
        length: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Pads id lists to one length.

        Args:
            sequences: id lists (at least one).
            padding_side: ``"left"`` (prompts to continue, as :func:`generate`
                does) or ``"right"`` (training batches).
            value: the padding value (default ``pad_id``; use
                :data:`IGNORE_INDEX` for labels).
            length: pad to this length (default: the longest sequence).

        Returns:
            ``ids`` ``(B, T)`` int64 and ``attention_mask`` ``(B, T)`` bool,
            True on real tokens.
        """
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        if not sequences:
            raise ValueError("nothing to pad: no sequences")
        value = self.pad_id if value is None else value
        longest = max(len(s) for s in sequences)
        length = longest if length is None else length
        if length < longest:
            raise ValueError(f"cannot pad to {length}: a sequence has {longest} tokens")
        ids = torch.full((len(sequences), length), value, dtype=torch.long)
        mask = torch.zeros((len(sequences), length), dtype=torch.bool)
        for row, sequence in enumerate(sequences):
            n = len(sequence)
            if n == 0:
                continue
            span = slice(length - n, length) if padding_side == "left" else slice(0, n)
            ids[row, span] = torch.as_tensor(list(sequence), dtype=torch.long)
            mask[row, span] = True
        return ids, mask

    def encode_batch(
        self,
        texts: Sequence[str],
        add_bos: bool = False,
        add_eos: bool = False,
        padding_side: str = "left",
        **options,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encodes and pads texts: ``(ids (B, T), attention_mask (B, T))``; see :meth:`pad`."""
        encoded = [self.encode(t, add_bos=add_bos, add_eos=add_eos, **options) for t in texts]
        return self.pad(encoded, padding_side=padding_side)

    def decode_batch(
        self, ids: torch.Tensor | Sequence[Sequence[int]], skip_special_tokens: bool = True
    ) -> list[str]:
        """:meth:`decode` of each row (padding is a special token, so it is skipped)."""
        return [self.decode(row, skip_special_tokens) for row in ids]


def check_fits(tokenizer: Tokenizer, vocab_size: int) -> None:
    """A ``ValueError`` when ``tokenizer`` has more tokens than a model's vocabulary
    of ``vocab_size`` (a larger vocabulary is fine: padded for speed)."""
    if len(tokenizer) > vocab_size:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens, more than vocab_size {vocab_size}"
        )


class CharTokenizer(Tokenizer):
    """Character-level tokenizer: special tokens, then one id per character.

    Args:
        alphabet: the characters, in id order (default :data:`CLRS_TEXT_ALPHABET`).
        strict: encode unknown characters as an error instead of ``<unk>``
            (the default for :meth:`encode`; it is not part of the vocabulary,
            so it plays no role in equality).
    """

    def __init__(self, alphabet: str = CLRS_TEXT_ALPHABET, strict: bool = False):
        if not isinstance(alphabet, str) or not alphabet:
            raise ValueError("the alphabet must be a non-empty string")
        repeated = sorted({c for c in alphabet if alphabet.count(c) > 1})
        if repeated:
            raise ValueError(f"characters repeated in the alphabet: {repeated}")
        self.alphabet = alphabet
        self.strict = strict
        self.special_tokens = SPECIAL_TOKENS
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = range(len(SPECIAL_TOKENS))
        offset = len(SPECIAL_TOKENS)
        self._ids = {c: offset + i for i, c in enumerate(alphabet)}
        # id -> text; special tokens decode to their names (or nothing)
        self._tokens = list(SPECIAL_TOKENS) + list(alphabet)

    # --- vocabulary ---------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def __len__(self) -> int:
        return self.vocab_size

    def token_to_id(self, token: str) -> int:
        """The id of a character or special token (``KeyError`` if it has none)."""
        if token in self.special_tokens:
            return self.special_tokens.index(token)
        return self._ids[token]

    def id_to_token(self, token_id: int) -> str:
        """The character or special-token name of an id."""
        self._check_id(token_id)
        return self._tokens[token_id]

    def unknown_characters(self, text: str) -> list[tuple[int, str]]:
        """``(position, character)`` of every character of ``text`` outside the alphabet."""
        return [(i, c) for i, c in enumerate(text) if c not in self._ids]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CharTokenizer):
            return NotImplemented
        return (self.alphabet, self.special_tokens) == (other.alphabet, other.special_tokens)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.alphabet, self.special_tokens))

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, alphabet={self.alphabet!r})"

    # --- encoding -----------------------------------------------------------------

    def encode(
        self,
        text: str,
        add_bos: bool = False,
        add_eos: bool = False,
        strict: bool | None = None,
    ) -> list[int]:
        """The ids of ``text``, one per character.

        Args:
            text: the text.
            add_bos: start with ``<bos>``.
            add_eos: end with ``<eos>``.
            strict: raise :class:`UnknownCharacterError` on a character outside
                the alphabet instead of encoding it as ``<unk>``; ``None`` takes
                the tokenizer's own setting.
        """
        strict = self.strict if strict is None else strict
        ids = [self.bos_id] if add_bos else []
        for position, character in enumerate(text):
            token_id = self._ids.get(character)
            if token_id is None:
                if strict:
                    raise UnknownCharacterError(character, position, text)
                token_id = self.unk_id
            ids.append(token_id)
        if add_eos:
            ids.append(self.eos_id)
        return ids

    def decode(self, ids: Iterable[int] | torch.Tensor, skip_special_tokens: bool = True) -> str:
        """The text of ``ids``.

        ``<unk>`` always decodes to U+FFFD; the other special tokens are left
        out, or written as their names (``<pad>``) with ``skip_special_tokens=False``.
        """
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        pieces = []
        for token_id in ids:
            self._check_id(token_id)
            if token_id == self.unk_id:
                pieces.append(UNK_TEXT)
            elif token_id < len(self.special_tokens):
                if not skip_special_tokens:
                    pieces.append(self._tokens[token_id])
            else:
                pieces.append(self._tokens[token_id])
        return "".join(pieces)

    # --- files --------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            **FORMAT.header(),
            "type": "char",
            "special_tokens": list(self.special_tokens),
            "alphabet": self.alphabet,
        }

    @classmethod
    def from_dict(cls, data: dict) -> CharTokenizer:
        """Inverse of :meth:`to_dict`; anything else is a ``ValueError``."""
        FORMAT.check(data, "the document")
        if tuple(data.get("special_tokens", ())) != SPECIAL_TOKENS:
            raise ValueError(
                f"special tokens {data.get('special_tokens')!r} differ from {list(SPECIAL_TOKENS)}"
            )
        return cls(data.get("alphabet"))

    def save(self, directory: str | os.PathLike, overwrite: bool = False) -> Path:
        """Writes ``directory/tokenizer.json`` (atomically); returns its path."""
        path = Path(directory) / FILENAME
        write_json(path, self.to_dict(), overwrite=overwrite)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> CharTokenizer:
        """Reads a tokenizer saved by :meth:`save` (a directory or the JSON file itself)."""
        path = Path(path)
        if path.is_dir():
            path = path / FILENAME
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer at {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
            raise ValueError(f"{path} is not a valid tokenizer file: {error}") from None

    def _check_id(self, token_id: int) -> None:
        if not 0 <= token_id < len(self._tokens):
            raise ValueError(
                f"token id {token_id} is outside the vocabulary (0..{self.vocab_size - 1})"
            )


__all__ = [
    "BOS",
    "CLRS_TEXT_ALPHABET",
    "EOS",
    "IGNORE_INDEX",
    "PAD",
    "SPECIAL_TOKENS",
    "UNK",
    "UNK_TEXT",
    "CharTokenizer",
    "Tokenizer",
    "UnknownCharacterError",
    "check_fits",
]
