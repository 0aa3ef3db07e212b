"""The spec table and the registries derived from it."""

from __future__ import annotations

import pytest

from transnar import clrs
from transnar.clrs import Family, Location, Stage, Type
from transnar.clrs.specs import CLRS30_ALGORITHMS, parse_algorithms

FAMILY_SIZES = {
    Family.SORTING: 4,
    Family.SEARCHING: 3,
    Family.DIVIDE_AND_CONQUER: 1,
    Family.GREEDY: 2,
    Family.DYNAMIC_PROGRAMMING: 3,
    Family.GRAPHS: 12,
    Family.STRINGS: 2,
    Family.GEOMETRY: 3,
}


def test_thirty_algorithms_in_eight_families():
    assert len(clrs.CLRS30_ALGORITHMS) == 30
    assert tuple(clrs.SPECS) == clrs.CLRS30_ALGORITHMS
    assert {f: len(names) for f, names in clrs.FAMILIES.items()} == FAMILY_SIZES
    assert sorted(n for names in clrs.FAMILIES.values() for n in names) == sorted(clrs.SPECS)


def test_registries_cover_the_spec_table():
    assert set(clrs.ALGORITHMS) == set(clrs.SPECS)
    assert set(clrs.SAMPLERS) == set(clrs.SPECS)


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_every_spec_is_well_formed(algorithm):
    spec = clrs.SPECS[algorithm]
    assert spec.name == algorithm
    assert spec["pos"] == (Stage.INPUT, Location.NODE, Type.SCALAR, None)
    assert spec.inputs and spec.outputs and spec.hints
    assert set(spec.inputs + spec.outputs + spec.hints) == set(spec)
    for name, probe in spec.items():
        assert (probe.num_classes is not None) == (probe.type is Type.CATEGORICAL), name
        assert probe.type not in (Type.PERMUTATION_POINTER, Type.SOFT_POINTER), name
    if "A" in spec:
        assert spec["adj"] == (Stage.INPUT, Location.EDGE, Type.MASK, None)


def test_spec_reads_like_the_reference_table():
    stage, location, type_, _ = clrs.SPECS["bfs"]["pi"]
    assert (stage, location, type_) == ("output", "node", "pointer")
    assert clrs.SPECS["heapsort"]["phase"].num_classes == 3
    assert clrs.SPECS["lcs_length"]["b"].num_classes == 4
    assert list(clrs.SPECS["insertion_sort"]) == ["pos", "key", "pred", "pred_h", "i", "j"]


def test_spec_is_read_only():
    with pytest.raises(TypeError):
        clrs.SPECS["bfs"] = clrs.SPECS["dfs"]  # type: ignore[index]
    with pytest.raises(TypeError):
        clrs.SPECS["bfs"]["pi"] = None  # type: ignore[index]


def test_unknown_algorithm_is_a_clear_error():
    with pytest.raises(ValueError, match="did you mean 'dijkstra'"):
        clrs.get_spec("dijkstr")
    with pytest.raises(ValueError, match="unknown algorithm 'zzz' \\(known: insertion_sort"):
        clrs.get_spec("zzz")


@pytest.mark.parametrize(
    "algorithm", [a for a in clrs.CLRS30_ALGORITHMS if "pred_h" in clrs.SPECS[a]]
)
def test_pred_as_input_list_is_exactly_the_static_pred_h(algorithm):
    """The listed algorithms never change pred_h; the others (sorts, quickselect) do."""
    changes = any(
        (t.hints["pred_h"] != t.hints["pred_h"][0]).any()
        for t in clrs.sample(algorithm, size=8, seed=0, count=20)
    )
    assert changes == (algorithm not in clrs.PRED_AS_INPUT_ALGORITHMS)


def test_parse_algorithms():
    assert parse_algorithms("bfs, dfs") == ("bfs", "dfs")
    assert parse_algorithms(["bfs", "dfs,minimum"]) == ("bfs", "dfs", "minimum")
    for word in ("all", "CLRS30", "clrs-30", ["all"]):
        assert parse_algorithms(word) == CLRS30_ALGORITHMS
    with pytest.raises(ValueError, match="did you mean 'bfs'"):
        parse_algorithms("bfz")
    with pytest.raises(ValueError, match="unknown algorithm 'all'"):  # 'all' only alone
        parse_algorithms("bfs,all")
    with pytest.raises(ValueError, match="no algorithm names"):
        parse_algorithms(" , ")
