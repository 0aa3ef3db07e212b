"""What every benchmark records beside its numbers, and how it saves them.

Each benchmark prints a Markdown table and, with ``--out DIR``, writes
``DIR/NAME.json`` (the machine, the versions, the arguments and every row) and
``DIR/NAME.md`` (a line saying where and how it was measured, then the table).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
from pathlib import Path

import torch

from transnar import __version__
from transnar.persistence import atomic_write


def machine(**extra) -> dict:
    """Versions, CPU count and the load average now (``load_before``), plus ``extra``."""
    info = {
        "transnar": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "command": shlex.join(["python", *sys.argv]),
        "load_before": os.getloadavg(),
    }
    info.update(torch=torch.__version__, threads=torch.get_num_threads(), **extra)
    return info


def describe(meta: dict) -> str:
    """One line: the machine, the threads and the load before and after the run."""
    return (
        f"transnar {meta['transnar']}, torch {meta['torch']}, {meta['threads']} thread(s), "
        f"{meta['cpus']} CPUs ({meta['machine']}); "
        f"load average {meta['load_before'][0]:.2f} before, {meta['load_after'][0]:.2f} after. "
        f"Command: `{meta['command']}`."
    )


def save(out: Path | None, name: str, meta: dict, rows: list[dict], table: str) -> None:
    """Records ``load_after`` in ``meta``; with ``out``, writes ``NAME.json`` and ``NAME.md``."""
    meta["load_after"] = os.getloadavg()
    if out is None:
        return
    with atomic_write(out / f"{name}.json", overwrite=True, mode="w") as handle:
        handle.write(json.dumps({"meta": meta, "rows": rows}, indent=2, default=str) + "\n")
    with atomic_write(out / f"{name}.md", overwrite=True, mode="w") as handle:
        handle.write(f"{describe(meta)}\n\n{table}\n")
