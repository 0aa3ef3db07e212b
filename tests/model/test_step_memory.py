"""TransNAR reading the NAR's states of every step: ``memory="all"`` and ``"pooled"``."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from tests import tiny
from transnar.lm import DecoderLM
from transnar.model import StepReader, TransNAR, TransNARConfig
from transnar.model.layers import step_encoding
from transnar.nar import NAR
from transnar.nar.layers import edge_mask
from transnar.nar.memory import GraphMemory

WIDTH = tiny.NAR_HIDDEN
STEP_MODES = ("all", "pooled")


def memory_of(steps=(3, 1), nodes=3, seed=0) -> GraphMemory:
    """A memory of ``len(steps)`` graphs kept for ``max(steps)`` steps; a
    graph's states after its last step repeat its last (as the NAR keeps them)."""
    generator = torch.Generator().manual_seed(seed)
    B, S, N = len(steps), max(steps), nodes
    node_states = torch.randn(B, S, N, WIDTH, generator=generator)
    edge_states = torch.randn(B, S, N * N, WIDTH, generator=generator)
    for b, ran in enumerate(steps):
        node_states[b, ran:] = node_states[b, ran - 1]
        edge_states[b, ran:] = edge_states[b, ran - 1]
    node_mask = torch.ones(B, N, dtype=torch.bool)
    return GraphMemory(
        node_states,
        edge_states,
        node_mask,
        edge_mask(node_mask).reshape(B, N * N),
        torch.tensor(steps),
    )


def model_of(mode: str, seed: int = 0) -> TransNAR:
    """A tiny TransNAR with its gates open (fed a memory directly, not its NAR's)."""
    torch.manual_seed(seed)
    lm_config = tiny.lm_config()
    nar = NAR(tiny.nar_config())
    config = TransNARConfig(lm=lm_config, memory=mode, nar_node_dim=WIDTH, nar_edge_dim=WIDTH)
    model = TransNAR(config, DecoderLM(lm_config), nar)
    with torch.no_grad():
        for block in model.xattn.values():
            block.attention_gate.fill_(1.0)
            block.mlp_gate.fill_(1.0)
        if model.step_reader is not None:
            for parameter in model.step_reader.parameters():
                parameter.normal_(0, 0.5)
    return model.eval()


def logits(model, memory, ids):
    """The logits at fixed (linear) positions: random ones would differ per call."""
    positions = torch.arange(ids.shape[1]).expand(ids.shape[0], -1)
    return model(ids, positions=positions, memory=memory).logits


IDS = torch.randint(4, 70, (2, 9), generator=torch.Generator().manual_seed(1))


def test_all_reads_every_step_it_ran_and_masks_the_rest():
    reader = StepReader(
        TransNARConfig(lm=tiny.lm_config(), memory="all", nar_node_dim=WIDTH, nar_edge_dim=WIDTH)
    )
    memory = memory_of(steps=(3, 1), nodes=3)
    nodes, node_mask, edges, edge_mask_ = reader(memory)
    assert nodes.shape == (2, 3 * 3, WIDTH) and edges.shape == (2, 3 * 9, WIDTH)
    assert node_mask[0].all() and node_mask[1].tolist() == [True] * 3 + [False] * 6
    assert edge_mask_[1].sum() == 9
    # at initialisation the step encoding adds nothing
    assert torch.equal(nodes, memory.nodes.flatten(1, 2))


def test_pooled_is_the_mean_over_the_steps_ran_at_initialisation():
    config = TransNARConfig(
        lm=tiny.lm_config(), memory="pooled", nar_node_dim=WIDTH, nar_edge_dim=WIDTH
    )
    memory = memory_of(steps=(3, 2), nodes=2)
    nodes, node_mask, edges, _ = StepReader(config)(memory)
    assert nodes.shape == (2, 2, WIDTH) and edges.shape == (2, 4, WIDTH)
    torch.testing.assert_close(nodes[0], memory.nodes[0].mean(dim=0))
    torch.testing.assert_close(nodes[1], memory.nodes[1, :2].mean(dim=0))
    assert torch.equal(node_mask, memory.node_mask)


@pytest.mark.parametrize("mode", STEP_MODES)
def test_an_intermediate_step_changes_the_answer_only_where_it_is_read(mode):
    memory = memory_of(steps=(3, 3))
    changed = dataclasses.replace(memory, nodes=memory.nodes.clone(), edges=memory.edges.clone())
    changed.nodes[:, 0] += 5.0  # the first step's states
    changed.edges[:, 0] += 5.0
    model = model_of(mode)
    assert not torch.allclose(logits(model, memory, IDS), logits(model, changed, IDS))
    final = model_of("final")
    assert torch.equal(logits(final, memory, IDS), logits(final, changed, IDS))


