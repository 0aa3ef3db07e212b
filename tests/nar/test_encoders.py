"""Encoders: every (location, type), where each encoding is added, the adjacency,
the scalar-hint initialisation, and soft pointers (CLRS ``encoders.py``)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from tests import tiny
from tests.nar.helpers import node_mask, probe, synthetic_spec
from transnar.clrs.specs import Location
from transnar.nar import NAR
from transnar.nar.encoders import ProbeEncoder, accumulate_adjacency, dense, scalar_hint_std
from transnar.nar.heads import AlgorithmHead

B, N = 2, 4


def _affine(layer, x):
    """``layer`` applied by hand: ``x @ W.T + b``."""
    return x @ layer.weight.T + layer.bias


def _value(p, n=N, seed=0):
    """A random value of probe ``p`` for a ``(B, n)`` batch (pointers as indices)."""
    g = torch.Generator().manual_seed(seed)
    base = {"node": (B, n), "edge": (B, n, n), "graph": (B,)}[p.location.value]
    if p.type.value == "pointer":
        return torch.randint(0, n, base, generator=g)
    if p.type.value == "permutation_pointer":
        perm = torch.stack([torch.randperm(n, generator=g) for _ in range(B)])
        return F.one_hot(perm, n).float()
    if p.type.value == "categorical":
        return F.one_hot(torch.randint(0, p.num_classes, base, generator=g), p.num_classes).float()
    if p.type.value == "mask_one":  # one-hot over the last node axis
        return F.one_hot(torch.randint(0, n, base[:-1], generator=g), n).float()
    if p.type.value == "mask":
        return torch.randint(0, 2, base, generator=g).float()
    return torch.rand(base, generator=g)


# (location, type) -> the features the encoding is added to.
TARGETS = {
    ("node", "scalar"): "node",
    ("node", "mask"): "node",
    ("node", "mask_one"): "node",
    ("node", "categorical"): "node",
    ("node", "pointer"): "edge",
    ("node", "permutation_pointer"): "edge",
    ("edge", "scalar"): "edge",
    ("edge", "mask"): "edge",
    ("edge", "mask_one"): "edge",
    ("edge", "categorical"): "edge",
    ("edge", "pointer"): "edge",
    ("graph", "scalar"): "graph",
    ("graph", "mask"): "graph",
    ("graph", "categorical"): "graph",
}


def _probe_of(location, type_, stage="input"):
    return probe(stage, location, type_, 3 if type_ == "categorical" else None)


@pytest.mark.parametrize(("location", "type_"), list(TARGETS))
def test_encoding_and_target(location, type_):
    """Each probe is one linear map (one-hot for pointers and categoricals),
    added to the node, edge or graph features as the reference does."""
    torch.manual_seed(0)
    p = _probe_of(location, type_)
    encoder = ProbeEncoder(p, tiny.NAR_HIDDEN, None)
    assert encoder.target is Location(TARGETS[(location, type_)])
    value = dense(p, _value(p), N, torch.float32)
    mask = torch.ones(B, N, dtype=torch.bool)
    got = encoder.features(value, mask)
    if type_ == "categorical":
        expected = _affine(encoder.first, value)
    elif (location, type_) == ("edge", "pointer"):
        # Two encoders: the first averaged over the first node axis, the second
        # over the second one (reference: mean(enc0, axis=1) + mean(enc1, axis=2)).
        e0 = _affine(encoder.first, value.unsqueeze(-1))  # (B, N, N, N, H)
        e1 = _affine(encoder.second, value.unsqueeze(-1))
        expected = e0.mean(1) + e1.mean(2)
    else:
        expected = _affine(encoder.first, value.unsqueeze(-1))
    shape = {
        "node": (B, N, tiny.NAR_HIDDEN),
        "edge": (B, N, N, tiny.NAR_HIDDEN),
        "graph": (B, tiny.NAR_HIDDEN),
    }
    assert got.shape == shape[TARGETS[(location, type_)]]
    torch.testing.assert_close(got, expected)


def test_node_pointer_is_one_hot_over_nodes_on_edges():
    """A node pointer ``i -> p[i]`` encodes as ``W * [p[i] == j] + b`` at edge ``(i, j)``."""
    torch.manual_seed(0)
    p = _probe_of("node", "pointer")
    encoder = ProbeEncoder(p, tiny.NAR_HIDDEN, None)
    pointers = torch.tensor([[1, 1, 3, 0], [0, 0, 0, 0]])
    got = encoder.features(dense(p, pointers, N, torch.float32), torch.ones(B, N, dtype=torch.bool))
    w, b = encoder.first.weight[:, 0], encoder.first.bias
    for batch in range(B):
        for i in range(N):
            for j in range(N):
                expected = w * float(pointers[batch, i] == j) + b
                torch.testing.assert_close(got[batch, i, j], expected)


def test_edge_pointer_averages_over_real_nodes_only():
    """With padding, the two edge-pointer averages run over real nodes only, so a
    padded sample encodes its real block exactly as it does alone."""
    torch.manual_seed(0)
    p = _probe_of("edge", "pointer", stage="hint")
    encoder = ProbeEncoder(p, tiny.NAR_HIDDEN, None)
    sizes, n = [3, 5], 5
    mask = node_mask(sizes, n)
    g = torch.Generator().manual_seed(1)
    pointers = torch.stack([torch.randint(0, s, (n, n), generator=g) for s in sizes])
    encoder.double()
    padded = encoder.features(dense(p, pointers, n, torch.float64), mask)
    # Brute force over real nodes: edge (x, y) gets the mean over real i of
    # enc0([p[i, x] == y]) plus the mean over real j of enc1([p[x, j] == y]).
    w0, b0 = encoder.first.weight[:, 0], encoder.first.bias
    w1, b1 = encoder.second.weight[:, 0], encoder.second.bias
    for batch, s in enumerate(sizes):
        for x in range(s):
            for y in range(s):
                first = sum(w0 * float(pointers[batch, i, x] == y) + b0 for i in range(s)) / s
                second = sum(w1 * float(pointers[batch, x, j] == y) + b1 for j in range(s)) / s
                torch.testing.assert_close(padded[batch, x, y], first + second)
        alone = encoder.features(
            dense(p, pointers[batch : batch + 1, :s, :s], s, torch.float64),
            torch.ones(1, s, dtype=torch.bool),
        )
        torch.testing.assert_close(padded[batch, :s, :s], alone[0])


def test_graph_pointers_are_rejected():
    """The reference would add graph pointers to the nodes; CLRS-30 has none and we refuse them."""
    with pytest.raises(ValueError, match="graph-level pointers"):
        ProbeEncoder(_probe_of("graph", "pointer"), tiny.NAR_HIDDEN, None)


def test_dense_makes_pointers_one_hot_and_keeps_soft_pointers():
    p = _probe_of("node", "pointer")
    indices = torch.tensor([[2, 0, 1]])
    assert torch.equal(dense(p, indices, 3, torch.float64), F.one_hot(indices, 3).double())
    soft = torch.softmax(torch.randn(1, 3, 3), -1)
    assert torch.equal(dense(p, soft, 3, torch.float32), soft)
    scalar = _probe_of("node", "scalar")
    assert dense(scalar, torch.ones(1, 3), 3, torch.float64).dtype == torch.float64


class TestAdjacency:
    def test_node_pointers_add_both_directions(self):
        p = _probe_of("node", "pointer")
        pointers = torch.tensor([[1, 2, 2, 0]])
        adj = accumulate_adjacency(
            p, dense(p, pointers, 4, torch.float32), torch.zeros(1, 4, 4, dtype=torch.bool)
        )
        expected = torch.zeros(4, 4, dtype=torch.bool)
        for i, j in enumerate(pointers[0].tolist()):
            expected[i, j] = expected[j, i] = True
        assert torch.equal(adj[0], expected)

    def test_edge_masks_add_both_directions(self):
        p = _probe_of("edge", "mask")
        value = torch.zeros(1, 3, 3)
        value[0, 0, 1] = 1.0
        adj = accumulate_adjacency(p, value, torch.zeros(1, 3, 3, dtype=torch.bool))
        assert adj[0].nonzero().tolist() == [[0, 1], [1, 0]]

    def test_soft_pointers_threshold_at_one_half(self):
        """Soft pointer rows count where ``p[i, j] + p[j, i] > 0.5`` (as the reference)."""
        p = _probe_of("node", "pointer")
        soft = torch.tensor([[[0.0, 0.6, 0.4], [0.3, 0.2, 0.5], [0.1, 0.0, 0.9]]])
        adj = accumulate_adjacency(p, soft, torch.zeros(1, 3, 3, dtype=torch.bool))
        assert torch.equal(adj[0], (soft[0] + soft[0].T) > 0.5)

    @pytest.mark.parametrize(
        ("location", "type_"),
        [
            k
            for k in TARGETS
            if k not in {("node", "pointer"), ("node", "permutation_pointer"), ("edge", "mask")}
        ],
    )
    def test_other_probes_add_nothing(self, location, type_):
        p = _probe_of(location, type_)
        start = torch.eye(N, dtype=torch.bool).expand(B, N, N)
        value = dense(p, _value(p), N, torch.float32)
        assert torch.equal(accumulate_adjacency(p, value, start), start)

    def test_head_adjacency_has_self_loops_and_pointer_edges(self):
        spec = synthetic_spec(
            {
                "pos": _probe_of("node", "scalar"),
                "ptr": _probe_of("node", "pointer"),
                "adj": _probe_of("edge", "mask"),
            }
        )
        head = AlgorithmHead(spec, tiny.nar_config(), tiny.NAR_HIDDEN)
        adj_mask = torch.zeros(1, 4, 4)
        adj_mask[0, 2, 3] = 1.0
        probes = {"pos": torch.rand(1, 4), "ptr": torch.tensor([[1, 2, 2, 3]]), "adj": adj_mask}
        *_, adjacency = head.encode(probes, torch.ones(1, 4, dtype=torch.bool))
        expected = torch.eye(4, dtype=torch.bool)
        for i, j in [(0, 1), (1, 2), (2, 3)]:
            expected[i, j] = expected[j, i] = True
        assert torch.equal(adjacency[0], expected)


def test_head_sums_encodings_per_location():
    """``encode`` adds every probe's encoding to its target features and nothing elsewhere."""
    torch.manual_seed(0)
    probes = {f"{loc}_{typ}": _probe_of(loc, typ) for (loc, typ) in TARGETS}
    probes["hint_scalar"] = _probe_of("node", "scalar", stage="hint")
    spec = synthetic_spec(probes)
    head = AlgorithmHead(spec, tiny.nar_config(), 2 * tiny.NAR_HIDDEN)
    values = {name: _value(p, seed=k) for k, (name, p) in enumerate(probes.items())}
    mask = torch.ones(B, N, dtype=torch.bool)
    node_fts, edge_fts, graph_fts, _ = head.encode(values, mask)
    expected = {"node": 0.0, "edge": 0.0, "graph": 0.0}
    for name, p in probes.items():
        encoder = head.encoders[name]
        expected[encoder.target.value] = expected[encoder.target.value] + encoder.features(
            dense(p, values[name], N, torch.float32), mask
        )
    torch.testing.assert_close(node_fts, expected["node"])
    torch.testing.assert_close(edge_fts, expected["edge"])
    torch.testing.assert_close(graph_fts, expected["graph"])


