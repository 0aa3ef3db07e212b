"""The peak memory of a stage (:mod:`transnar.pipeline.resources`)."""

from __future__ import annotations

import numpy as np
import pytest

from transnar.pipeline.resources import format_bytes, format_peaks, peak_memory

MIB = 2**20


def test_the_peak_of_a_body_that_allocates_is_above_one_that_does_not():
    with peak_memory() as idle:
        pass
    with peak_memory() as busy:
        block = np.ones(96 * MIB // 8)  # 96 MiB, written
        block[::4096] += 1.0
        del block
    if idle.get("rss_since_start", True) or busy.get("rss_since_start", True):
        pytest.skip("the peak resident memory cannot be reset here (not Linux, or no permission)")
    assert busy["rss_bytes"] >= idle["rss_bytes"] + 90 * MIB
    assert "cuda_bytes" not in busy or busy["cuda_bytes"] >= 0


def test_formatting():
    assert format_bytes(512) == "512 B"
    assert format_bytes(3.5 * MIB) == "3.5 MiB"
    assert format_bytes(1.25 * 2**30) == "1.2 GiB"
    assert format_peaks({"rss_bytes": 2 * MIB}) == "peak 2.0 MiB"
    assert format_peaks({"rss_bytes": 2 * MIB, "cuda_bytes": 3 * 2**30}) == (
        "peak 2.0 MiB, GPU 3.0 GiB"
    )
    assert format_peaks(None) == format_peaks({}) == ""