@pytest.mark.parametrize("mode", STEP_MODES)
def test_states_after_a_samples_last_step_are_not_read(mode):
    """A sample that ran 1 of the batch's 3 steps: its padded steps are masked,
    so its logits do not depend on them (nor on the batch's longest run)."""
    model = model_of(mode)
    memory = memory_of(steps=(3, 1))
    changed = dataclasses.replace(memory, nodes=memory.nodes.clone(), edges=memory.edges.clone())
    changed.nodes[1, 1:] = 9.0
    changed.edges[1, 1:] = 9.0
    torch.testing.assert_close(logits(model, memory, IDS)[1], logits(model, changed, IDS)[1])
    alone = memory_of(steps=(1,), seed=0)
    alone = dataclasses.replace(
        alone, nodes=memory.nodes[1:, :1], edges=memory.edges[1:, :1], steps=memory.steps[1:]
    )
    torch.testing.assert_close(
        logits(model, memory, IDS)[1], logits(model, alone, IDS[1:])[0], atol=1e-5, rtol=1e-5
    )


def test_step_encodings_differ_by_step():
    encoding = step_encoding(torch.arange(40))
    assert encoding.shape == (40, 16)
    assert len({tuple(row.round(decimals=5).tolist()) for row in encoding}) == 40


def test_the_readers_parameters_are_saved_and_loaded(tmp_path):
    from tests import tiny

    model = tiny.transnar(use_nar=True)
    config = dataclasses.replace(model.config, memory="pooled")
    pooled = TransNAR(config, model.lm, model.nar)
    with torch.no_grad():
        pooled.step_reader.node_query.fill_(0.25)
    pooled.save_pretrained(tmp_path / "m")
    loaded = TransNAR.from_pretrained(tmp_path / "m")
    assert loaded.config.memory == "pooled"
    assert torch.equal(loaded.step_reader.node_query, pooled.step_reader.node_query)
    control = TransNAR(dataclasses.replace(config, memory_source="decoy"), model.lm, model.nar)
    count = sum(p.numel() for p in pooled.trainable_parameters())
    assert count == sum(p.numel() for p in control.trainable_parameters())


def test_the_last_step_control_reads_the_same_slots_without_intermediate_states():
    memory = memory_of(steps=(3, 1))
    last = memory.last_step_everywhere()
    assert last.nodes.shape == memory.nodes.shape and last.edges.shape == memory.edges.shape
    for step in range(3):
        assert torch.equal(last.nodes[:, step], memory.nodes[:, -1])
        assert torch.equal(last.edges[:, step], memory.edges[:, -1])
    assert torch.equal(last.steps, memory.steps) and torch.equal(last.node_mask, memory.node_mask)
    # so in mode all an intermediate step no longer reaches the logits
    model = model_of("all")
    changed = dataclasses.replace(memory, nodes=memory.nodes.clone(), edges=memory.edges.clone())
    changed.nodes[0, 0] += 5.0
    changed.edges[0, 0] += 5.0
    assert not torch.allclose(logits(model, memory, IDS), logits(model, changed, IDS))
    torch.testing.assert_close(
        logits(model, memory.last_step_everywhere(), IDS),
        logits(model, changed.last_step_everywhere(), IDS),
    )


@pytest.mark.parametrize("mode", STEP_MODES)
def test_cached_decoding_reads_the_steps_once_and_equals_recomputation(mode, monkeypatch):
    from transnar.lm import CharTokenizer, generate

    model = model_of(mode)
    memory = memory_of(steps=(3, 2))
    prompts = ["bfs:\ns: 0\npi:\n", "bfs:\ns: 1, A: []\npi:\n"]
    tokenizer = CharTokenizer()
    reads = []
    original = StepReader.forward
    monkeypatch.setattr(StepReader, "forward", lambda self, m: reads.append(1) or original(self, m))
    kwargs = {"positions": "linear", "memory": memory}
    cached = generate(model, tokenizer, prompts, 8, use_cache=True, **kwargs)
    assert len(reads) == 1  # not once per token
    full = generate(model, tokenizer, prompts, 8, use_cache=False, **kwargs)
    assert cached.token_ids == full.token_ids and len(reads) > 2
