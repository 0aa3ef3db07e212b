"""Samplers of the array, string and dynamic-programming algorithms.

Each returns the arguments of its algorithms, drawn with the same random calls,
in the same order, as the reference sampler of the same name.
"""

from __future__ import annotations

import numpy as np

from transnar.clrs.samplers.base import Sampler


class SortingSampler(Sampler):
    """``size`` keys uniform in ``[low, high)``."""

    def _draw(self, size: int, low: float = 0.0, high: float = 1.0) -> list:
        return [self._uniform(size, low, high)]

    def words_per_draw(self) -> int:
        return 2 * self.size  # a double takes two words


class SearchSampler(Sampler):
    """Sorted keys uniform in ``[low, high)``, then a target from the same range."""

    def _draw(self, size: int, low: float = 0.0, high: float = 1.0) -> list:
        keys = np.sort(self._uniform(size, low, high))
        target = self._rng.uniform(low=low, high=high)
        return [keys, target]

    def words_per_draw(self) -> int:
        return 2 * self.size + 2


class MaxSubarraySampler(Sampler):
    """``size`` keys uniform in ``[low, high)``, by default ``[-1, 1)``."""

    def _draw(self, size: int, low: float = -1.0, high: float = 1.0) -> list:
        return [self._uniform(size, low, high)]

    def words_per_draw(self) -> int:
        return 2 * self.size


class LCSSampler(Sampler):
    """Two random strings over ``chars`` letters.

    ``size`` is their total length unless ``length_2`` gives the second's:
    then the first has ``size`` letters.
    """

    def _draw(self, size: int, length_2: int | None = None, chars: int = 4) -> list:
        if length_2 is None:
            length_2 = size // 2
            size -= length_2
        return [self._string(size, chars), self._string(length_2, chars)]

    def words_per_draw(self) -> int | None:
        chars = self._options.get("chars", 4)
        length_2 = self._options.get("length_2")
        letters = self.size if length_2 is None else self.size + length_2
        if chars == 1:
            return 0  # nothing to draw
        # a letter takes one word when no draw is rejected (a power of two)
        return letters if 2 <= chars <= 2**31 and chars & (chars - 1) == 0 else None


class OptimalBSTSampler(Sampler):
    """Key and gap probabilities: ``2 * size + 1`` uniforms normalised to sum to 1."""

    def _draw(self, size: int) -> list:
        probabilities = self._uniform(2 * size + 1)
        probabilities /= probabilities.sum()
        return [probabilities[:size], probabilities[size:]]

    def words_per_draw(self) -> int:
        return 2 * (2 * self.size + 1)


class ActivitySampler(Sampler):
    """Activities whose start and finish are the min and max of two uniforms."""

    def _draw(self, size: int, low: float = 0.0, high: float = 1.0) -> list:
        first = self._uniform(size, low, high)
        second = self._uniform(size, low, high)
        return [np.minimum(first, second), np.maximum(first, second)]

    def words_per_draw(self) -> int:
        return 4 * self.size


class TaskSampler(Sampler):
    """Deadlines uniform in ``1..max_deadline`` (default ``size``), weights uniform."""

    def _draw(
        self, size: int, max_deadline: int | None = None, low: float = 0.0, high: float = 1.0
    ) -> list:
        deadlines = self._string(size, size if max_deadline is None else max_deadline) + 1
        return [deadlines, self._uniform(size, low, high)]


class MatcherSampler(Sampler):
    """A random haystack with a random needle copied into it.

    ``size`` is the total length. The needle has ``length_needle`` letters;
    by default ``size // 5`` (1 below size 5); a negative value ``-m`` draws it
    uniformly from ``1..m`` (the reference's NAR training uses ``-8``).
    """

    min_size = 3

    def _draw(self, size: int, length_needle: int | None = None, chars: int = 4) -> list:
        if length_needle is None:
            length_needle = 1 if size < 5 else size // 5
        elif length_needle < 0:
            length_needle = self._rng.randint(1, high=1 - length_needle)
        length_haystack = size - length_needle
        if length_needle < 1 or length_haystack <= length_needle:
            raise ValueError(
                f"a needle of {length_needle} letters does not fit a string matching "
                f"instance of total length {size} (the haystack must be longer)"
            )
        needle = self._string(length_needle, chars)
        haystack = self._string(length_haystack, chars)
        start = self._rng.choice(length_haystack - length_needle)
        haystack[start : start + length_needle] = needle
        return [haystack, needle]


SAMPLERS = {
    "insertion_sort": SortingSampler,
    "bubble_sort": SortingSampler,
    "heapsort": SortingSampler,
    "quicksort": SortingSampler,
    "minimum": SortingSampler,
    "binary_search": SearchSampler,
    "quickselect": SortingSampler,
    "find_maximum_subarray_kadane": MaxSubarraySampler,
    "activity_selector": ActivitySampler,
    "task_scheduling": TaskSampler,
    "matrix_chain_order": SortingSampler,
    "lcs_length": LCSSampler,
    "optimal_bst": OptimalBSTSampler,
    "naive_string_matcher": MatcherSampler,
    "kmp_matcher": MatcherSampler,
}
