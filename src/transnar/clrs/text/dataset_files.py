"""CLRS-Text dataset files: each split as JSON Lines or Parquet, and a manifest.

:func:`write_dataset` writes ``OUT/<split>.<jsonl|parquet>`` (rows grouped by
algorithm, size, seed and index, as :mod:`~transnar.clrs.text.datasets` makes
them), optionally each group's graphs (``graphs/<split>/<algorithm>-<size>.npz``),
and ``manifest.json`` (the splits, the options, the files and their hashes),
atomically; :func:`read_rows` reads a split back, one row at a time.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tqdm import tqdm

from transnar import __version__
from transnar.clrs.io import save_trajectories
from transnar.clrs.samplers import build_sampler
from transnar.clrs.text.datasets import (
    Split,
    check_disjoint,
    check_index_hint_sizes,
    split_examples,
)
from transnar.clrs.text.formatting import (
    FloatFormat,
)
from transnar.clrs.text.rows import (
    COLUMNS,
    INDEX_HINT_COLUMNS,
    SHIFTED_MARKER_COLUMNS,
    check_options,
    row_columns,
)
from transnar.clrs.trajectory import Trajectory
from transnar.persistence import atomic_write, refuse_existing

FILE_FORMATS: tuple[str, ...] = ("jsonl", "parquet")


MANIFEST = "manifest.json"


GRAPHS = "graphs/{split}/{algorithm}-{size}.npz"
"""Where ``--with-graphs`` puts the trajectories, relative to the output directory."""


MANIFEST_FORMAT = "transnar.clrs_text"


MANIFEST_VERSION = 1

# Parquet row groups hold at most this many rows or characters of text.


_PARQUET_ROWS = 1000


_PARQUET_CHARS = 32_000_000


def split_path(out: str | os.PathLike, split: Split | str, file_format: str = "jsonl") -> Path:
    """``OUT/<split>.<format>``: where a split's rows go."""
    name = split.name if isinstance(split, Split) else split
    return Path(out) / f"{name}.{file_format}"


def graph_path(out: str | os.PathLike, split: Split | str, algorithm: str, size: int) -> Path:
    """``OUT/graphs/<split>/<algorithm>-<size>.npz``: where paired trajectories go."""
    name = split.name if isinstance(split, Split) else split
    return Path(out) / GRAPHS.format(split=name, algorithm=algorithm, size=size)


def planned_files(
    out: str | os.PathLike,
    splits: Iterable[Split],
    file_format: str = "jsonl",
    with_graphs: bool = False,
) -> list[Path]:
    """Every file :func:`write_dataset` would write, the manifest last."""
    paths = []
    for split in splits:
        paths.append(split_path(out, split, file_format))
        if with_graphs:
            paths += [
                graph_path(out, split, a, n) for a, sizes in split.sizes.items() for n in sizes
            ]
    return [*paths, Path(out) / MANIFEST]


def write_rows(
    path: str | os.PathLike,
    rows: Iterable[Mapping[str, Any]],
    file_format: str | None = None,
    overwrite: bool = False,
) -> int:
    """Streams rows to a JSONL or Parquet file, atomically; returns the row count.

    Args:
        path: the file; its suffix gives the format unless ``file_format`` does.
        rows: dicts with the :data:`COLUMNS` (and ``index_hints``, written
            when true, and ``marker_offset``, written when present), consumed one
            at a time; a Parquet file takes the columns of its first row.
        file_format: ``"jsonl"`` or ``"parquet"`` (needs ``pyarrow``).
        overwrite: replace an existing file; otherwise refuse with
            :class:`~transnar.persistence.OutputExistsError`.
    """
    file_format = _file_format(path, file_format)
    if file_format == "parquet":
        return _write_parquet(path, rows, overwrite)
    count = 0
    with atomic_write(path, overwrite=overwrite) as handle:
        for row in rows:
            handle.write(json.dumps({c: row[c] for c in row_columns(row)}).encode() + b"\n")
            count += 1
    return count


def read_rows(path: str | os.PathLike, file_format: str | None = None) -> Iterator[dict[str, Any]]:
    """The rows of a JSONL or Parquet file, one at a time, in file order."""
    file_format = _file_format(path, file_format)
    if file_format == "parquet":
        parquet = _pyarrow_parquet()
        for batch in parquet.ParquetFile(path).iter_batches(batch_size=_PARQUET_ROWS):
            yield from batch.to_pylist()
        return
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                yield json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not a JSON line ({error})") from None