@pytest.mark.parametrize(("location", "type_"), list(TARGETS))
def test_single_probe_touches_only_its_target(location, type_):
    spec = synthetic_spec({"x": _probe_of(location, type_)})
    head = AlgorithmHead(spec, tiny.nar_config(), tiny.NAR_HIDDEN)
    node_fts, edge_fts, graph_fts, _ = head.encode(
        {"x": _value(spec["x"])}, torch.ones(B, N, dtype=torch.bool)
    )
    features = {"node": node_fts, "edge": edge_fts, "graph": graph_fts}
    for where, tensor in features.items():
        assert bool(tensor.any()) == (where == TARGETS[(location, type_)]), where


class TestScalarHintInitialisation:
    """``xavier_on_scalars``: scalar *hints* get a truncated normal of std
    ``1 / sqrt(H)``; everything else the default (``1 / sqrt(fan_in)``)."""

    H = 256

    def _head(self, encoder_init):
        torch.manual_seed(0)
        spec = synthetic_spec(
            {
                "in_scalar": _probe_of("node", "scalar"),
                "hint_node_scalar": _probe_of("node", "scalar", stage="hint"),
                "hint_edge_scalar": _probe_of("edge", "scalar", stage="hint"),
                "hint_graph_scalar": _probe_of("graph", "scalar", stage="hint"),
                "hint_mask": _probe_of("node", "mask", stage="hint"),
                "hint_cat": _probe_of("node", "categorical", stage="hint"),
            }
        )
        config = tiny.nar_config(hidden_dim=self.H, encoder_init=encoder_init)
        return AlgorithmHead(spec, config, self.H)

    def test_std_values(self):
        assert scalar_hint_std("xavier_on_scalars", 64) == pytest.approx(1 / 8)
        assert scalar_hint_std("default", 64) is None

    def test_xavier_on_scalars(self):
        head = self._head("xavier_on_scalars")
        # A normal truncated at two standard deviations has std 0.88 sigma.
        truncated = 0.8796
        for name, layer in head.encoders.items():
            weight = layer.first.weight
            assert torch.all(layer.first.bias == 0)
            sigma = (
                1 / math.sqrt(self.H)
                if name.startswith("hint_") and "scalar" in name
                else (1 / math.sqrt(weight.shape[1]))
            )
            assert weight.abs().max() <= 2 * sigma + 1e-6, name
            assert weight.std().item() == pytest.approx(truncated * sigma, rel=0.15), name

    def test_default(self):
        head = self._head("default")
        for name, layer in head.encoders.items():
            sigma = 1 / math.sqrt(layer.first.weight.shape[1])
            assert layer.first.weight.std().item() == pytest.approx(0.8796 * sigma, rel=0.15), name


