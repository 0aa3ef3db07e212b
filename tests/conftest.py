"""Shared fixtures: one torch thread, a tiny NAR checkpoint, the reference dump cache;
Hypothesis without deadlines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests assert results, not speed: on a loaded machine one example can take
# longer than Hypothesis's default 200 ms deadline, which then fails a correct test.
settings.register_profile("transnar", deadline=None)
settings.load_profile("transnar")


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Every test on one torch thread: the tests' tiny models are dominated by
    per-op overhead, which intra-op threads only add to (much more so on a busy
    machine). Restored at the end."""
    import torch  # here: collecting the tests must not need it

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def nar_path(tmp_path_factory) -> Path:
    """A random tiny NAR checkpoint (:func:`tests.tiny.write_nar_checkpoint`), written
    once; tests only read it."""
    from tests import tiny  # here: collecting the tests must not need torch

    return tiny.write_nar_checkpoint(tmp_path_factory.mktemp("nar") / "nar.pt")


@pytest.fixture(scope="session")
def reference_cache(request, tmp_path_factory):
    """Directory where reference dumps are kept between runs.

    ``$TRANSNAR_REFERENCE_CACHE`` when set (CI keeps it outside the clone, beside
    the oracle environment, so reruns reuse the dumps); otherwise pytest's cache.
    Dumps are keyed by their job, the dump script and the interpreter, so a
    stale one is never used.
    """
    if os.environ.get("TRANSNAR_REFERENCE_CACHE"):
        path = Path(os.environ["TRANSNAR_REFERENCE_CACHE"]).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    try:
        return request.config.cache.mkdir("reference-dumps")
    except AttributeError:  # the cache plugin is disabled
        return tmp_path_factory.mktemp("reference-dumps")
