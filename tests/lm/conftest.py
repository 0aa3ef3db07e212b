"""Fixtures of the LM tests."""

from __future__ import annotations

import pytest

from transnar.lm import CharTokenizer


@pytest.fixture(scope="session")
def tokenizer() -> CharTokenizer:
    return CharTokenizer()
