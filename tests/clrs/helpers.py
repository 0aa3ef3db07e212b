"""Helpers of the CLRS tests: one-hot probes, probe comparisons, graphs.

Import them as ``from tests.clrs.helpers import ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import networkx as nx
import numpy as np

from transnar.clrs import Trajectory


def one_hot(indices, n: int) -> np.ndarray:
    """Rows of the ``(n, n)`` identity: one-hot vectors of ``indices`` over ``n`` classes."""
    return np.eye(n)[indices]


def indices(probe: np.ndarray):
    """The index each one-hot vector of ``probe`` marks (its last axis), as a list or an int."""
    return probe.argmax(-1).tolist()


def assert_probes(actual: Mapping[str, np.ndarray], expected: Mapping[str, Any]) -> None:
    """Asserts the same probe names in the same order, with equal arrays.

    A failing comparison names the probe.
    """
    assert list(actual) == list(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


def run_keeping_arguments(run: Callable[..., Trajectory], *arguments) -> Trajectory:
    """Returns ``run(*arguments)``, asserting that it left its arguments unmodified."""
    copies = [np.copy(argument) for argument in arguments]
    trajectory = run(*arguments)
    for number, (argument, copy) in enumerate(zip(arguments, copies, strict=True)):
        np.testing.assert_array_equal(argument, copy, err_msg=f"argument {number}")
    return trajectory


def graph_inputs(A, **extra) -> dict[str, Any]:
    """Input probes of a graph algorithm: ``A``, its edge mask ``adj`` (a boolean
    ``(A + I) != 0``) and the ``extra`` probes (e.g. a one-hot source ``s``)."""
    A = np.asarray(A)
    return {"A": A, "adj": (A + np.eye(len(A))) != 0, **extra}


def to_networkx(A: np.ndarray, *, directed: bool) -> nx.Graph:
    """The weighted networkx graph of ``A``: an edge ``(u, v)`` of weight
    ``A[u, v]`` for each nonzero entry.

    Directed graphs keep their self-loops. An undirected graph (``A`` must be
    symmetric) drops them: they change no component, spanning tree or cut.
    """
    if directed:
        return nx.from_numpy_array(A, create_using=nx.DiGraph)
    graph = nx.from_numpy_array(A, create_using=nx.Graph)
    graph.remove_edges_from(list(nx.selfloop_edges(graph)))
    return graph
