"""Pretrained Hugging Face LMs (transnar.lm.hf): tiny random GPT-2, GPT-NeoX and Llama
models and a tiny byte-level BPE tokenizer, built offline here; closed gates give
the pretrained model's logits, frozen NAR, files, decoding, training."""

from __future__ import annotations

import json
import sys

import pytest
import torch

transformers = pytest.importorskip(
    "transformers", reason="the hf extra (transformers) is not installed"
)
tokenizers = pytest.importorskip("tokenizers", reason="the hf extra (tokenizers) is not installed")

from tests import tiny  # noqa: E402
from transnar import clrs  # noqa: E402
from transnar.cli import main  # noqa: E402
from transnar.clrs.text import format_example  # noqa: E402
from transnar.lm import CLRS_TEXT_ALPHABET, IGNORE_INDEX, DecoderLM, LMConfig, generate  # noqa: E402
from transnar.lm.hf import HFCausalLM, HFTokenizer, _transformers, pretrained_lm_config  # noqa: E402
from transnar.model import TransNAR, TransNARConfig  # noqa: E402
from transnar.nar import NAR  # noqa: E402
from transnar.nar.features import Features  # noqa: E402
from transnar.training import train_lm  # noqa: E402
from transnar.training.runs import torch_threads  # noqa: E402

ENDOFTEXT = "<|endoftext|>"
ARCHITECTURES = ("gpt2", "gpt_neox", "llama")


def _texts() -> list[str]:
    """CLRS-Text examples to train the tiny tokenizer on."""
    trajectories = clrs.sample("bfs", 5, seed=0, count=8) + clrs.sample(
        "insertion_sort", 5, seed=0, count=8
    )
    return ["".join(format_example(t)) for t in trajectories]


def _bpe_tokenizer(texts: list[str]):
    """A GPT-2-style byte-level BPE tokenizer (about 300 tokens), without a pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=[ENDOFTEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=ENDOFTEXT, eos_token=ENDOFTEXT
    )


def _hf_config(architecture: str, vocab_size: int):
    """A tiny config: 2 layers, width 32, 4 heads, no dropout."""
    # <|endoftext|> (id 0) begins and ends documents
    common = {
        "vocab_size": vocab_size,
        "initializer_range": 0.2,
        "bos_token_id": 0,
        "eos_token_id": 0,
    }
    if architecture == "gpt2":
        return transformers.GPT2Config(
            n_embd=32, n_layer=2, n_head=4, n_positions=512, resid_pdrop=0.0, embd_pdrop=0.0,
            attn_pdrop=0.0, **common,
        )  # fmt: skip
    if architecture == "gpt_neox":
        return transformers.GPTNeoXConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=512, **common,
        )  # fmt: skip
    return transformers.LlamaConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=64, max_position_embeddings=512, **common,
    )  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models run fastest on one thread (more only wait on each other)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def hf_tokenizer():
    return _bpe_tokenizer(_texts())


@pytest.fixture(scope="module")
def saved(tmp_path_factory, hf_tokenizer):
    """architecture -> a directory holding a tiny random pretrained model and its tokenizer."""
    directories = {}
    for architecture in ARCHITECTURES:
        directory = tmp_path_factory.mktemp(architecture)
        torch.manual_seed(0)
        config = _hf_config(architecture, len(hf_tokenizer))
        transformers.AutoModelForCausalLM.from_config(config).save_pretrained(directory)
        hf_tokenizer.save_pretrained(directory)
        directories[architecture] = directory
    return directories


def _transnar(directory, memory: str = "final") -> TransNAR:
    """A TransNAR around the pretrained model in ``directory`` with a tiny random NAR."""
    torch.manual_seed(0)
    lm = HFCausalLM.from_pretrained(directory)
    nar = NAR(tiny.nar_config())
    config = TransNARConfig(
        lm=lm.config, nar_node_dim=tiny.NAR_HIDDEN, nar_edge_dim=tiny.NAR_HIDDEN, memory=memory
    )
    return TransNAR(config, lm, nar).eval()


def _instances(sizes=(4, 6)):
    return [clrs.sample("bfs", n, seed=i, count=1)[0] for i, n in enumerate(sizes)]


def _memory(model: TransNAR, trajectories):
    return model.graph_memory(Features.from_trajectories(trajectories))


def _batch(model: TransNAR, trajectories):
    """Right-padded ``(ids, labels)`` of the instances' CLRS-Text examples."""
    pairs = [model.tokenizer.encode_example(*format_example(t)) for t in trajectories]
    ids, _ = model.tokenizer.pad([p[0] for p in pairs], padding_side="right")
    labels, _ = model.tokenizer.pad([p[1] for p in pairs], padding_side="right", value=IGNORE_INDEX)
    return ids, labels


