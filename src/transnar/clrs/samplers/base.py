"""The sampler base class: seeded random inputs, truncation, running the algorithm.

A sampler draws the natural arguments of one algorithm (e.g. the array to
sort) from the distribution the reference ``clrs`` uses for CLRS-30, with the
same random calls in the same order, so that the same seed gives the same
instances as the reference.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from transnar.clrs.algorithms import ALGORITHMS
from transnar.clrs.samplers._jump import jump
from transnar.clrs.specs import get_spec
from transnar.clrs.trajectory import Trajectory


def truncate(value: Any, decimals: int | None) -> Any:
    """Truncates (towards zero) floats to ``decimals`` decimals, as the reference does.

    Float arrays and Python/NumPy float scalars are truncated with
    ``trunc(x * 10**decimals) / 10**decimals``; anything else (integer arrays,
    node indices) is returned unchanged. ``None`` or ``0`` means no truncation.
    """
    if not decimals:
        return value
    scale = 10**decimals
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return np.trunc(value * scale) / scale
    if isinstance(value, float):
        return float(np.trunc(value * scale) / scale)
    return value


class Sampler:
    """Draws random instances of one algorithm at one size.

    Each sampler owns a ``numpy.random.RandomState(seed)``, so its draws depend
    only on the seed (not on global random state) and are stable across NumPy
    versions. Subclasses implement :meth:`_draw`; its keyword arguments after
    ``size`` are the sampler's options.

    Args:
        algorithm: one of the algorithms the subclass serves.
        size: the reference ``length``: number of nodes for most algorithms,
            total length (haystack + needle, or both strings) for the string
            algorithms, number of keys for ``optimal_bst`` (which has
            ``size + 1`` nodes); ignored by ``segments_intersect`` (4 nodes).
        seed: seed of the sampler's random state, ``0 <= seed < 2**32``.
        truncate_decimals: if set, float inputs are truncated to this many
            decimals (CLRS-Text uses 3).
        **options: distribution parameters of the subclass (e.g. ``p`` for the
            Erdős–Rényi samplers).
    """

    #: Smallest size the sampler and its algorithms can handle.
    min_size: ClassVar[int] = 2

    def __init__(
        self,
        algorithm: str,
        size: int,
        seed: int,
        truncate_decimals: int | None = None,
        **options: Any,
    ):
        get_spec(algorithm)
        _check_int(f"size of {algorithm}", size, self.min_size)
        _check_int("seed", seed, 0, 2**32 - 1)
        if truncate_decimals is not None:
            _check_int("truncate_decimals", truncate_decimals, 0, 15)
        allowed = self.options()
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ValueError(
                f"unknown sampler option(s) {unknown} for {algorithm} "
                f"(allowed: {', '.join(allowed) or 'none'})"
            )
        self.algorithm = algorithm
        self.size = size
        self.seed = seed
        self.truncate_decimals = truncate_decimals
        self._options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
        _check_option_values(algorithm, {**allowed, **self._options})
        self._run = ALGORITHMS[algorithm].run
        self._rng = np.random.RandomState(seed)
        self._jump_words: Any = _UNCHECKED

    @classmethod
    def options(cls) -> dict[str, Any]:
        """The sampler's options and their defaults."""
        parameters = list(inspect.signature(cls._draw).parameters.values())[2:]
        return {p.name: p.default for p in parameters}

    def _draw(self, size: int, **options: Any) -> list:
        """Returns the algorithm's arguments for one random instance (untruncated)."""
        raise NotImplementedError

    def draw_arguments(self) -> list:
        """Draws one instance: the algorithm's arguments, truncated if asked."""
        arguments = self._draw(self.size, **self._options)
        return [truncate(a, self.truncate_decimals) for a in arguments]

    def draw(self) -> Trajectory:
        """Draws one instance and runs the algorithm on it."""
        return self._run(*self.draw_arguments())

    def words_per_draw(self) -> int | None:
        """The 32-bit words of the random stream that one draw takes, when every
        draw takes the same number (uniforms only, no rejection); ``None``
        otherwise. Subclasses that know say so; :meth:`skip` jumps for them."""
        return None

    @property
    def can_jump(self) -> bool:
        """Whether :meth:`skip` jumps (a cost independent of the number of draws)."""
        return self._checked_words_per_draw() is not None

    def skip(self, draws: int) -> None:
        """Advances the sampler by ``draws`` instances without running the algorithm.

        When every draw takes the same number of random words
        (:meth:`words_per_draw`), the random state jumps ahead at once
        (milliseconds, whatever ``draws``); otherwise the instances' arguments
        are drawn one by one.
        """
        _check_int("draws", draws, 0)
        words = self._checked_words_per_draw() if draws else None
        if words is None:
            for _ in range(draws):
                self.draw_arguments()
        else:
            jump(self._rng, draws * words)

    def _checked_words_per_draw(self) -> int | None:
        """:meth:`words_per_draw`, once checked against a real draw of a copy of
        the sampler (``None`` if they disagree, so :meth:`skip` never jumps wrong)."""
        if self._jump_words is _UNCHECKED:
            words = self.words_per_draw()
            if words is not None:
                probe = copy.copy(self)
                probe._rng = _copy_state(self._rng)
                probe.draw_arguments()
                jumped = _copy_state(self._rng)
                jump(jumped, words)
                drawn, expected = probe._rng.get_state(), jumped.get_state()
                if drawn[2] != expected[2] or not np.array_equal(drawn[1], expected[1]):
                    words = None
            self._jump_words = words
        return self._jump_words

    def __iter__(self) -> Iterator[Trajectory]:
        return self

    def get_state(self) -> dict:
        """The random state (plain JSON-able types): restoring it with
        :meth:`set_state` makes the sampler draw the same instances again."""
        return random_state_to_dict(self._rng)

    def set_state(self, state: dict) -> None:
        """Restores a state from :meth:`get_state`."""
        random_state_from_dict(self._rng, state)

    def __next__(self) -> Trajectory:
        return self.draw()

    # Random primitives, named after what they draw; each is one RandomState call.

    def _uniform(self, size: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        return self._rng.uniform(low=low, high=high, size=(size,))

    def _string(self, size: int, chars: int = 4) -> np.ndarray:
        return self._rng.randint(0, high=chars, size=(size,))


_UNCHECKED = object()


def _copy_state(rng: np.random.RandomState) -> np.random.RandomState:
    """A new ``RandomState`` in ``rng``'s state."""
    other = np.random.RandomState()
    other.set_state(rng.get_state())
    return other


def random_state_to_dict(rng: np.random.RandomState) -> dict:
    """A ``RandomState``'s state as plain types (lists and numbers)."""
    kind, keys, pos, has_gauss, cached_gaussian = rng.get_state()
    return {
        "kind": kind,
        "keys": keys.tolist(),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached_gaussian),
    }


