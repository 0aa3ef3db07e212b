"""Processors: every variant, the max over senders, the gate, triplets, LayerNorm,
and padding (CLRS ``processors.py``: ``PGN``, ``MPNN``, ``get_triplet_msgs``)."""

from __future__ import annotations

import math

import pytest
import torch

from tests import tiny
from tests.nar.helpers import node_mask
from transnar.nar.config import PROCESSORS
from transnar.nar.processors import Processor

B, N = 2, 4


def _processor(kind: str, use_ln: bool = True, seed: int = 0) -> Processor:
    torch.manual_seed(seed)
    return Processor(tiny.nar_config(processor=kind, use_ln=use_ln)).double()


def _inputs(n=N, b=B, seed=1, adjacency=None):
    g = torch.Generator().manual_seed(seed)
    node_fts = torch.randn(b, n, tiny.NAR_HIDDEN, generator=g, dtype=torch.float64)
    edge_fts = torch.randn(b, n, n, tiny.NAR_HIDDEN, generator=g, dtype=torch.float64)
    graph_fts = torch.randn(b, tiny.NAR_HIDDEN, generator=g, dtype=torch.float64)
    hidden = torch.randn(b, n, tiny.NAR_HIDDEN, generator=g, dtype=torch.float64)
    if adjacency is None:
        adjacency = (torch.rand(b, n, n, generator=g) < 0.4) | torch.eye(n, dtype=torch.bool)
    return node_fts, edge_fts, graph_fts, adjacency, hidden


def _lin(layer, x):
    return x @ layer.weight.T + layer.bias


def _brute_force(proc: Processor, node_fts, edge_fts, graph_fts, adjacency, hidden, mask, pgn):
    """The reference's node update, one receiver at a time."""
    b, n, h = node_fts.shape
    z = torch.cat([node_fts, hidden], -1)
    out = torch.empty(b, n, h, dtype=node_fts.dtype)
    aggregated = torch.empty(b, n, h, dtype=node_fts.dtype)
    mlp_in, mlp_out = proc.message_mlp[0], proc.message_mlp[2]
    for batch in range(b):
        for j in range(n):  # receiver
            best = torch.full((h,), -1e6, dtype=node_fts.dtype)
            for i in range(n):  # sender
                allowed = bool(mask[batch, i] and mask[batch, j])
                if pgn:
                    allowed = allowed and bool(adjacency[batch, i, j])
                if not allowed:
                    continue
                pre = (
                    _lin(proc.m1, z[batch, j])
                    + _lin(proc.m2, z[batch, i])
                    + _lin(proc.m_edge, edge_fts[batch, i, j])
                    + _lin(proc.m_graph, graph_fts[batch])
                )
                msg = _lin(mlp_out, torch.relu(_lin(mlp_in, torch.relu(pre))))
                best = torch.maximum(best, msg)
            aggregated[batch, j] = best
            new = torch.relu(_lin(proc.o1, z[batch, j]) + _lin(proc.o2, best))
            if proc.layer_norm is not None:
                new = (new - new.mean()) / torch.sqrt(new.var(unbiased=False) + 1e-5)
                new = new * proc.layer_norm.weight + proc.layer_norm.bias
            if proc.gate is not None:
                gate = torch.sigmoid(
                    _lin(
                        proc.gate.g3,
                        torch.relu(_lin(proc.gate.g1, z[batch, j]) + _lin(proc.gate.g2, best)),
                    )
                )
                new = gate * new + (1 - gate) * hidden[batch, j]
            out[batch, j] = new
    return out