def _open_gates(model: TransNAR, value: float = 1.0) -> None:
    with torch.no_grad():
        for block in model.xattn.values():
            block.attention_gate.fill_(value)
            block.mlp_gate.fill_(value)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_closed_gates_give_exactly_the_pretrained_model_s_logits(saved, architecture):
    model = _transnar(saved[architecture], memory="lockstep")
    assert sorted(model.xattn) == ["0", "1"]  # a block after each decoder layer
    trajectories = _instances()
    ids, _ = _batch(model, trajectories)
    memory = _memory(model, trajectories)
    plain = transformers.AutoModelForCausalLM.from_pretrained(saved[architecture]).eval()
    with torch.no_grad():
        expected = plain(ids).logits
        assert torch.equal(model(ids, memory=memory).logits, expected)
        _open_gates(model)
        assert not torch.allclose(model(ids, memory=memory).logits, expected)


def test_a_training_step_moves_the_gates_and_leaves_the_nar(saved):
    model = _transnar(saved["gpt_neox"]).train()
    assert not model.nar.training and model.lm.model.training
    trainable = {id(p) for p in model.trainable_parameters()}
    assert trainable.isdisjoint(id(p) for p in model.nar.parameters())
    assert {id(p) for p in model.lm.parameters()} <= trainable
    nar_before = {k: v.clone() for k, v in model.nar.state_dict().items()}
    lm_before = {k: v.clone() for k, v in model.lm.state_dict().items()}
    trajectories = _instances()
    ids, labels = _batch(model, trajectories)
    output = model(ids, labels=labels, memory=_memory(model, trajectories))
    assert output.loss.ndim == 0 and torch.isfinite(output.loss)
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
    output.loss.backward()
    optimizer.step()
    assert all(torch.equal(v, model.nar.state_dict()[k]) for k, v in nar_before.items())
    assert all(block.attention_gate.item() != 0 for block in model.xattn.values())
    assert any(not torch.equal(v, model.lm.state_dict()[k]) for k, v in lm_before.items())


def test_the_loss_covers_the_answer_only(saved):
    model = _transnar(saved["gpt2"])
    trajectories = _instances(sizes=(5,))
    ids, labels = _batch(model, trajectories)
    memory = _memory(model, trajectories)
    with torch.no_grad():
        logits = model(ids, memory=memory).logits
        loss = model(ids, labels=labels, memory=memory).loss
    answer = labels[0, 1:] != IGNORE_INDEX
    expected = torch.nn.functional.cross_entropy(logits[0, :-1][answer], labels[0, 1:][answer])
    torch.testing.assert_close(loss, expected)


def test_save_and_load_give_the_same_model(saved, tmp_path):
    model = _transnar(saved["llama"])
    _open_gates(model, 0.5)
    trajectories = _instances()
    ids, _ = _batch(model, trajectories)
    memory = _memory(model, trajectories)
    model.save_pretrained(tmp_path / "m")
    loaded = TransNAR.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config and isinstance(loaded.lm, HFCausalLM)
    assert not loaded.training and not loaded.nar.training
    with torch.no_grad():
        assert torch.equal(loaded(ids, memory=memory).logits, model(ids, memory=memory).logits)
    # the language model's files are a plain Hugging Face model directory
    plain = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert torch.equal(plain.lm_head.weight, model.lm.model.lm_head.weight)
    with pytest.raises(FileExistsError):
        model.save_pretrained(tmp_path / "m")


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_decoding_with_memory_cached_and_padded(saved, architecture):
    model = _transnar(saved[architecture])
    _open_gates(model, 2.0)
    trajectories = _instances(sizes=(4, 6))
    prompts = [format_example(t)[0] for t in trajectories]
    memory = _memory(model, trajectories)
    tokenizer = model.tokenizer
    cached = generate(model, tokenizer, prompts, 10, memory=memory)
    full = generate(model, tokenizer, prompts, 10, use_cache=False, memory=memory)
    assert cached.token_ids == full.token_ids and cached.texts == full.texts
    # the shorter prompt is left-padded in the batch: alone it decodes the same
    alone = generate(model, tokenizer, prompts[:1], 10, memory=_memory(model, trajectories[:1]))
    assert alone.token_ids[0] == cached.token_ids[0]


