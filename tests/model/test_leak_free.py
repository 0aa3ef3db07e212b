"""TransNAR's memory tells nothing of the answer beyond what the question holds.

Leak-free stepping (``DESIGN.md`` §5, :mod:`transnar.nar.stepping`): the memory
the cross-attention reads is a function of the instance's inputs and step-0
hints alone. Each test replaces what the classical algorithm computes from the
inputs (the outputs, the hints after step 0, the trajectory's length) with
something else and checks that the memory does not move; the same replacement
does move the memory of the ``oracle`` NAR, which reads the true length, so the
check has teeth. Then: both memories (nodes and edges) reach the logits, and the
control's memory is another instance's.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from tests import tiny
from transnar import clrs
from transnar.lm import CharTokenizer, DecoderLM
from transnar.model import TransNAR, TransNARConfig, decoy_features
from transnar.nar import NAR, Features
from transnar.nar.memory import GraphMemory

ALGORITHMS = clrs.CLRS30_ALGORITHMS
SIZE = 5


@pytest.fixture(scope="module")
def nar() -> NAR:
    """An untrained NAR of all 30 algorithms (its termination head decides at random,
    which is all a leak test needs)."""
    return tiny.nar(ALGORITHMS).eval()


def transnar(nar: NAR, nar_steps: str = "learned", **config) -> TransNAR:
    torch.manual_seed(1)
    lm = tiny.lm_config()
    transnar_config = TransNARConfig(
        lm=lm,
        nar_node_dim=tiny.NAR_HIDDEN,
        nar_edge_dim=tiny.NAR_HIDDEN,
        nar_steps=nar_steps,
        **config,
    )
    return TransNAR(transnar_config, DecoderLM(lm, tokenizer=CharTokenizer()), nar).eval()


def instances(algorithm: str, count: int = 3, seed: int = 0) -> Features:
    size = 4 if algorithm == "segments_intersect" else SIZE
    return Features.from_trajectories(clrs.sample(algorithm, size, seed, count, 3))


def scrambled(features: Features, seed: int = 0) -> Features:
    """The same inputs and step-0 hints; random outputs, later hints and lengths
    (and a longer time axis)."""
    generator = torch.Generator().manual_seed(seed)

    def noise(value: torch.Tensor) -> torch.Tensor:
        if value.is_floating_point():
            return torch.rand(value.shape, generator=generator, dtype=value.dtype)
        return torch.randint(0, features.num_nodes, value.shape, generator=generator)

    hints = {}
    for name, value in features.hints.items():
        later = noise(torch.cat([value[:, 1:], value[:, 1:], value[:, :1]], dim=1))
        hints[name] = torch.cat([value[:, :1], later], dim=1)
    lengths = torch.randint(1, 2 * features.max_length + 2, features.lengths.shape)
    return dataclasses.replace(
        features,
        hints=hints,
        outputs={name: noise(value) for name, value in features.outputs.items()},
        lengths=lengths,
    )


def assert_same_memory(a: GraphMemory, b: GraphMemory) -> None:
    for name in ("nodes", "edges", "node_mask", "edge_mask", "steps"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=0)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("nar_steps", ["learned", "budget"])
def test_the_memory_depends_on_the_inputs_and_first_hints_only(nar, algorithm, nar_steps):
    model = transnar(nar, nar_steps)
    features = instances(algorithm)
    memory = model.graph_memory(features)
    for seed in range(2):
        assert_same_memory(model.graph_memory(scrambled(features, seed)), memory)


@pytest.mark.parametrize("memory_mode", ["final", "lockstep"])
def test_leak_free_in_both_memory_modes(nar, memory_mode):
    model = transnar(nar, "learned", memory=memory_mode)
    for algorithm in ("naive_string_matcher", "bfs", "quickselect"):
        features = instances(algorithm)
        assert_same_memory(model.graph_memory(scrambled(features)), model.graph_memory(features))


def test_the_oracle_nar_reads_the_length_so_the_check_can_fail(nar):
    """The same check on the CLRS protocol's stepping finds the leak."""
    model = transnar(nar, "oracle")
    moved = 0
    for algorithm in ("naive_string_matcher", "bfs", "insertion_sort", "dfs"):
        features = instances(algorithm)
        a, b = model.graph_memory(features), model.graph_memory(scrambled(features))
        moved += not (torch.equal(a.nodes, b.nodes) and torch.equal(a.steps, b.steps))
    assert moved == 4


def test_the_initial_state_is_all_the_nar_needs(nar):
    """From a question's inputs alone (its first step run, nothing after), the memory
    is the one of the full trajectory."""
    model = transnar(nar)
    for algorithm in ("kmp_matcher", "dijkstra", "heapsort"):
        trajectory = clrs.sample(algorithm, SIZE, 3, 1, 3)[0]
        inputs = {k: v for k, v in trajectory.inputs.items() if k != "pos"}
        initial = clrs.initial_state(algorithm, inputs)
        assert initial.length == 1 and not initial.outputs
        full = model.graph_memory(Features.from_trajectories([trajectory]))
        alone = model.graph_memory(Features.from_trajectories([initial]))
        assert_same_memory(alone, full)


def test_a_sample_stops_at_its_budget_at_the_latest(nar):
    from transnar.clrs.bounds import length_bound

    features = instances("jarvis_march", count=4)
    output = nar(features, repred=True, steps="budget")
    assert output.last_steps.tolist() == [length_bound("jarvis_march", SIZE) - 2] * 4
    learned = nar(features, repred=True, steps="learned")
    assert bool((learned.last_steps <= output.last_steps).all())


def test_leak_free_stepping_is_refused_in_training(nar):
    with pytest.raises(ValueError, match="evaluation"):
        nar(instances("bfs"), repred=False, steps="learned")


