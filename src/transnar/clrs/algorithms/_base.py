"""What every algorithm module declares: its functions and how to call them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from transnar.clrs.trajectory import Trajectory

InputProbes = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class AlgorithmDef:
    """An algorithm as the registry knows it.

    Attributes:
        run: the textbook algorithm on its natural arguments (e.g. the array
            to sort), recording its probes; returns the :class:`Trajectory`.
        arguments: maps validated input probes (reference names, e.g.
            ``{"pos", "key"}``) to the positional arguments of ``run``; the
            inverse of the input probes ``run`` records. It may raise
            ``ValueError`` for inputs the algorithm cannot take.
    """

    run: Callable[..., Trajectory]
    arguments: Callable[[InputProbes], tuple]


def key_argument(inputs: InputProbes) -> tuple:
    """Arguments of the algorithms that take one array of keys."""
    return (inputs["key"],)
