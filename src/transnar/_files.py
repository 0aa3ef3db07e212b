"""Safe file writing, now in :mod:`transnar.persistence`.

These names stay importable from here until the training packages import
:mod:`transnar.persistence` directly; then this module goes.
"""

from transnar.persistence import (
    CheckpointError,
    OutputExistsError,
    atomic_write,
    refuse_existing,
    unreadable_file,
)

__all__ = [
    "CheckpointError",
    "OutputExistsError",
    "atomic_write",
    "refuse_existing",
    "unreadable_file",
]
