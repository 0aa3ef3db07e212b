"""The peak memory of a stage: resident memory of the process and CUDA allocations.

Each stage's record (``RUN/stages/STAGE.json``) and the report give the peak
memory the stage reached, so that a run's memory is known stage by stage:

- ``rss_bytes``: the process's peak resident set (Linux ``VmHWM``), reset at
  the stage's start by writing ``5`` to ``/proc/self/clear_refs``; where that
  is not possible (another OS, no permission) the peak since the process
  started, and ``rss_since_start`` says so;
- ``cuda_bytes``: ``torch.cuda.max_memory_allocated`` over the stage (reset at
  its start), when CUDA is initialised.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


@contextlib.contextmanager
def peak_memory() -> Iterator[dict]:
    """Measures the peak memory of the ``with`` body into the dict it yields:
    ``rss_bytes`` (and ``rss_since_start``), and ``cuda_bytes`` when CUDA is
    initialised; keys whose value cannot be read are left out."""
    peaks: dict = {}
    reset = _reset_rss()
    cuda = _cuda()
    if cuda is not None:
        cuda.reset_peak_memory_stats()
    try:
        yield peaks
    finally:
        rss = _peak_rss()
        if rss is not None:
            peaks["rss_bytes"] = rss
            peaks["rss_since_start"] = not reset
        cuda = _cuda()  # the stage may have initialised CUDA itself
        if cuda is not None:
            peaks["cuda_bytes"] = int(cuda.max_memory_allocated())


def _reset_rss() -> bool:
    """Resets the process's peak resident set; whether that worked."""
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _peak_rss() -> int | None:
    """The process's peak resident set in bytes, from ``VmHWM`` (or
    ``resource.getrusage`` off Linux); ``None`` if neither is available."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:
        return None
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, kB elsewhere
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def _cuda():
    """``torch.cuda`` when torch is loaded and CUDA initialised, else ``None``."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return torch.cuda


def format_peaks(peaks: dict | None) -> str:
    """``"peak 1.2 GiB"`` (``", GPU 3.4 GiB"``), or ``""`` when nothing was measured."""
    if not peaks or "rss_bytes" not in peaks:
        return ""
    text = f"peak {format_bytes(peaks['rss_bytes'])}"
    if "cuda_bytes" in peaks:
        text += f", GPU {format_bytes(peaks['cuda_bytes'])}"
    return text


def format_bytes(value: float) -> str:
    """``"512 B"``, ``"3.4 MiB"``, ``"1.2 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


__all__ = ["format_bytes", "format_peaks", "peak_memory"]
