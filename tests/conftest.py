"""Shared fixtures: the reference dump cache."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def reference_cache(request, tmp_path_factory):
    """Directory where reference dumps are kept between runs (pytest's cache)."""
    try:
        return request.config.cache.mkdir("reference-dumps")
    except AttributeError:  # the cache plugin is disabled
        return tmp_path_factory.mktemp("reference-dumps")
