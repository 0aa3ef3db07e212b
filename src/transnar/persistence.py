"""Saved files: one header, atomic writes, safetensors weights, one clear error.

Every file transnar saves for later use (a model's config and weights, its
tokenizer, a training checkpoint) follows the same rules:

- **One header.** A JSON document or a checkpoint dict starts with
  ``{"format": "transnar.<kind>", "version": <int>, ...}``: ``format`` names
  what the file holds, ``version`` its layout (raised when a reader of the
  old layout could not read the new one). A :class:`FileFormat` writes it
  (:meth:`FileFormat.header`) and checks it (:meth:`FileFormat.check`);
  :func:`provenance` adds the transnar (and torch) versions that wrote the
  file, for error messages.
- **Atomic writes.** :func:`atomic_write` writes a temporary file beside the
  target and renames it onto it: a reader never sees half a file, a crash
  leaves the old one. :func:`refuse_existing` refuses to replace outputs
  unless asked, before anything is written.
- **Safe weights.** :func:`write_weights` / :func:`read_weights` store a state
  dict as ``.safetensors`` (when the package is installed) or as a torch file
  of tensors only; torch files are always read with ``weights_only=True``
  (:func:`read_torch`), which never runs code from the file.
- **One clear error.** A missing, truncated, corrupt or foreign file raises
  :class:`CheckpointError` naming the file, what is wrong and what to do.

Readers accept the spellings of files written before this module
(:attr:`FileFormat.legacy_names`, and ``format_version`` for ``version``);
writers write the one spelling above.

The torch-free :mod:`transnar.clrs` writes its files with this module too, so
torch is imported only inside the functions that read or write tensors.

Example (a trainer's checkpoint; files of the old ``transnar-lm-checkpoint`` /
``format_version`` spelling still read)::

    CHECKPOINT = FileFormat(
        "transnar.lm_checkpoint", 1, "transnar LM training checkpoint",
        remedy="start the run over (--force)", legacy_names=("transnar-lm-checkpoint",),
    )
    write_checkpoint(run_dir / "checkpoints" / "last.pt", CHECKPOINT, {"step": 10, ...})
    payload = read_checkpoint(run_dir / "checkpoints" / "last.pt", CHECKPOINT)
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from transnar import __version__

if TYPE_CHECKING:
    import torch
    from torch import nn

SAFETENSORS_SUFFIX = ".safetensors"
TORCH_SUFFIX = ".pt"
LEGACY_VERSION_KEY = "format_version"
"""Where training checkpoints written before this module keep their version."""


class OutputExistsError(FileExistsError):
    """The output file exists and overwriting was not asked for."""


class CheckpointError(ValueError):
    """A saved model or checkpoint that is missing, corrupt, foreign or does not match."""


@dataclass(frozen=True)
class FileFormat:
    """A kind of saved file and the version of its layout.

    Attributes:
        name: ``transnar.<kind>``, written as the header's ``format``.
        version: the layout written (and the only one read).
        what: what the file is, in words ("saved LM config").
        remedy: what to do when the file is not readable ("save the model
            again with DecoderLM.save_pretrained").
        legacy_names: names of the same format in files written before this
            module; read, never written.
        older_versions: earlier layouts this transnar still reads (the
            reader then looks at the version it got).
    """

    name: str
    version: int
    what: str
    remedy: str
    legacy_names: tuple[str, ...] = ()
    older_versions: tuple[int, ...] = ()

    def header(self) -> dict[str, Any]:
        """``{"format": name, "version": version}``: the start of every such file."""
        return {"format": self.name, "version": self.version}

    def check(self, document: Any, source: str | os.PathLike) -> dict:
        """Returns ``document`` if it is a file of this format, in a version read.

        Args:
            document: what the file holds (a parsed JSON document, a torch dict).
            source: the file, for the message.

        Raises:
            CheckpointError: another format (or no header at all: a foreign
                file), or another version of this one.
        """
        found = document.get("format") if isinstance(document, dict) else None
        if found != self.name and found not in self.legacy_names:
            seen = f"its format is {found!r}" if found is not None else "it has no transnar header"
            raise CheckpointError(
                f"{source} is not a {self.name} file ({self.what}): {seen}; "
                f"check the path, or {self.remedy}"
            )
        # every version the file states (the legacy key too) must be one read here
        stated = [document[key] for key in ("version", LEGACY_VERSION_KEY) if key in document]
        unread = [v for v in stated or [None] if v not in (self.version, *self.older_versions)]
        if unread:
            writer = document.get("transnar_version", "an unknown version")
            raise CheckpointError(
                f"{source} has {self.name} format version {unread[0]!r} (written by transnar "
                f"{writer}); "
                f"this transnar ({__version__}) reads version {self.version}: use the transnar "
                f"that wrote it, or {self.remedy}"
            )
        return document


def provenance(torch_version: bool = False) -> dict[str, str]:
    """``{"transnar_version": ...}`` (and ``"torch_version"``): who wrote a file."""
    stamp = {"transnar_version": __version__}
    if torch_version:
        import torch

        stamp["torch_version"] = str(torch.__version__)
    return stamp


# --- writing -----------------------------------------------------------------------


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


def write_json(
    path: str | os.PathLike, document: Any, overwrite: bool = True, indent: int = 2
) -> None:
    """Writes ``document`` as indented JSON (a final newline), atomically."""
    with atomic_write(path, overwrite=overwrite, mode="w") as handle:
        json.dump(document, handle, indent=indent)
        handle.write("\n")


def weights_filename(stem: str) -> str:
    """``stem.safetensors`` when the safetensors package is installed, else ``stem.pt``."""
    return stem + (SAFETENSORS_SUFFIX if safetensors_available() else TORCH_SUFFIX)


def write_weights(
    path: str | os.PathLike, state: dict[str, torch.Tensor], metadata: dict[str, str]
) -> None:
    """Writes a state dict atomically: safetensors for a ``.safetensors`` path
    (``metadata`` in its header), else a torch file (read back by :func:`read_weights`)."""
    import torch

    path = Path(path)
    with atomic_write(path, overwrite=True) as handle:
        if path.suffix == SAFETENSORS_SUFFIX:
            handle.write(_safetensors(path).save(state, metadata=metadata))
        else:
            torch.save(state, handle)


def write_checkpoint(path: str | os.PathLike, file_format: FileFormat, body: dict) -> None:
    """Writes a torch checkpoint atomically: the format's header, :func:`provenance`
    with torch's version, then ``body`` (plain values and tensors only, so that
    :func:`read_checkpoint` can read it without unpickling objects)."""
    import torch

    payload = {**file_format.header(), **provenance(torch_version=True), **body}
    with atomic_write(path, overwrite=True) as handle:
        torch.save(payload, handle)


# --- reading -----------------------------------------------------------------------


def safetensors_available() -> bool:
    """Whether the ``safetensors`` package is installed (weights are then saved with it)."""
    try:
        import safetensors.torch  # noqa: F401
    except ImportError:
        return False
    return True


def _safetensors(path: Path) -> Any:
    """The ``safetensors.torch`` module, or a :class:`CheckpointError` saying to install it."""
    try:
        import safetensors.torch
    except ImportError:
        raise CheckpointError(
            f"{path} needs the safetensors package: pip install safetensors"
        ) from None
    return safetensors.torch


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


def read_json(path: str | os.PathLike, file_format: FileFormat, holder: str = "") -> dict:
    """Reads a JSON document of ``file_format`` and checks its header.

    Args:
        path: the file.
        file_format: what it must be.
        holder: what a directory holding the file is ("saved LM"), for the
            message when the file is missing.

    Raises:
        FileNotFoundError: no file at ``path`` ("DIR holds no saved LM (no
            config.json)" with a ``holder``).
        CheckpointError: not JSON, or not of this format and version.
    """
    path = Path(path)
    if not path.is_file():
        where = f"{path.parent} holds no {holder} (no {path.name})" if holder else f"no {path}"
        raise FileNotFoundError(where)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        raise CheckpointError(
            f"{path} is not valid JSON ({error}): the file is truncated or corrupt; "
            f"{file_format.remedy}"
        ) from None
    return file_format.check(document, path)


def read_torch(path: str | os.PathLike, what: str, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: plain values and tensors only.

    Raises:
        CheckpointError: no file there, or one that is not a readable torch file
            of plain values (truncated, corrupt; ``what`` names the expected kind
            in the message).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no {what} at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many kinds for a bad file
        raise unreadable_file(path, what, error) from None


def read_weights(
    path: str | os.PathLike, what: str, map_location: str | torch.device = "cpu"
) -> dict[str, torch.Tensor]:
    """Reads a state dict written by :func:`write_weights` (by its suffix).

    Raises:
        CheckpointError: a missing, truncated or corrupt file, or one that is
            not a dict of named tensors (``what`` names the file's kind).
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"the {what} {path} is missing")
    if path.suffix != SAFETENSORS_SUFFIX:
        state = read_torch(path, what, map_location)
    else:
        safetensors = _safetensors(path)
        try:
            state = safetensors.load_file(str(path), device=str(map_location))
        except Exception as error:  # whatever a corrupt file raises
            raise unreadable_file(path, what, error) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path} does not hold a state dict of tensors")
    return state


