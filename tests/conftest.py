"""Shared fixtures: one torch thread, a tiny NAR checkpoint, figures not drawn, the
reference dump cache; Hypothesis without deadlines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests assert results, not speed: on a loaded machine one example can take
# longer than Hypothesis's default 200 ms deadline, which then fails a correct test.
settings.register_profile("transnar", deadline=None)
settings.load_profile("transnar")


# Test modules whose tests share a module-scoped fixture of a second or more (a
# finished run, the 2-process trainings). Under pytest-xdist (``-n``, ``--dist
# loadgroup`` in pyproject.toml) each goes to one worker whole, so its fixture is
# made once, and before the other tests, which go one at a time to whichever worker
# is free. A module left out still passes; its fixture may be made twice.
SHARED_FIXTURE_MODULES = frozenset(
    {
        "tests/cli/test_lm_train.py",
        "tests/cli/test_nar.py",
        "tests/lm/test_hf.py",
        "tests/pipeline/report/test_report.py",
        "tests/pipeline/test_run.py",
        "tests/training/test_distributed.py",
        "tests/training/test_lm.py",
        "tests/training/test_nar.py",
    }
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the modules of :data:`SHARED_FIXTURE_MODULES` as groups
    (xdist's own ``xdist_group`` marks do not group on pytest 9.2: pytest-xdist#1386)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in SHARED_FIXTURE_MODULES else super()._split_scope(nodeid)

    return ModuleGroups(config, log)


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


@pytest.fixture
def placeholder_figures(monkeypatch):
    """Figures saved as a placeholder PNG file, not drawn, for tests whose assertions
    are not about the figures' content (drawing a report's six figures takes longer
    than the fast pipeline's training). The figures are drawn in
    ``tests/evaluation/test_plots.py``, the finished runs of
    ``tests/pipeline/test_run.py`` and ``tests/pipeline/report/test_report.py``, and
    ``transnar lm eval``'s first run in ``tests/cli/test_lm_eval.py``."""
    import matplotlib.figure

    def savefig(figure, target, **options):
        placeholder = b"\x89PNG\r\n\x1a\n placeholder"  # the PNG signature
        if hasattr(target, "write"):
            target.write(placeholder)
        else:
            Path(target).write_bytes(placeholder)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)


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
