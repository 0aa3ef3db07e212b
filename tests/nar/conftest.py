"""NAR tests run torch on one thread.

The tensors here are tiny, so intra-op parallelism buys nothing; on a shared
machine whose other core is busy, OpenMP's waits for the second thread make
the suite about ten times slower (50 s instead of 5 s on a loaded 2-core box).
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="package")
def _single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
