"""The NAR's memory for the TransNAR (transnar.nar.memory): shapes, masks, each
sample's last step, a frozen NAR left as it was."""

from __future__ import annotations

import pytest
import torch

from tests import tiny
from transnar import clrs
from transnar.nar import NAR, Features
from transnar.nar.memory import GraphMemory


@pytest.fixture(scope="module")
def frozen_nar():
    return tiny.nar(tiny.ALGORITHMS).eval()


def _memory(nar: NAR, batch, steps: str = "oracle") -> GraphMemory:
    features = batch if isinstance(batch, Features) else Features.from_trajectories(list(batch))
    return GraphMemory.from_output(nar.embed(features, steps=steps), features.node_mask)


def test_memory_shapes_and_masks(frozen_nar):
    trajectories = [clrs.sample("insertion_sort", n, seed=n)[0] for n in (3, 6, 4)]
    out = _memory(frozen_nar, trajectories)
    b, n, h = 3, 6, 8
    s = max(t.length for t in trajectories) - 1
    assert out.nodes.shape == (b, s, n, h) and out.edges.shape == (b, s, n * n, h)
    final_nodes, final_edges = out.at_layer(0, 1, "final")
    assert final_nodes.shape == (b, n, h) and final_edges.shape == (b, n * n, h)
    assert out.node_mask.tolist() == [
        [True] * 3 + [False] * 3,
        [True] * 6,
        [True] * 4 + [False] * 2,
    ]
    both_real = out.node_mask[:, :, None] & out.node_mask[:, None, :]
    assert torch.equal(out.edge_mask, both_real.reshape(b, n * n))
    assert out.steps.tolist() == [t.length - 1 for t in trajectories]


def test_final_memory_is_each_samples_last_step(frozen_nar):
    trajectories = [clrs.sample("insertion_sort", n, seed=n)[0] for n in (3, 6, 4)]
    out = _memory(frozen_nar, trajectories)
    final_nodes, final_edges = out.at_layer(0, 1, "final")
    b, n = out.node_mask.shape
    final_edges = final_edges.view(b, n, n, -1)
    for i, trajectory in enumerate(trajectories):
        last = trajectory.length - 2
        assert torch.equal(final_nodes[i], out.nodes[i, last])
        assert torch.equal(final_edges[i], out.edges[i, last].view(n, n, -1))
        alone = _memory(frozen_nar, [trajectory])
        alone_nodes, alone_edges = alone.at_layer(0, 1, "final")
        k = trajectory.length
        m = alone.node_mask.shape[1]
        torch.testing.assert_close(final_nodes[i, :k], alone_nodes[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(
            final_edges[i, :k, :k], alone_edges[0].view(m, m, -1), atol=1e-5, rtol=1e-5
        )


def test_embed_leaves_a_frozen_nar_unchanged(frozen_nar):
    frozen_nar.requires_grad_(False)
    before = {k: v.clone() for k, v in frozen_nar.state_dict().items()}
    features = Features.from_trajectories(clrs.sample("bfs", 5, 1, 2))
    out = _memory(frozen_nar, features)
    assert not out.nodes.requires_grad and not frozen_nar.training
    assert all(torch.equal(v, frozen_nar.state_dict()[k]) for k, v in before.items())
    frozen_nar.train()
    _memory(frozen_nar, features)
    assert frozen_nar.training  # the mode is left as it was
    frozen_nar.eval()
    again = _memory(frozen_nar, features)
    assert torch.equal(again.nodes, out.nodes)  # deterministic


def test_embed_with_a_trainable_nar_tracks_no_gradients():
    nar = tiny.nar(processor="mpnn")
    out = _memory(nar, clrs.sample("bfs", 4, 0, 2))
    assert not out.nodes.requires_grad and out.edges.shape[-1] == tiny.NAR_HIDDEN
    assert all(p.grad is None for p in nar.parameters())


def test_a_forward_without_embeddings_has_no_memory(frozen_nar):
    features = Features.from_trajectories(clrs.sample("bfs", 4, 0, 2))
    with pytest.raises(ValueError, match="no embeddings"):
        GraphMemory.from_output(frozen_nar(features), features.node_mask)