def random_state_from_dict(rng: np.random.RandomState, state: dict) -> None:
    """Sets ``rng`` to a state from :func:`random_state_to_dict`."""
    keys = np.asarray(state["keys"], dtype=np.uint32)
    rng.set_state((state["kind"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"]))


def _check_option_values(algorithm: str, options: dict[str, Any]) -> None:
    """A ``ValueError`` naming the option for a value the sampler cannot draw
    with (the options shared by several samplers, with their defaults filled in)."""
    spec = get_spec(algorithm)
    if "p" in options:
        p = options["p"]
        if not isinstance(p, tuple) or not p or not all(_is_number(x) and 0 <= x <= 1 for x in p):
            raise ValueError(
                f"option p of {algorithm} must be a non-empty list of edge probabilities in "
                f"[0, 1] (one is drawn per graph), got {p!r}"
            )
    if "low" in options and "high" in options:
        low, high = options["low"], options["high"]
        if not (_is_number(low) and _is_number(high) and low < high):
            raise ValueError(
                f"options low and high of {algorithm} must be numbers with low < high, "
                f"got low={low!r}, high={high!r}"
            )
    if "chars" in options:  # the letters' probe has one class per letter
        _check_int(f"option chars of {algorithm}", options["chars"], 1, spec["key"].num_classes)
    for name in ("length_2", "max_deadline", "k"):
        if options.get(name) is not None:
            _check_int(f"option {name} of {algorithm}", options[name], 1)
    if "length_needle" in options and options["length_needle"] is not None:
        _check_int(f"option length_needle of {algorithm}", options["length_needle"], -(2**31))
    if "radius" in options and not (_is_number(options["radius"]) and options["radius"] > 0):
        raise ValueError(
            f"option radius of {algorithm} must be a number > 0, got {options['radius']!r}"
        )
    if "eps" in options and not (_is_number(options["eps"]) and 0 <= options["eps"] <= 1):
        raise ValueError(f"option eps of {algorithm} must be in [0, 1], got {options['eps']!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