def _brute_force_triplets(proc: Processor, node_fts, edge_fts, graph_fts, hidden, mask):
    """The full ``(B, N, N, N, F)`` triplet tensor of the reference, max over real ``i``."""
    t = proc.triplets
    z = torch.cat([node_fts, hidden], -1)
    tri = (
        _lin(t.t1, z)[:, :, None, None, :]
        + _lin(t.t2, z)[:, None, :, None, :]
        + _lin(t.t3, z)[:, None, None, :, :]
        + _lin(t.te1, edge_fts)[:, :, :, None, :]
        + _lin(t.te2, edge_fts)[:, :, None, :, :]
        + _lin(t.te3, edge_fts)[:, None, :, :, :]
        + _lin(t.tg, graph_fts)[:, None, None, None, :]
    )  # (B, i, j, k, F)
    tri = torch.where(mask[:, :, None, None, None], tri, torch.tensor(-math.inf, dtype=tri.dtype))
    return torch.relu(_lin(t.o3, tri.amax(1)))


@pytest.mark.parametrize("kind", PROCESSORS)
def test_shapes_and_parts(kind):
    proc = _processor(kind)
    node_fts, edge_fts, graph_fts, adjacency, hidden = _inputs()
    new_hidden, latents = proc(node_fts, edge_fts, graph_fts, adjacency, hidden, node_mask([N, 3]))
    assert new_hidden.shape == (B, N, tiny.NAR_HIDDEN)
    assert (proc.gate is not None) == kind.removeprefix("triplet_").startswith("g")
    assert (proc.triplets is not None) == kind.startswith("triplet")
    assert proc.aggregate_over_edges == ("pgn" in kind)
    if kind.startswith("triplet"):
        assert latents.shape == (B, N, N, tiny.NAR_HIDDEN)
        assert proc.triplets.t1.out_features == tiny.NAR_TRIPLET_FTS
    else:
        assert latents is None


@pytest.mark.parametrize("use_ln", [True, False])
@pytest.mark.parametrize("kind", PROCESSORS)
def test_matches_brute_force(kind, use_ln):
    """Every variant computes the reference update, padding excluded from the max."""
    proc = _processor(kind, use_ln)
    mask = node_mask([N, 3])
    args = _inputs()
    new_hidden, latents = proc(*args, mask)
    expected = _brute_force(proc, *args, mask, pgn="pgn" in kind)
    torch.testing.assert_close(new_hidden[mask], expected[mask])
    if latents is not None:
        node_fts, edge_fts, graph_fts, _, hidden = args
        tri = _brute_force_triplets(proc, node_fts, edge_fts, graph_fts, hidden, mask)
        real = mask[:, :, None] & mask[:, None, :]
        torch.testing.assert_close(latents[real], tri[real])


@pytest.mark.parametrize("kind", ["mpnn", "gmpnn", "triplet_gmpnn", "triplet_mpnn"])
def test_mpnn_ignores_adjacency(kind):
    """MPNN variants take the max over every real node, whatever the graph."""
    proc = _processor(kind)
    node_fts, edge_fts, graph_fts, _, hidden = _inputs()
    mask = node_mask([N, N])
    eye = torch.eye(N, dtype=torch.bool).expand(B, N, N)
    full = torch.ones(B, N, N, dtype=torch.bool)
    a = proc(node_fts, edge_fts, graph_fts, eye, hidden, mask)
    b = proc(node_fts, edge_fts, graph_fts, full, hidden, mask)
    torch.testing.assert_close(a[0], b[0])


@pytest.mark.parametrize("kind", ["pgn", "gpgn", "triplet_gpgn"])
def test_pgn_takes_max_over_adjacency(kind):
    """PGN variants aggregate over ``adjacency[sender, receiver]`` only: with only
    self-loops each node hears itself; an extra edge ``0 -> 1`` changes node 1 only."""
    proc = _processor(kind)
    node_fts, edge_fts, graph_fts, _, hidden = _inputs()
    mask = node_mask([N, N])
    eye = torch.eye(N, dtype=torch.bool).expand(B, N, N).clone()
    base, _ = proc(node_fts, edge_fts, graph_fts, eye, hidden, mask)
    expected = _brute_force(proc, node_fts, edge_fts, graph_fts, eye, hidden, mask, pgn=True)
    torch.testing.assert_close(base, expected)
    one_way = eye.clone()
    one_way[:, 0, 1] = True  # sender 0, receiver 1
    changed, _ = proc(node_fts, edge_fts, graph_fts, one_way, hidden, mask)
    differs = (changed - base).abs().amax(-1) > 1e-9  # (B, N)
    assert differs[:, 1].all()
    assert not differs[:, [0, 2, 3]].any()


