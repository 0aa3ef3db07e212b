"""Fixtures of the LM tests."""

from __future__ import annotations

import pytest
import torch

from transnar.lm import CharTokenizer


@pytest.fixture(scope="session")
def tokenizer() -> CharTokenizer:
    return CharTokenizer()


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models are dominated by per-op overhead, which intra-op threads
    only add to (much more so on a busy machine); restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
