"""Reading torch files safely: plain values and tensors only, a clear error otherwise.

Shared by every reader of a ``torch.save`` file (model weights, training
checkpoints), below the model and training packages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from transnar._files import CheckpointError, unreadable_file


def read_torch_file(path: Path, what: str, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``: plain values and tensors only.

    Raises:
        CheckpointError: no file there, or one that is not a readable torch file
            of plain values (truncated, corrupt; ``what`` names the expected kind
            in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no {what} at {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many kinds for a bad file
        raise unreadable_file(path, what, error) from None


__all__ = ["read_torch_file"]
