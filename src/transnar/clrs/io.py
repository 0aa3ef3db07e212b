"""Trajectories on disk: one ``.npz`` file per algorithm.

Layout (``K`` trajectories, ``T`` the longest, ``N`` the most nodes; see
``docs/data-format.md``):

- ``meta``: a JSON document: ``format`` (``"transnar.trajectories"``),
  ``version``, ``algorithm``, ``count``, ``probes`` (the probe table in order:
  name, stage, location, type, num_classes) and whatever the writer adds
  (size, seed, truncate_decimals, sampler options, transnar version);
- ``input/<probe>`` ``(K, ...)`` and ``output/<probe>`` ``(K, ...)``;
- ``hint/<probe>`` ``(K, T, ...)``, zero after each trajectory's length;
- ``lengths`` ``(K,)`` and ``num_nodes`` ``(K,)``, int64.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from transnar.clrs.batching import Batch, collate
from transnar.clrs.specs import AlgorithmSpec, Location, ProbeSpec, Stage, Type, get_spec
from transnar.clrs.trajectory import Trajectory
from transnar.persistence import atomic_write

FORMAT = "transnar.trajectories"
VERSION = 1


def save_trajectories(
    path: str | os.PathLike,
    trajectories: Sequence[Trajectory],
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> None:
    """Writes trajectories of one algorithm to ``path`` (atomically, compressed).

    Args:
        path: the ``.npz`` file to write.
        trajectories: at least one trajectory, all of one algorithm and spec.
        metadata: JSON-serialisable extras recorded in ``meta``.
        overwrite: replace an existing file; otherwise refuse with
            :class:`~transnar.persistence.OutputExistsError`.
    """
    batch = collate(trajectories)
    meta = {
        **(metadata or {}),
        "format": FORMAT,
        "version": VERSION,
        "algorithm": batch.algorithm,
        "count": len(batch),
        "probes": [
            {
                "name": name,
                "stage": p.stage.value,
                "location": p.location.value,
                "type": p.type.value,
                "num_classes": p.num_classes,
            }
            for name, p in batch.spec.items()
        ],
    }
    arrays = {
        "meta": np.array(json.dumps(meta)),
        "lengths": batch.lengths,
        "num_nodes": batch.num_nodes,
    }
    for stage in Stage:
        for name, value in batch.probes(stage).items():
            arrays[f"{stage.value}/{name}"] = value
    with atomic_write(path, overwrite=overwrite) as handle:
        np.savez_compressed(handle, **arrays)


def load_trajectories(path: str | os.PathLike) -> tuple[list[Trajectory], dict[str, Any]]:
    """Reads a file written by :func:`save_trajectories`.

    Returns:
        The trajectories (padding removed) and the ``meta`` document.

    Raises:
        ValueError: the file is not a transnar trajectory file, is of another
            format version, or is corrupt.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from None
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, json.JSONDecodeError):
        raise ValueError(f"{path}: no transnar metadata (not written by transnar?)") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: its metadata is not a JSON object (not written by transnar?)")
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise ValueError(
            f"{path}: format {meta.get('format')!r} version {meta.get('version')!r}, "
            f"expected {FORMAT!r} version {VERSION}"
        )
    try:
        spec = _spec_from_meta(meta)
        batch = Batch(
            algorithm=meta["algorithm"],
            spec=spec,
            inputs=_probe_arrays(arrays, Stage.INPUT, spec),
            outputs=_probe_arrays(arrays, Stage.OUTPUT, spec),
            hints=_probe_arrays(arrays, Stage.HINT, spec),
            lengths=arrays["lengths"],
            num_nodes=arrays["num_nodes"],
        )
        return batch.trajectories(), meta
    except (KeyError, ValueError, IndexError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: corrupt trajectory file ({error})") from None


def _spec_from_meta(meta: Mapping[str, Any]) -> AlgorithmSpec:
    base = get_spec(meta["algorithm"])
    probes = {
        p["name"]: ProbeSpec(
            Stage(p["stage"]), Location(p["location"]), Type(p["type"]), p["num_classes"]
        )
        for p in meta["probes"]
    }
    return base.replace(probes)


def _probe_arrays(arrays: Mapping[str, np.ndarray], stage: Stage, spec: AlgorithmSpec) -> dict:
    names = [name for name, p in spec.items() if p.stage is stage]
    return {name: arrays[f"{stage.value}/{name}"] for name in names}
