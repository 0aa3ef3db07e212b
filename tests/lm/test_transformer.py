"""The decoder LM (transnar.lm.transformer): shapes, causality, loss, default
positions, RoPE, padding, hooks, files."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from tests import tiny
from tests.lm.helpers import ATOL, random_ids, seeded_positions
from transnar.lm import (
    IGNORE_INDEX,
    CharTokenizer,
    CheckpointError,
    DecoderLM,
    linear_positions,
    pad_positions,
    random_positions,
)
from transnar.persistence import OutputExistsError


def test_shapes_tying_and_init():
    model = tiny.lm()
    output = model(random_ids(3, 7))
    assert output.logits.shape == (3, 7, 79) and output.loss is None
    assert model.head.weight is model.embed_tokens.weight
    untied = tiny.lm(tie_embeddings=False)
    assert untied.head.weight is not untied.embed_tokens.weight
    assert untied.num_parameters() == model.num_parameters() + 79 * 32
    assert model.num_parameters(exclude_embeddings=True) == model.num_parameters() - 79 * 32
    # residual projections start smaller: 0.02 / sqrt(2 * 2 layers)
    torch.manual_seed(0)
    wide = DecoderLM(tiny.lm_config(d_model=256, n_heads=4))
    assert wide.layers[0].attn.out.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert wide.layers[0].attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    with pytest.raises(ValueError, match="more than vocab_size"):
        DecoderLM(tiny.lm_config(vocab_size=10), tokenizer=CharTokenizer())


def test_gradients_reach_every_parameter():
    model = tiny.lm(mlp="gelu", tie_embeddings=False).train()
    ids = random_ids(2, 9)
    model(ids, labels=ids).loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


# --- causality and loss ---------------------------------------------------------------


@pytest.mark.parametrize("mlp", ["swiglu", "gelu"])
def test_causality(mlp):
    model = tiny.lm(mlp=mlp)
    ids, positions = random_ids(2, 12), seeded_positions(2, 12)
    changed = ids.clone()
    changed[:, 7:] = (changed[:, 7:] + 1 - 4) % 75 + 4
    before = model(ids, positions=positions).logits
    after = model(changed, positions=positions).logits
    torch.testing.assert_close(before[:, :7], after[:, :7], atol=0, rtol=0)
    assert not torch.allclose(before[:, 7:], after[:, 7:])


def test_loss_ignores_masked_labels():
    model = tiny.lm()
    ids, positions = random_ids(2, 10), seeded_positions(2, 10)
    labels = ids.clone()
    labels[:, :6] = IGNORE_INDEX  # the prompt
    labels[1, -1] = IGNORE_INDEX  # padding
    output = model(ids, positions=positions, labels=labels)
    logits, targets = output.logits[:, :-1], labels[:, 1:]
    keep = targets != IGNORE_INDEX
    expected = F.cross_entropy(logits[keep], targets[keep])
    torch.testing.assert_close(output.loss, expected)
    # what sits under an ignored label makes no difference
    other = labels.clone()
    other[:, :6] = IGNORE_INDEX
    torch.testing.assert_close(model(ids, positions=positions, labels=other).loss, output.loss)
    unmasked = model(ids, positions=positions, labels=ids).loss
    assert not torch.allclose(unmasked, output.loss)


def test_default_positions_random_in_training_and_configurable_in_eval():
    ids = random_ids(2, 6)
    model = tiny.lm()
    first, second = model(ids).logits, model(ids).logits
    assert not torch.allclose(first, second)  # eval: random by default, as the reference
    linear = model(ids, positions=linear_positions(2, 6)).logits
    model = tiny.lm(random_positions_eval=False)
    torch.testing.assert_close(model(ids).logits, linear, atol=0, rtol=0)
    model.train()  # training: random
    assert not torch.allclose(model(ids).logits, linear)
    model = tiny.lm(random_positions=False).train()
    torch.testing.assert_close(model(ids).logits, linear, atol=0, rtol=0)


def test_rope_is_relative():
    """Shifting every position by a constant leaves the logits unchanged."""
    model = tiny.lm()
    ids, positions = random_ids(2, 10), seeded_positions(2, 10)
    shifted = model(ids, positions=positions + 37).logits
    torch.testing.assert_close(shifted, model(ids, positions=positions).logits, atol=1e-4, rtol=0)
    assert not torch.allclose(model(ids, positions=positions * 2).logits, shifted, atol=1e-3)


# --- padding ---------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("kind", ["linear", "random"])
def test_padding_changes_nothing(tokenizer, side, kind):
    model = tiny.lm()
    texts = ["bfs:\ns: 0, A: [[0 1], [1 0]]\npi:\n", "dfs:\n", "insertion_sort:\nkey: [0.5]\n"]
    ids, mask = tokenizer.encode_batch(texts, add_bos=True, padding_side=side)
    lengths = mask.sum(1)
    if kind == "random":
        drawn = random_positions(3, ids.shape[1], 256, torch.Generator().manual_seed(3), lengths)
    else:
        drawn = linear_positions(3, ids.shape[1])
    batched = model(ids, positions=pad_positions(drawn, mask), attention_mask=mask).logits
    assert torch.isfinite(batched).all()
    for b, text in enumerate(texts):
        alone_ids = torch.tensor([tokenizer.encode(text, add_bos=True)])
        n = alone_ids.shape[1]
        alone = model(alone_ids, positions=drawn[b : b + 1, :n]).logits[0]
        torch.testing.assert_close(batched[b][mask[b]], alone, atol=ATOL, rtol=0)


def test_padding_with_default_positions(tokenizer):
    model = tiny.lm(random_positions_eval=False)
    ids, mask = tokenizer.encode_batch(["ab:\n", "abcdef:\n"], add_bos=True)
    batched = model(ids, attention_mask=mask).logits
    alone = model(torch.tensor([tokenizer.encode("ab:\n", add_bos=True)])).logits[0]
    torch.testing.assert_close(batched[0][mask[0]], alone, atol=ATOL, rtol=0)
    # random default positions over real tokens only: sorted, padding at 0
    positions = tiny.lm().default_positions(2, ids.shape[1], attention_mask=mask)
    real = positions[0][mask[0]]
    assert (real[1:] > real[:-1]).all() and (positions[0][~mask[0]] == 0).all()


# --- after_layer -----------------------------------------------------------------------


def test_after_layer_is_called_once_per_layer():
    model = tiny.lm(n_layers=3)
    ids, positions = random_ids(2, 6), seeded_positions(2, 6)
    calls = []

    def identity(index, hidden):
        calls.append((index, tuple(hidden.shape)))
        return hidden

    plain = model(ids, positions=positions).logits
    hooked = model(ids, positions=positions, after_layer=identity).logits
    assert calls == [(0, (2, 6, 32)), (1, (2, 6, 32)), (2, (2, 6, 32))]
    assert torch.equal(plain, hooked)
    shifted = model(ids, positions=positions, after_layer=lambda i, h: h + (i == 1)).logits
    assert not torch.allclose(shifted, plain)
    # with a cache, the hook sees this call's tokens only
    calls.clear()
    cache = model.make_cache()
    model(ids[:, :5], positions=positions[:, :5], cache=cache)
    model(ids[:, 5:], positions=positions[:, 5:], cache=cache, after_layer=identity)
    assert calls == [(0, (2, 1, 32)), (1, (2, 1, 32)), (2, (2, 1, 32))]


# --- files -------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{}, {"tie_embeddings": False, "mlp": "gelu"}])
def test_save_load_round_trip(tokenizer, tmp_path, overrides):
    model = tiny.lm(tokenizer=tokenizer, **overrides)
    ids, positions = random_ids(2, 8), seeded_positions(2, 8)
    model.save_pretrained(tmp_path / "lm")
    names = sorted(p.name for p in (tmp_path / "lm").iterdir())
    assert names == sorted(["config.json", _weights(tmp_path / "lm").name, "tokenizer.json"])
    loaded = DecoderLM.from_pretrained(tmp_path / "lm")
    assert not loaded.training and loaded.config == model.config and loaded.tokenizer == tokenizer
    assert torch.equal(
        loaded(ids, positions=positions).logits, model(ids, positions=positions).logits
    )
    if model.config.tie_embeddings:
        assert loaded.head.weight is loaded.embed_tokens.weight
    DecoderLM.from_pretrained(tmp_path / "lm", tokenizer=CharTokenizer())  # the right one


def test_save_with_safetensors(tokenizer, tmp_path):
    pytest.importorskip("safetensors")
    model = tiny.lm(tokenizer=tokenizer)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    ids = random_ids(1, 5)
    loaded = DecoderLM.from_pretrained(tmp_path)
    positions = linear_positions(1, 5)
    assert torch.equal(
        loaded(ids, positions=positions).logits, model(ids, positions=positions).logits
    )


def test_save_refuses_to_overwrite_and_needs_a_tokenizer(tokenizer, tmp_path):
    model = tiny.lm()
    with pytest.raises(ValueError, match="no tokenizer"):
        model.save_pretrained(tmp_path)
    assert list(tmp_path.iterdir()) == []
    model.save_pretrained(tmp_path, tokenizer=tokenizer)
    with pytest.raises(OutputExistsError):
        model.save_pretrained(tmp_path, tokenizer=tokenizer)
    other = tiny.lm(seed=1, tokenizer=tokenizer)
    other.save_pretrained(tmp_path, overwrite=True)
    ids, positions = random_ids(1, 4), linear_positions(1, 4)
    loaded = DecoderLM.from_pretrained(tmp_path)
    assert torch.equal(
        loaded(ids, positions=positions).logits, other(ids, positions=positions).logits
    )


def _weights(directory):
    """The weights file of a saved model (``model.safetensors`` or ``model.pt``)."""
    return directory / json.loads((directory / "config.json").read_text())["weights"]


def _edit_config(directory, edit):
    path = directory / "config.json"
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    "damage, match",
    [
        (lambda d: (d / "config.json").write_text("{oops"), "not valid JSON"),
        (lambda d: _edit_config(d, lambda c: c.update(format="other")), "not a transnar.lm"),
        (lambda d: _edit_config(d, lambda c: c.update(version=7)), "version 7"),
        (lambda d: _edit_config(d, lambda c: c.update(model="TransNAR")), "'TransNAR'"),
        (lambda d: _edit_config(d, lambda c: c["config"].update(width=1)), "unknown LM config"),
        (lambda d: _edit_config(d, lambda c: c["config"].update(d_model=64)), "wrong shape"),
        (lambda d: _edit_config(d, lambda c: c["config"].update(n_layers=3)), "missing"),
        (lambda d: _edit_config(d, lambda c: c["config"].update(vocab_size=20)), "more than"),
        (lambda d: _edit_config(d, lambda c: c.update(weights="x.bin")), "unknown weights"),
        (lambda d: _weights(d).unlink(), r"model\.\w+ is missing"),
        (lambda d: _weights(d).write_bytes(b"garbage"), "corrupt"),
        (lambda d: (d / "tokenizer.json").unlink(), "no tokenizer"),
        (lambda d: (d / "tokenizer.json").write_text("[]"), "not a valid tokenizer"),
    ],
)
def test_load_rejects_corrupt_or_mismatched_directories(tokenizer, tmp_path, damage, match):
    tiny.lm(tokenizer=tokenizer).save_pretrained(tmp_path)
    damage(tmp_path)
    with pytest.raises(CheckpointError, match=match):
        DecoderLM.from_pretrained(tmp_path)


def test_load_rejects_a_pickle_that_is_not_a_state_dict(tokenizer, tmp_path):
    tiny.lm(tokenizer=tokenizer).save_pretrained(tmp_path)
    _edit_config(tmp_path, lambda c: c.update(weights="model.pt"))
    torch.save([1, 2], tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match="state dict"):
        DecoderLM.from_pretrained(tmp_path)


def test_load_errors_without_a_model_or_with_another_tokenizer(tokenizer, tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved LM"):
        DecoderLM.from_pretrained(tmp_path / "nothing")
    tiny.lm(tokenizer=tokenizer).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match="differs"):
        DecoderLM.from_pretrained(tmp_path, tokenizer=CharTokenizer("0123456789"))
