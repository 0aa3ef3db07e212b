"""TransNAR (transnar.model): closed gates, frozen NAR, memory masking and
modes, decoding with a cache, files."""

from __future__ import annotations

import pytest
import torch

from tests import tiny
from transnar import clrs
from transnar.lm import generate
from transnar.model import TransNAR, TransNARConfig
from transnar.nar import NAR, NARConfig
from transnar.nar.features import Features
from transnar.nar.memory import GraphMemory
from transnar.persistence import CheckpointError


def _memory(model: TransNAR, sizes=(4, 6), algorithm: str = "bfs") -> GraphMemory:
    trajectories = [clrs.sample(algorithm, n, seed=i, count=1)[0] for i, n in enumerate(sizes)]
    return model.graph_memory(Features.from_trajectories(trajectories))


def _tokens(batch: int = 2, length: int = 12, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(4, 79, (batch, length), generator=generator)


def _open_gates(model: TransNAR, value: float = 0.7) -> None:
    with torch.no_grad():
        for block in model.xattn.values():
            block.attention_gate.fill_(value)
            block.mlp_gate.fill_(value)


def test_closed_gates_give_exactly_the_language_model_s_logits():
    model = tiny.transnar()
    memory = _memory(model)
    ids = _tokens()
    positions = torch.arange(ids.shape[1]).expand_as(ids)
    transnar_logits = model(ids, positions, memory=memory).logits
    lm_logits = model.lm(ids, positions).logits
    assert torch.equal(transnar_logits, lm_logits)
    _open_gates(model)
    assert not torch.allclose(model(ids, positions, memory=memory).logits, lm_logits)


def test_the_memory_is_the_nar_s_embeddings_with_masks():
    model = tiny.transnar()
    memory = _memory(model, sizes=(4, 6))
    b, s, n = memory.nodes.shape[:3]
    assert (b, n) == (2, 6)
    assert memory.edges.shape == (2, s, 36, tiny.NAR_HIDDEN)
    assert memory.node_mask.tolist() == [[True] * 4 + [False] * 2, [True] * 6]
    expected_edges = memory.node_mask[:, :, None] & memory.node_mask[:, None, :]
    assert torch.equal(memory.edge_mask, expected_edges.reshape(2, 36))
    assert not memory.nodes.requires_grad and not memory.edges.requires_grad


def test_padded_nodes_and_edges_change_nothing():
    model = tiny.transnar()
    _open_gates(model)
    ids = _tokens(batch=1)
    positions = torch.arange(ids.shape[1])[None]
    torch.manual_seed(1)
    nodes, edges = torch.randn(1, 1, 3, tiny.NAR_HIDDEN), torch.randn(1, 1, 9, tiny.NAR_HIDDEN)
    alone = GraphMemory(
        nodes,
        edges,
        torch.ones(1, 3, dtype=torch.bool),
        torch.ones(1, 9, dtype=torch.bool),
        torch.ones(1, dtype=torch.long),
    )
    # The same graph padded to 5 nodes (25 edges), with garbage in the padding.
    padded_nodes = torch.cat([nodes, 100 * torch.randn(1, 1, 2, tiny.NAR_HIDDEN)], dim=2)
    padded_edges = 100 * torch.randn(1, 1, 5, 5, tiny.NAR_HIDDEN)
    padded_edges[:, :, :3, :3] = edges.view(1, 1, 3, 3, tiny.NAR_HIDDEN)
    node_mask = torch.tensor([[True] * 3 + [False] * 2])
    padded = GraphMemory(
        padded_nodes,
        padded_edges.reshape(1, 1, 25, tiny.NAR_HIDDEN),
        node_mask,
        (node_mask[:, :, None] & node_mask[:, None, :]).reshape(1, 25),
        torch.ones(1, dtype=torch.long),
    )
    expected = model(ids, positions, memory=alone).logits
    torch.testing.assert_close(model(ids, positions, memory=padded).logits, expected)


def test_a_sample_in_a_padded_batch_reads_its_own_graph():
    model = tiny.transnar()
    _open_gates(model)
    ids = _tokens(batch=1)
    positions = torch.arange(ids.shape[1])[None]
    small = clrs.sample("bfs", 4, seed=3, count=1)[0]
    large = clrs.sample("bfs", 7, seed=4, count=1)[0]
    alone = model.graph_memory(Features.from_trajectories([small]))
    together = model.graph_memory(Features.from_trajectories([small, large]))
    first = GraphMemory(*(getattr(together, f)[:1] for f in GraphMemory.__dataclass_fields__))
    expected = model(ids, positions, memory=alone).logits
    torch.testing.assert_close(model(ids, positions, memory=first).logits, expected)


def test_lockstep_memory_reads_the_step_in_proportion_to_the_layer():
    steps, layers = torch.tensor([4, 2]), 4
    nodes = torch.arange(4.0)[None, :, None, None].expand(2, 4, 1, 1)  # value = step index
    edges = nodes.clone()
    memory = GraphMemory(
        nodes, edges, torch.ones(2, 1, dtype=torch.bool), torch.ones(2, 1, dtype=torch.bool), steps
    )
    read = [memory.at_layer(layer, layers, "lockstep")[0][:, 0, 0].tolist() for layer in range(4)]
    # layer l (1-based) of L reads step round(l * S / L), 1-based; torch rounds half to even
    assert read == [[0.0, 0.0], [1.0, 0.0], [2.0, 1.0], [3.0, 1.0]]
    final = [memory.at_layer(layer, layers, "final")[0][:, 0, 0].tolist() for layer in range(4)]
    assert final == [[3.0, 3.0]] * 4


def test_cached_decoding_with_memory_equals_recomputation():
    model = tiny.transnar()
    _open_gates(model, 2.0)
    memory = _memory(model, sizes=(5, 5))
    prompts = ["bfs:\ns: 0\npi:\n", "bfs:\ns: 1, A: []\npi:\n"]
    kwargs = {"positions": "linear", "memory": memory}
    cached = generate(model, model.tokenizer, prompts, 12, use_cache=True, **kwargs)
    full = generate(model, model.tokenizer, prompts, 12, use_cache=False, **kwargs)
    assert cached.texts == full.texts and cached.token_ids == full.token_ids


def test_the_nar_is_frozen_and_stays_in_evaluation_mode():
    model = tiny.transnar()
    model.train()
    assert model.lm.training and not model.nar.training
    assert all(not p.requires_grad for p in model.nar.parameters())
    trainable = {id(p) for p in model.trainable_parameters()}
    assert trainable.isdisjoint(id(p) for p in model.nar.parameters())
    assert {id(p) for p in model.lm.parameters()} <= trainable
    nar_before = {k: v.clone() for k, v in model.nar.state_dict().items()}
    gates_before = [b.attention_gate.item() for b in model.xattn.values()]
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
    ids = _tokens()
    model(ids, labels=ids, memory=_memory(model)).loss.backward()
    optimizer.step()
    assert all(torch.equal(v, model.nar.state_dict()[k]) for k, v in nar_before.items())
    assert [b.attention_gate.item() for b in model.xattn.values()] != gates_before


def test_save_and_load_give_the_same_model(tmp_path):
    model = tiny.transnar()
    _open_gates(model)
    model.save_pretrained(tmp_path / "m")
    loaded = TransNAR.from_pretrained(tmp_path / "m")
    assert loaded.config == model.config and not loaded.training
    ids = _tokens()
    positions = torch.arange(ids.shape[1]).expand_as(ids)
    memory = _memory(model)
    torch.testing.assert_close(_memory(loaded).nodes, memory.nodes)
    assert torch.equal(
        loaded(ids, positions, memory=memory).logits, model(ids, positions, memory=memory).logits
    )
    with pytest.raises(FileExistsError):
        model.save_pretrained(tmp_path / "m")
    baseline = tiny.transnar(use_nar=False)
    baseline.save_pretrained(tmp_path / "b")
    assert TransNAR.from_pretrained(tmp_path / "b").nar is None


def test_a_save_cut_short_leaves_no_old_transnar_config_beside_new_weights(tmp_path, monkeypatch):
    model = tiny.transnar()
    model.save_pretrained(tmp_path / "m")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies while the language model is written

    monkeypatch.setattr(type(model.lm), "save_pretrained", killed)
    with pytest.raises(KeyboardInterrupt):
        model.save_pretrained(tmp_path / "m", overwrite=True)
    assert not (tmp_path / "m" / "transnar.json").exists()
    with pytest.raises(FileNotFoundError, match="no saved TransNAR"):
        TransNAR.from_pretrained(tmp_path / "m")  # not a mix of two saves


def test_mistakes_are_clear_errors(tmp_path):
    model = tiny.transnar()
    with pytest.raises(ValueError, match="graph memory"):
        model(_tokens())
    features = Features.from_trajectories(clrs.sample("bfs", 4, seed=0, count=1))
    with pytest.raises(ValueError, match="no NAR"):
        tiny.transnar(use_nar=False).graph_memory(features)
    lm_config = model.config.lm
    with pytest.raises(ValueError, match="memory must be"):
        TransNARConfig(lm=lm_config, memory="middle")
    with pytest.raises(ValueError, match="xattn_every"):
        TransNARConfig(lm=lm_config, xattn_every=3)
    for bad in (0, -4, 2.0):
        with pytest.raises(ValueError, match="xattn_heads must be an integer >= 1"):
            TransNARConfig(lm=lm_config, xattn_heads=bad)
    with pytest.raises(ValueError, match="nar_edge_dim must be an integer >= 1, got 0"):
        TransNARConfig(lm=lm_config, nar_edge_dim=0)
    nar = NAR(NARConfig(algorithms=tiny.ALGORITHMS, hidden_dim=16, nb_triplet_fts=4))
    with pytest.raises(ValueError, match="wide"):
        TransNAR(TransNARConfig(lm=lm_config), model.lm, nar)
    with pytest.raises(ValueError, match="needs a NAR"):
        TransNAR(TransNARConfig(lm=lm_config), model.lm)
    with pytest.raises(FileNotFoundError, match="no saved TransNAR"):
        TransNAR.from_pretrained(tmp_path)


@pytest.mark.parametrize("name", ["transnar.safetensors", "model.safetensors"])
@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_truncated_weights_are_a_clear_checkpoint_error(tmp_path, name, keep):
    pytest.importorskip("safetensors")
    tiny.transnar().save_pretrained(tmp_path)
    path = tmp_path / name
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(CheckpointError) as error:
        TransNAR.from_pretrained(tmp_path)
    message = str(error.value)
    assert message.startswith(f"{path} is not a readable ") and "truncated or corrupt (" in message
    assert "Errno" not in message and message.endswith(")")


def test_unreadable_file_messages():
    from transnar.persistence import unreadable_file

    torch_error = RuntimeError(
        "PytorchStreamReader failed reading zip archive: failed finding central directory. "
        "This is an internal miniz error. If you are seeing this error, there is a high "
        "likelihood that your checkpoint file is corrupted."
    )
    expected = {
        torch_error: "(PytorchStreamReader failed reading zip archive: failed finding central "
        "directory)",
        OSError(22, "Invalid argument"): "(reading it failed: invalid argument)",
        EOFError(): "(it ends early)",
    }
    for error, reason in expected.items():
        message = str(unreadable_file("m/last.pt", "checkpoint", error))
        assert (
            message
            == f"m/last.pt is not a readable checkpoint: the file is truncated or corrupt {reason}"
        )
    message = str(
        unreadable_file("x.pt", "checkpoint", RuntimeError("Weights only load failed. Hm"))
    )
    assert message == (
        "x.pt is not a readable checkpoint: it holds Python objects, not only plain values and "
        "tensors (not loaded)"
    )
