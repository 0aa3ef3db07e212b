"""Safe file writing: never a half-written file, never an unasked overwrite."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


class OutputExistsError(FileExistsError):
    """The output file exists and overwriting was not asked for."""


class CheckpointError(ValueError):
    """A saved model or checkpoint that is corrupt, incomplete or does not match."""


def unreadable_file(path: str | os.PathLike, what: str, error: BaseException) -> CheckpointError:
    """The :class:`CheckpointError` of a file that a loader (``torch.load``,
    ``safetensors``) could not read: it says what is wrong with the file (most
    often: truncated or corrupt), with the first sentence of the loader's message."""
    text = " ".join(str(error).split())
    if "weights only load failed" in text.lower():
        problem = "it holds Python objects, not only plain values and tensors (not loaded)"
    else:
        reason = text.split(". ", 1)[0].rstrip(".") if text else type(error).__name__
        if isinstance(error, EOFError):
            reason = "it ends early"
        elif isinstance(error, OSError) and error.strerror:  # e.g. a seek past its end
            reason = f"reading it failed: {error.strerror.lower()}"
        problem = f"the file is truncated or corrupt ({reason})"
    return CheckpointError(f"{path} is not a readable {what}: {problem}")


def refuse_existing(paths: Iterable[str | os.PathLike], overwrite: bool) -> None:
    """Raises :class:`OutputExistsError` naming the existing files among ``paths``,
    unless ``overwrite``; call it before writing anything, so nothing is half done."""
    if overwrite:
        return
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if existing[3:] else "")
        raise OutputExistsError(
            f"{shown} already exist(s) (pass --force / overwrite=True to replace them)"
        )


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, overwrite: bool = False, mode: str = "wb") -> Iterator:
    """Opens a temporary file beside ``path``; renames it onto ``path`` on success.

    If the block raises, the temporary file is removed and ``path`` is left as
    it was. The parent directory is created if needed.

    Args:
        path: the final file.
        overwrite: replace an existing file; otherwise raise
            :class:`OutputExistsError` before writing anything.
        mode: ``"wb"`` or ``"w"``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} already exists (pass --force / overwrite=True to replace it)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