def write_dataset(
    out: str | os.PathLike,
    splits: Iterable[Split],
    *,
    use_hints: bool = False,
    float_format: FloatFormat = "default",
    truncate_decimals: int | None = 3,
    index_hints: bool = False,
    shift_markers: bool = False,
    file_format: str = "jsonl",
    with_graphs: bool = False,
    overwrite: bool = False,
    preset: str | None = None,
    progress: bool | None = False,
) -> dict[str, Any]:
    """Writes each split to ``OUT/<split>.<format>`` and a manifest; returns the manifest.

    Rows are streamed: only one row (plus, with ``with_graphs``, the
    trajectories of one algorithm and size) is held in memory. Every file is
    written atomically, the manifest last; the same arguments give the same
    bytes.

    Args:
        out: the output directory (created if needed).
        splits: the splits; no two may share a sampler stream.
        use_hints, float_format, truncate_decimals, index_hints, shift_markers:
            as in :func:`examples` (the manifest's options list ``index_hints``
            and ``shift_markers`` only when true).
        file_format: ``"jsonl"`` or ``"parquet"`` (needs ``pyarrow``).
        with_graphs: also write the paired trajectories of each algorithm and
            size to ``OUT/graphs/<split>/<algorithm>-<size>.npz``
            (:mod:`transnar.clrs.io`), in the order of that algorithm and size's
            rows (seed, then index).
        overwrite: replace existing files; otherwise refuse before writing anything.
        preset: the preset's name, recorded in the manifest.
        progress: show a progress bar per split (``None``: only on a terminal).

    Returns:
        The manifest (also in ``OUT/manifest.json``): format, version, preset,
        file format, options, each split's table, rows, file, sha256 (and
        graph files), and the transnar version.
    """
    splits = list(splits)
    names = [s.name for s in splits]
    if not splits or len(set(names)) != len(names):
        raise ValueError(f"splits must be non-empty with distinct names, got {names}")
    check_options(use_hints, float_format, index_hints, shift_markers)
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file format must be one of {FILE_FORMATS}, got {file_format!r}")
    if file_format == "parquet":
        _pyarrow_parquet()
    check_disjoint(splits)
    if index_hints:
        check_index_hint_sizes(splits)
    for split in splits:  # fail on a bad size, seed or truncation before writing anything
        for algorithm, size, seed in split.groups():
            build_sampler(algorithm, size, seed, truncate_decimals)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is not a directory")
    refuse_existing(planned_files(out, splits, file_format, with_graphs), overwrite)

    options = {
        "use_hints": use_hints,
        "float_format": float_format,
        "truncate_decimals": truncate_decimals,
    }
    if index_hints:
        options["index_hints"] = True
    if shift_markers:
        options["shift_markers"] = True
    columns = SHIFTED_MARKER_COLUMNS if shift_markers else INDEX_HINT_COLUMNS
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "preset": preset,
        "file_format": file_format,
        "columns": list(columns if index_hints else COLUMNS),
        "order": "algorithm, size, seed, index (not shuffled)",
        "options": options,
        "splits": {},
        "transnar_version": __version__,
    }
    for split in splits:
        manifest["splits"][split.name] = _write_split(
            out, split, options, file_format, with_graphs, overwrite, progress
        )
    # One line per list of sizes, so that the manifest stays short to read.
    text = re.sub(
        r"\[\s+([^\[\]{}]*?)\s+\]",
        lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
        json.dumps(manifest, indent=2),
    )
    with atomic_write(out / MANIFEST, overwrite=overwrite) as handle:
        handle.write(text.encode() + b"\n")
    return manifest


def _write_split(
    out: Path,
    split: Split,
    options: Mapping[str, Any],
    file_format: str,
    with_graphs: bool,
    overwrite: bool,
    progress: bool | None,
) -> dict[str, Any]:
    """Writes one split (and its graphs); returns its manifest entry."""
    path = split_path(out, split, file_format)
    graphs = _GraphWriter(out, split, options, overwrite) if with_graphs else None
    disable = None if progress is None else not progress
    with tqdm(
        total=split.num_rows, desc=split.name, unit="row", disable=disable, leave=False
    ) as bar:

        def rows():
            for row, trajectory in split_examples(split, **options):
                if graphs is not None:
                    graphs.add(row, trajectory)
                bar.update()
                yield row
            if graphs is not None:
                graphs.flush()

        count = write_rows(path, rows(), file_format, overwrite=overwrite)
    assert count == split.num_rows
    entry = {"file": path.name, **split.to_json(), "sha256": _sha256(path)}
    if graphs is not None:
        pattern = GRAPHS.replace("{split}", split.name)
        entry["graphs"] = {"files": graphs.written, "pattern": pattern}
    return entry


