"""The record of each stage of a run directory: ``RUN/stages/<name>.json``.

A record holds the stage's config and its hash, its inputs' output hashes,
its status (``running``, then ``done``), the hash of its outputs (all of them,
and each one), its times and its peak memory. These functions read records,
hash outputs and say how two configs differ.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from transnar._config import flatten
from transnar.pipeline.layout import STAGES_DIR


def differences(old: Mapping[str, Any], new: Mapping[str, Any], limit: int = 3) -> str:
    """``key: old -> new, ...`` for the leaves that differ (the first ``limit``)."""
    before, after = flatten(old), flatten(new)
    keys = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    shown = [f"{k}: {_short(before.get(k))} -> {_short(after.get(k))}" for k in keys[:limit]]
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(shown) + more


def read_record(run_dir: str | Path, name: str) -> dict | None:
    """A stage's record, or None if there is none (or it is unreadable)."""
    try:
        record = json.loads(record_path(run_dir, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def read_records(run_dir: str | Path) -> dict[str, dict]:
    """Every stage record of a run directory, by name, in the order they started."""
    names = sorted(path.stem for path in Path(run_dir, STAGES_DIR).glob("*.json"))
    records = {name: record for name in names if (record := read_record(run_dir, name))}
    return dict(sorted(records.items(), key=lambda item: str(item[1].get("started", ""))))


def record_path(run_dir: str | Path, name: str) -> Path:
    """``RUN/stages/<name>.json``: the record of stage ``name``."""
    return Path(run_dir) / STAGES_DIR / f"{name}.json"


def outputs_sha256(run_dir: str | Path, outputs: Sequence[str]) -> str | None:
    """SHA-256 of the outputs' paths and bytes (directories: every file below,
    in order); None if one is missing."""
    run_dir = Path(run_dir)
    digest = hashlib.sha256()
    for name in outputs:
        path = run_dir / name
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
        elif path.is_file():
            files = [path]
        else:
            return None
        for file in files:
            digest.update(file.relative_to(run_dir).as_posix().encode() + b"\0")
            with open(file, "rb") as handle:
                for chunk in iter(lambda handle=handle: handle.read(1 << 20), b""):
                    digest.update(chunk)
            digest.update(b"\0")
    return digest.hexdigest()


def sha256_json(data: Any) -> str:
    """SHA-256 of ``data`` as canonical JSON (sorted keys, no spaces): a config's hash."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _short(value: Any, width: int = 40) -> str:
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def now() -> str:
    """The current UTC time, ISO 8601 to the millisecond (the records' timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