@pytest.mark.parametrize("location", ["node", "edge"])
def test_soft_pointers_encode_like_indices(location):
    """Probability rows that are one-hot encode exactly as the pointer indices
    (features and adjacency), for node and edge pointers."""
    torch.manual_seed(0)
    spec = synthetic_spec(
        {"pos": _probe_of("node", "scalar"), "ptr": _probe_of(location, "pointer", stage="hint")}
    )
    head = AlgorithmHead(spec, tiny.nar_config(), tiny.NAR_HIDDEN)
    mask = node_mask([3, 4])
    indices = _value(spec["ptr"]) % 3
    pos = torch.rand(B, N)
    hard = head.encode({"pos": pos, "ptr": indices}, mask)
    soft = head.encode({"pos": pos, "ptr": F.one_hot(indices, N).float()}, mask)
    for a, b in zip(hard, soft, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("hint_mode", ["encoded_decoded", "decoded_only", "none"])
def test_hint_encoders_follow_hint_mode(hint_mode):
    nar = NAR(tiny.nar_config(("bfs",), hint_mode=hint_mode))
    head = nar.head("bfs")
    assert set(head.encoders) >= set(head.spec.inputs)
    assert (set(head.encoders) & set(head.spec.hints) == set(head.spec.hints)) == (
        hint_mode == "encoded_decoded"
    )
    if hint_mode != "encoded_decoded":
        assert set(head.encoders) == set(head.spec.inputs)