class _GraphWriter:
    """Collects the trajectories of one (algorithm, size) and writes them as one .npz."""

    def __init__(self, out: Path, split: Split, options: Mapping[str, Any], overwrite: bool):
        self.out, self.split, self.options, self.overwrite = out, split, options, overwrite
        self.key: tuple[str, int] | None = None
        self.trajectories: list[Trajectory] = []
        self.written = 0

    def add(self, row: Mapping[str, Any], trajectory: Trajectory) -> None:
        key = (row["algo_name"], row["length"])
        if key != self.key:
            self.flush()
            self.key = key
        self.trajectories.append(trajectory)

    def flush(self) -> None:
        if not self.trajectories:
            return
        algorithm, size = self.key
        path = graph_path(self.out, self.split, algorithm, size)
        metadata = {
            "split": self.split.name,
            "size": size,
            "seeds": list(self.split.seeds),
            "count_per_seed": self.split.count,
            "truncate_decimals": self.options["truncate_decimals"],
            "sampler_options": {},
            "transnar_version": __version__,
        }
        save_trajectories(path, self.trajectories, metadata, overwrite=self.overwrite)
        self.written += 1
        self.trajectories = []


def _write_parquet(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], overwrite: bool):
    parquet = _pyarrow_parquet()
    import pyarrow as pa

    rows = iter(rows)
    first = next(rows, None)
    columns = COLUMNS if first is None else row_columns(first)
    optional = {"index_hints": pa.bool_(), "marker_offset": pa.int32()}
    extra = [(name, optional[name]) for name in columns[len(COLUMNS) :]]
    schema = pa.schema(
        [
            ("text", pa.string()),
            ("question", pa.string()),
            ("answer", pa.string()),
            ("algo_name", pa.string()),
            ("length", pa.int32()),
            ("use_hints", pa.bool_()),
            ("seed", pa.int64()),
            ("index", pa.int64()),
            ("float_format", pa.string()),
            ("truncate_decimals", pa.int32()),
            *extra,
        ]
    )
    count = 0
    with atomic_write(path, overwrite=overwrite) as handle:
        writer = parquet.ParquetWriter(handle, schema)
        batch: list[Mapping[str, Any]] = []
        chars = 0
        for row in itertools.chain([] if first is None else [first], rows):
            if row_columns(row) != columns:
                raise ValueError(
                    "rows with and without index hints (or shifted markers) cannot share a "
                    "Parquet file"
                )
            batch.append(row)
            chars += len(row["text"])
            if len(batch) >= _PARQUET_ROWS or chars >= _PARQUET_CHARS:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
                batch, chars = [], 0
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
        writer.close()
    return count


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise ImportError(
            "Parquet needs pyarrow, which is not installed: pip install 'transnar[parquet]'"
        ) from None
    return parquet


def _file_format(path: str | os.PathLike, file_format: str | None) -> str:
    if file_format is None:
        file_format = Path(path).suffix.lstrip(".")
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file format must be one of {FILE_FORMATS}, got {file_format!r}")
    return file_format


def damaged_splits(out: str | os.PathLike) -> str:
    """Why the split files of the dataset in ``out`` are not those its manifest
    describes (a file missing, or not of its recorded SHA-256); ``''`` when they
    are. Raises nothing: a missing or unreadable manifest is a reason too."""
    out = Path(out)
    try:
        splits = json.loads((out / MANIFEST).read_text(encoding="utf-8"))["splits"]
        recorded = {name: (out / entry["file"], entry["sha256"]) for name, entry in splits.items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"its manifest {out / MANIFEST} cannot be read ({error})"
    for name, (path, sha256) in recorded.items():
        if not path.is_file():
            return f"its {name} split {path} is missing"
        if _sha256(path) != sha256:
            return f"its {name} split {path} changed since it was written"
    return ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = [
    "FILE_FORMATS",
    "GRAPHS",
    "MANIFEST",
    "damaged_splits",
    "graph_path",
    "planned_files",
    "read_rows",
    "split_path",
    "write_dataset",
    "write_rows",
]