def test_a_nar_without_termination_head_cannot_step_learned():
    plain = NAR(tiny.nar_config(termination=False))
    with pytest.raises(ValueError, match="termination head"):
        plain.embed(instances("bfs"), steps="learned")
    assert plain.embed(instances("bfs"), steps="budget").last_steps is not None


# --- both memories reach the logits -----------------------------------------------


def _logits(model: TransNAR, memory: GraphMemory) -> torch.Tensor:
    ids = torch.tensor([[1, 5, 9, 12, 3, 7]])
    return model(ids, positions=torch.arange(6)[None], memory=memory).logits


def test_with_the_gates_open_the_node_and_the_edge_memory_both_reach_the_logits(nar):
    model = transnar(nar)
    with torch.no_grad():
        for block in model.xattn.values():
            block.attention_gate.fill_(1.0)
    features = instances("dijkstra", count=1)
    memory = model.graph_memory(features)
    logits = _logits(model, memory)
    without_nodes = dataclasses.replace(memory, nodes=torch.zeros_like(memory.nodes))
    without_edges = dataclasses.replace(memory, edges=torch.zeros_like(memory.edges))
    for changed in (without_nodes, without_edges):
        assert not torch.allclose(_logits(model, changed), logits, atol=1e-6)


def test_with_the_gates_closed_the_memory_does_not_matter(nar):
    model = transnar(nar)
    memory = model.graph_memory(instances("dijkstra", count=1))
    zero = dataclasses.replace(memory, nodes=torch.zeros_like(memory.nodes))
    torch.testing.assert_close(_logits(model, zero), _logits(model, memory))


# --- the control --------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["bfs", "naive_string_matcher", "optimal_bst", "minimum"])
def test_a_decoy_is_another_instance_of_the_same_algorithm_and_node_count(algorithm):
    features = instances(algorithm, count=4)
    decoys = decoy_features(features)
    assert decoys.algorithm == algorithm
    assert torch.equal(decoys.node_mask, features.node_mask)
    differs = [
        not torch.equal(decoys.inputs[name], value)
        for name, value in features.inputs.items()
        if name != "pos"
    ]
    assert any(differs)  # (some inputs, e.g. a matcher's text/pattern split, are fixed by size)
    again = decoy_features(features.rows(torch.tensor([2, 0])))
    for name, value in again.inputs.items():  # the same decoy, whatever the batch
        torch.testing.assert_close(value, decoys.inputs[name][[2, 0]])


@pytest.mark.parametrize("algorithm", ["bfs", "minimum"])
def test_a_decoy_does_not_depend_on_the_padding_of_a_mixed_batch(algorithm):
    small, large = clrs.sample(algorithm, 5, 0, 1, 3), clrs.sample(algorithm, 9, 1, 1, 3)
    alone = decoy_features(Features.from_trajectories(small))
    mixed = decoy_features(Features.from_trajectories(small + large))  # padded to 9 nodes
    count = int(alone.node_mask.sum())
    for name, value in alone.inputs.items():
        padded = mixed.inputs[name][0]
        if value.dim() > 1 and value.shape[1] == count:  # node and edge probes
            padded = (
                padded[:count, :count]
                if value.dim() > 2 and value.shape[2] == count
                else padded[:count]
            )
        torch.testing.assert_close(padded, value[0], msg=name)


def test_the_control_reads_the_decoys_memory(nar):
    control = transnar(nar, memory_source="decoy")
    model = transnar(nar)
    features = instances("bfs", count=3)
    assert_same_memory(control.graph_memory(features), model.graph_memory(decoy_features(features)))
    assert control.config.kind == "control" and model.config.kind == "transnar"
    # the control's memory does not move with anything of its question but its inputs
    assert_same_memory(control.graph_memory(scrambled(features)), control.graph_memory(features))


def test_the_blank_control_reads_zeros_of_the_same_shapes(nar):
    blank = transnar(nar, memory_source="blank")
    features = instances("bfs", count=3)
    memory, real = blank.graph_memory(features), transnar(nar).graph_memory(features)
    assert blank.config.kind == "control"
    assert memory.nodes.shape == real.nodes.shape and memory.edges.shape == real.edges.shape
    assert not memory.nodes.any() and not memory.edges.any() and real.nodes.any()
    assert torch.equal(memory.node_mask, real.node_mask)
    assert torch.equal(memory.edge_mask, real.edge_mask)
    assert torch.equal(memory.steps, real.steps)


def test_the_last_step_control_reads_its_questions_last_states_at_every_step(nar):
    features = instances("bfs", count=3)
    control = transnar(nar, memory="all", memory_source="last-step")
    memory, real = (
        control.graph_memory(features),
        transnar(nar, memory="all").graph_memory(features),
    )
    assert control.config.kind == "control" and real.nodes.shape[1] > 1
    assert torch.equal(memory.nodes, real.nodes[:, -1:].expand_as(real.nodes))
    assert torch.equal(memory.edges, real.edges[:, -1:].expand_as(real.edges))
    assert torch.equal(memory.steps, real.steps)


def test_the_controls_and_transnar_have_the_same_parameters(nar):
    counts = [
        sum(p.numel() for p in transnar(nar, memory_source=source).trainable_parameters())
        for source in ("question", "decoy", "blank", "last-step")
    ]
    assert counts[0] == counts[1] == counts[2] == counts[3] > 0


def test_old_model_files_keep_their_oracle_stepping():
    data = TransNARConfig().to_dict()
    del data["nar_steps"]
    assert TransNARConfig.from_dict(data).nar_steps == "oracle"
    assert TransNARConfig().nar_steps == "learned"
    assert np.isin(TransNARConfig.from_dict(TransNARConfig().to_dict()).nar_steps, ["learned"])