def load_state(
    module: nn.Module,
    state: dict[str, torch.Tensor],
    source: str | os.PathLike,
    unsaved: tuple[str, ...] = (),
) -> None:
    """Loads a state dict read from ``source`` into ``module``, after checking it fits.

    Args:
        module: the model, built from the saved config.
        state: its weights as read (:func:`read_weights`).
        source: the file or directory, for the message.
        unsaved: keys (or prefixes, ``"lm"`` for ``lm.*``) of the module's
            state that the file does not hold: tied weights, parts saved elsewhere.

    Raises:
        CheckpointError: missing or unexpected keys, or tensors of the wrong shape.
    """
    expected = module.state_dict()
    saved = [k for k in expected if not any(k == u or k.startswith(f"{u}.") for u in unsaved)]
    missing = sorted(set(saved) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: the weights do not match the config (missing {missing[:5]}, "
            f"unexpected {unexpected[:5]})"
        )
    wrong = [
        f"{k}: {tuple(v.shape)} vs {tuple(expected[k].shape)}"
        for k, v in state.items()
        if v.shape != expected[k].shape
    ]
    if wrong:
        raise CheckpointError(f"{source}: weights of the wrong shape: {wrong[:5]}")
    module.load_state_dict(state, strict=False)


def read_checkpoint(
    path: str | os.PathLike, file_format: FileFormat, map_location: str | torch.device = "cpu"
) -> dict:
    """Reads a torch checkpoint written by :func:`write_checkpoint` (or, under a
    legacy spelling, before it) and checks its header.

    Raises:
        CheckpointError: missing, truncated, corrupt, foreign, or of another version.
    """
    payload = read_torch(path, file_format.what, map_location)
    return file_format.check(payload, path)


__all__ = [
    "CheckpointError",
    "FileFormat",
    "OutputExistsError",
    "atomic_write",
    "load_state",
    "provenance",
    "read_checkpoint",
    "read_json",
    "read_torch",
    "read_weights",
    "refuse_existing",
    "safetensors_available",
    "unreadable_file",
    "weights_filename",
    "write_checkpoint",
    "write_json",
    "write_weights",
]
