"""The character tokenizer: the CLRS-Text alphabet, unknown characters, batches, files."""

from __future__ import annotations

import json

import pytest
import torch

from transnar import clrs
from transnar.clrs.specs import get_spec
from transnar.clrs.text import formatting
from transnar.clrs.text.rows import examples
from transnar.lm import (
    CLRS_TEXT_ALPHABET,
    IGNORE_INDEX,
    SPECIAL_TOKENS,
    CharTokenizer,
    UnknownCharacterError,
)
from transnar.lm.tokenizer import UNK_TEXT
from transnar.persistence import OutputExistsError


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_alphabet_covers_clrs_text_and_round_trips(tokenizer, algorithm):
    """Every question and answer, with and without traces, both float formats,
    truncated or not, encodes strictly and decodes back."""
    for use_hints in (False, True):
        for float_format in ("default", "legacy"):
            for truncate_decimals in (3, None):
                for size in (4, 7):
                    rows = examples(
                        algorithm, size, 5, 2, use_hints, float_format, truncate_decimals
                    )
                    for row, _ in rows:
                        for text in (row["question"], row["answer"]):
                            ids = tokenizer.encode(text, strict=True)
                            assert len(ids) == len(text)
                            assert tokenizer.decode(ids) == text


def test_alphabet_covers_every_name_and_punctuation(tokenizer):
    names = set(clrs.CLRS30_ALGORITHMS)
    for algorithm in clrs.CLRS30_ALGORITHMS:
        names.update(get_spec(algorithm))
    text = "".join(sorted(names))
    text += formatting.SEPARATOR + formatting.INITIAL_TRACE + formatting.TRACE
    text += formatting.TRACE_SEPARATOR + "[]()-\n"
    assert tokenizer.unknown_characters(text) == []


@pytest.mark.parametrize("value", [1e16, 1.5e-7, -0.25, float("inf"), float("-inf"), float("nan")])
def test_alphabet_covers_float_renderings(tokenizer, value):
    for text in (str(value), f"{value:.3g}", f"{value:.3f}"):
        assert tokenizer.decode(tokenizer.encode(text, strict=True)) == text


def test_vocabulary_layout(tokenizer):
    assert len(tokenizer) == tokenizer.vocab_size == len(SPECIAL_TOKENS) + len(CLRS_TEXT_ALPHABET)
    assert len(tokenizer) == 79
    assert (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id) == (0, 1, 2, 3)
    assert len(set(CLRS_TEXT_ALPHABET)) == len(CLRS_TEXT_ALPHABET)
    assert tokenizer.token_to_id("<bos>") == 1
    assert tokenizer.id_to_token(tokenizer.token_to_id("7")) == "7"
    assert tokenizer.encode("ab", add_bos=True, add_eos=True)[0::3] == [1, 2]
    with pytest.raises(ValueError, match="repeated"):
        CharTokenizer("aba")


def test_unknown_characters_map_to_unk_or_fail_strictly(tokenizer):
    text = "bfs:\ns: é0"
    ids = tokenizer.encode(text)
    assert ids[8] == tokenizer.unk_id
    assert tokenizer.decode(ids) == text.replace("é", UNK_TEXT)
    assert tokenizer.unknown_characters(text) == [(8, "é")]
    with pytest.raises(UnknownCharacterError, match=r"'é'.*position 8") as error:
        tokenizer.encode(text, strict=True)
    assert (error.value.character, error.value.position) == ("é", 8)
    with pytest.raises(UnknownCharacterError, match="position 2"):
        CharTokenizer(strict=True).encode("ab\t")
    # a strict tokenizer can still be asked to be lenient, and is equal to a lenient one
    assert CharTokenizer(strict=True).encode("\t", strict=False) == [tokenizer.unk_id]
    assert CharTokenizer(strict=True) == tokenizer


def test_decode_special_tokens_and_bad_ids(tokenizer):
    ids = [tokenizer.bos_id, *tokenizer.encode("0 1"), tokenizer.eos_id, tokenizer.pad_id]
    assert tokenizer.decode(ids) == "0 1"
    assert tokenizer.decode(torch.tensor(ids)) == "0 1"
    assert tokenizer.decode(ids, skip_special_tokens=False) == "<bos>0 1<eos><pad>"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.decode([79])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tokenizer.decode([-1])


def test_encode_example_masks_the_prompt(tokenizer):
    question, answer = "bfs:\ns: 0\npi:\n", "[0 0]\n\n"
    ids, labels = tokenizer.encode_example(question, answer)
    assert ids == tokenizer.encode(question + answer, add_bos=True)
    n = len(question) + 1
    assert labels == [IGNORE_INDEX] * n + tokenizer.encode(answer)


def test_pad_left_and_right(tokenizer):
    sequences = [[5, 6, 7], [8]]
    ids, mask = tokenizer.pad(sequences, padding_side="left")
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[True] * 3, [False, False, True]]
    ids, mask = tokenizer.pad(sequences, padding_side="right", value=IGNORE_INDEX, length=4)
    assert ids.tolist() == [[5, 6, 7, -100], [8, -100, -100, -100]]
    assert mask.dtype == torch.bool and mask.sum(1).tolist() == [3, 1]
    ids, mask = tokenizer.encode_batch(["ab", "c"], add_bos=True)
    assert tokenizer.decode_batch(ids) == ["ab", "c"]
    assert mask.tolist() == [[True] * 3, [False, True, True]]
    with pytest.raises(ValueError, match="padding_side"):
        tokenizer.pad(sequences, padding_side="middle")
    with pytest.raises(ValueError, match="cannot pad to 2"):
        tokenizer.pad(sequences, length=2)


def test_save_load_equality_and_hash(tokenizer, tmp_path):
    path = tokenizer.save(tmp_path)
    assert path == tmp_path / "tokenizer.json"
    loaded = CharTokenizer.load(tmp_path)
    assert loaded == tokenizer and hash(loaded) == hash(tokenizer)
    assert CharTokenizer.load(path) == tokenizer
    assert json.loads(path.read_text())["alphabet"] == CLRS_TEXT_ALPHABET
    other = CharTokenizer(CLRS_TEXT_ALPHABET + "~")
    assert other != tokenizer and len({other, tokenizer}) == 2
    assert tokenizer != "not a tokenizer"
    with pytest.raises(OutputExistsError):
        tokenizer.save(tmp_path)
    other.save(tmp_path, overwrite=True)
    assert CharTokenizer.load(tmp_path) == other


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "not a valid tokenizer"),
        ('{"format": "something else"}', "not a transnar.char_tokenizer"),
        ('{"format": "transnar.char_tokenizer", "version": 9}', "version 9"),
        (
            '{"format": "transnar.char_tokenizer", "version": 1, "special_tokens": ["<pad>"]}',
            "special tokens",
        ),
        (
            '{"format": "transnar.char_tokenizer", "version": 1, '
            '"special_tokens": ["<pad>", "<bos>", "<eos>", "<unk>"], "alphabet": ""}',
            "non-empty",
        ),
    ],
)
def test_load_rejects_bad_files(tmp_path, content, match):
    (tmp_path / "tokenizer.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        CharTokenizer.load(tmp_path)


def test_load_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="no tokenizer"):
        CharTokenizer.load(tmp_path)