def test_the_tokenizer_adapter(saved, hf_tokenizer):
    tokenizer = HFTokenizer.from_pretrained(saved["gpt2"])
    question, answer = format_example(_instances(sizes=(5,))[0])
    ids, labels = tokenizer.encode_example(question, answer)
    prompt = [tokenizer.bos_id, *tokenizer.encode(question)]
    assert ids == prompt + tokenizer.encode(answer)
    assert labels == [IGNORE_INDEX] * len(prompt) + ids[len(prompt) :]
    assert len(ids) < len(question) + len(answer)  # subword tokens
    # no pad token: padding uses <|endoftext|>, which is also <bos> and <eos>
    endoftext = hf_tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    assert tokenizer.pad_id == tokenizer.bos_id == tokenizer.eos_id == endoftext
    assert "".join(tokenizer.decode([i]) for i in ids) == question + answer
    assert tokenizer.decode(ids) == question + answer
    assert tokenizer.unknown_characters("bfs:\n\u00e9") == []  # bytes: nothing is unknown


def _char_tokenizer(alphabet, pre_tokenizer=None, decoder=None):
    """A character-level tokenizer (a BPE without merges) with ``<unk>``."""
    from tokenizers import Tokenizer, decoders, models

    vocab = {c: i for i, c in enumerate(["<unk>", *alphabet])}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    if pre_tokenizer is not None:
        backend.pre_tokenizer = pre_tokenizer
    backend.decoder = decoder or decoders.Fuse()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")


def test_a_character_level_tokenizer_without_bos_and_its_unknown_characters():
    tokenizer = HFTokenizer(_char_tokenizer(CLRS_TEXT_ALPHABET))
    assert tokenizer.bos_id is None and tokenizer.pad_id == 0
    question, answer = format_example(_instances(sizes=(4,))[0])
    ids, labels = tokenizer.encode_example(question, answer)
    assert len(ids) == len(question + answer)  # one token per character, no <bos>
    assert labels == [IGNORE_INDEX] * len(question) + ids[len(question) :]
    assert tokenizer.unknown_characters("bfs:\n\u00e9") == [(5, "\u00e9")]


def test_a_tokenizer_that_does_not_decode_token_by_token_is_refused():
    from tokenizers import decoders, pre_tokenizers

    # SentencePiece style: "\u2581" marks spaces, and a token's leading one is dropped alone
    hf = _char_tokenizer(
        CLRS_TEXT_ALPHABET.replace(" ", "\u2581"),
        pre_tokenizers.Metaspace(prepend_scheme="never"),
        decoders.Metaspace(prepend_scheme="always"),
    )
    with pytest.raises(ValueError, match="token by token"):
        HFTokenizer(hf)


def test_pretrained_lm_config_reads_the_architecture(saved, tmp_path):
    config = pretrained_lm_config(LMConfig(pretrained=str(saved["gpt2"]), d_model=512))
    assert (config.d_model, config.n_layers, config.n_heads, config.max_position) == (
        32,
        2,
        4,
        512,
    )
    assert not config.random_positions and not config.random_positions_eval
    transformers.OPTConfig(hidden_size=32, num_hidden_layers=2).save_pretrained(tmp_path / "opt")
    with pytest.raises(ValueError, match="gpt2, gpt_neox, llama"):
        pretrained_lm_config(LMConfig(pretrained=str(tmp_path / "opt")))
    with pytest.raises(ValueError, match="cannot load"):
        pretrained_lm_config(LMConfig(pretrained=str(tmp_path / "nothing-here")))
    with pytest.raises(ValueError, match="HFCausalLM"):
        DecoderLM(LMConfig(pretrained=str(saved["gpt2"])))


def test_a_sequence_beyond_the_model_s_positions_is_a_clear_error(saved):
    lm = HFCausalLM.from_pretrained(saved["gpt2"])
    with pytest.raises(ValueError, match="max_position 512"):
        lm(torch.zeros(1, 4, dtype=torch.long), positions=torch.tensor([[0, 1, 2, 512]]))


def test_without_transformers_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"transnar\[hf\]"):
        _transformers()


def test_training_with_a_pretrained_lm(saved, tmp_path, capsys, nar_path):
    directory = str(saved["gpt2"])
    config = tiny.lm_train_config(nar_path, f"lm.pretrained={directory}", "steps=3", "eval_every=3")
    result = train_lm(config, tmp_path / "run", progress=False)
    assert result.steps == 3 and result.val_loss == result.val_loss  # finite, not NaN
    written = json.loads((tmp_path / "run" / "config.json").read_text())["model"]["lm"]
    assert written["pretrained"] == directory and written["d_model"] == 32
    assert not written["random_positions"]
    model = TransNAR.from_pretrained(result.model_dir)
    assert isinstance(model.lm, HFCausalLM) and model.config.lm.pretrained == directory
    # the CLI's dry run shows the option
    argv = ["lm", "train", "--preset", "tiny", "--dry-run", f"lm.pretrained={directory}"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["model"]["lm"]["pretrained"] == directory
