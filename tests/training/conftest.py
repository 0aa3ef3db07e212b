"""Training tests run torch on one thread, as the NAR tests (see ``tests/nar/conftest.py``)."""

from tests.nar.conftest import _single_thread  # noqa: F401