@pytest.mark.parametrize("kind", PROCESSORS)
def test_padding_is_invisible(kind):
    """Whatever sits in the padding, real nodes get what the sample alone gets."""
    proc = _processor(kind)
    n, small = 5, 3
    node_fts, edge_fts, graph_fts, adjacency, hidden = _inputs(n=n, b=1, seed=3)
    # Padding may be adjacent to real nodes (soft pointers can put it there).
    adjacency = adjacency | (torch.rand(1, n, n) < 0.5)
    mask = node_mask([small], n)
    padded, padded_latents = proc(node_fts, edge_fts, graph_fts, adjacency, hidden, mask)
    alone, alone_latents = proc(
        node_fts[:, :small],
        edge_fts[:, :small, :small],
        graph_fts,
        adjacency[:, :small, :small],
        hidden[:, :small],
        torch.ones(1, small, dtype=torch.bool),
    )
    torch.testing.assert_close(padded[:, :small], alone)
    if alone_latents is not None:
        torch.testing.assert_close(padded_latents[:, :small, :small], alone_latents)


@pytest.mark.parametrize("kind", ["gmpnn", "triplet_gmpnn", "gpgn", "triplet_gpgn"])
def test_gate_is_biased_closed(kind):
    """The last gate layer's bias starts at -3: with its weights zeroed the gate is
    ``sigmoid(-3)`` and the update keeps 95% of the previous state."""
    proc = _processor(kind)
    assert torch.all(proc.gate.g3.bias == -3.0)
    assert torch.all(proc.gate.g1.bias == 0.0) and torch.all(proc.gate.g2.bias == 0.0)
    node_fts, edge_fts, graph_fts, adjacency, hidden = _inputs()
    mask = node_mask([N, N])
    gated, _ = proc(node_fts, edge_fts, graph_fts, adjacency, hidden, mask)
    with torch.no_grad():
        proc.gate.g3.weight.zero_()
    closed, _ = proc(node_fts, edge_fts, graph_fts, adjacency, hidden, mask)
    proc.gate = None
    ungated, _ = proc(node_fts, edge_fts, graph_fts, adjacency, hidden, mask)
    g = torch.sigmoid(torch.tensor(-3.0, dtype=torch.float64))
    torch.testing.assert_close(closed, g * ungated + (1 - g) * hidden)
    assert not torch.allclose(gated, closed)


@pytest.mark.parametrize("kind", ["mpnn", "pgn", "triplet_mpnn"])
def test_layer_norm(kind):
    """With ``use_ln`` (and no gate) each node state is normalised; without, it is a ReLU."""
    node_fts, edge_fts, graph_fts, adjacency, hidden = _inputs()
    mask = node_mask([N, N])
    with_ln, _ = _processor(kind, use_ln=True)(
        node_fts, edge_fts, graph_fts, adjacency, hidden, mask
    )
    torch.testing.assert_close(with_ln.mean(-1), torch.zeros(B, N, dtype=torch.float64))
    torch.testing.assert_close(
        with_ln.var(-1, unbiased=False), torch.ones(B, N, dtype=torch.float64), atol=1e-3, rtol=0
    )
    proc = _processor(kind, use_ln=False)
    assert proc.layer_norm is None
    without, _ = proc(node_fts, edge_fts, graph_fts, adjacency, hidden, mask)
    assert (without >= 0).all() and (without == 0).any()
