"""``transnar data``: generate datasets."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any

from tqdm import tqdm

from transnar import __version__
from transnar.clrs import build_sampler
from transnar.clrs.io import save_trajectories
from transnar.clrs.specs import parse_algorithms
from transnar.clrs.text import FLOAT_FORMATS, dataset_files, datasets
from transnar.persistence import refuse_existing

GRAPH_EPILOG = """\
examples:
  transnar data graph --algorithm bfs --size 16 --count 1000 --seed 1 --out bfs.npz
  transnar data graph --algorithm all --size 16 --count 100 --seed 1 --out data/
  transnar data graph --algorithm dijkstra --size 16 --count 32 --seed 0 \\
      --sampler-option "p=(0.1, 0.3)" --truncate-decimals 3 --out dijkstra.npz

The .npz layout is described in docs/data-format.md; read it back with
transnar.clrs.io.load_trajectories.
"""


TEXT_EPILOG = """\
presets (rows per algorithm, size and seed; every split has the 30 algorithms):
{presets}
  transnar test sizes: {regimes}

examples:
  transnar data text --out data/text                      # the TransNAR protocol, paper scale
  transnar data text --count 100 --algorithm bfs,dfs --out small/
  transnar data text --count train=1000,val=100,test=100 --with-graphs --out data/small
  transnar data text --preset clrs-text --split test --use-hints --format parquet --out ct/
  transnar data text --split train --sizes 16 --seed 7 --count 500 --out custom/
  transnar data text --count 100 --index-hints --out hinted/   # Zhou et al. index hints
  transnar data text --count 100 --index-hints --shift-markers --split train --out shifted/
  transnar data text --preset clrs-text --float-format legacy --truncate-decimals none \\
      --out legacy/                                       # as the July 2024 public datasets

Files: OUT/<split>.jsonl (or .parquet), one row per line with the columns
text, question, answer, algo_name, length, use_hints, seed, index, float_format,
truncate_decimals (and index_hints, true, with --index-hints; and marker_offset,
where the row's markers start, with --shift-markers); OUT/manifest.json;
with --with-graphs the paired trajectories in OUT/graphs/<split>/<algorithm>-<size>.npz
(rows of that algorithm and size, in order).
Rows are grouped by algorithm, size, seed, index: shuffle when loading.
"""


DATA_EPILOG = """\
examples:
  transnar data graph --algorithm bfs --size 16 --count 1000 --seed 1 --out bfs.npz
  transnar data text --preset transnar --split test --out data/text
  transnar data text --help                     # the presets and the row format
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds the ``data`` command and its subcommands."""
    data = commands.add_parser(
        "data",
        help="generate CLRS-30 and CLRS-Text datasets",
        description="Generate datasets: CLRS-30 trajectories or CLRS-Text question-answer rows.",
        epilog=DATA_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = data.add_subparsers(dest="kind", metavar="KIND", required=True)
    graph = kinds.add_parser(
        "graph",
        help="CLRS-30 trajectories (inputs, outputs, hints) as .npz",
        description=(
            "Sample random instances of CLRS-30 algorithms with the reference\n"
            "distributions, run the algorithms and write their trajectories (inputs,\n"
            "outputs and step-by-step hints). The same seed and size give the same\n"
            "instances as DeepMind's clrs build_sampler(...).next()."
        ),
        epilog=GRAPH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    graph.add_argument(
        "--algorithm",
        required=True,
        help="an algorithm name, a comma-separated list, or 'all' for the 30 of CLRS-30",
    )
    graph.add_argument("--size", type=int, required=True, help="problem size (number of nodes)")
    graph.add_argument("--count", type=int, required=True, help="number of trajectories")
    graph.add_argument("--seed", type=int, required=True, help="sampler seed (0 <= seed < 2**32)")
    graph.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output .npz file (one algorithm) or directory (several: one <algorithm>.npz each)",
    )
    graph.add_argument(
        "--truncate-decimals",
        type=int,
        default=None,
        metavar="D",
        help="truncate float inputs to D decimals (CLRS-Text uses 3)",
    )
    graph.add_argument(
        "--sampler-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a sampler option, e.g. 'p=(0.1, 0.5)' or length_needle=-8 (repeatable)",
    )
    graph.add_argument("--force", action="store_true", help="overwrite existing output files")
    graph.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    graph.set_defaults(handler=run_graph)
    _register_text(kinds)


def _register_text(kinds: argparse._SubParsersAction) -> None:
    text = kinds.add_parser(
        "text",
        help="CLRS-Text (question, answer) datasets as JSONL or Parquet",
        description=(
            "Write the CLRS-Text splits of a preset. Each row is one random instance\n"
            "rendered as the reference CLRS-Text question and answer, byte for byte, and\n"
            "is determined by (algorithm, size, seed, index): its trajectory is the\n"
            "index-th draw of the sampler (algorithm, size, seed), as in the reference\n"
            "generators, so the graph the NAR sees is the instance the text shows."
        ),
        epilog=TEXT_EPILOG.format(
            presets=_preset_table(),
            regimes=", ".join(f"{n} {r}" for n, r in datasets.TRANSNAR_REGIMES.items()),
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    text.add_argument("--out", type=Path, required=True, help="output directory")
    text.add_argument(
        "--preset",
        default="transnar",
        choices=list(datasets.PRESETS),
        help="the splits to write (default: transnar)",
    )
    text.add_argument(
        "--split",
        default="all",
        metavar="NAMES",
        help="split name(s) of the preset, comma-separated, or 'all' (default)",
    )
    text.add_argument(
        "--algorithm",
        default="all",
        metavar="NAMES",
        help="an algorithm name, a comma-separated list, or 'all' (default)",
    )
    text.add_argument(
        "--sizes",
        metavar="SIZES",
        help="replace every algorithm's sizes, e.g. '4-8,12' (default: the preset's)",
    )
    text.add_argument(
        "--seed",
        metavar="SEEDS",
        help="replace the seeds, e.g. '7' or '3,14' (one split only; default: the preset's)",
    )
    text.add_argument(
        "--count",
        metavar="N",
        help="rows per algorithm, size and seed: N for every split, or "
        "'train=N,test=M' (default: the preset's)",
    )
    text.add_argument("--use-hints", action="store_true", help="include the traces (hints)")
    text.add_argument(
        "--index-hints",
        action="store_true",
        help="precede every list and matrix element by its index marker (a0.5 b0.7; sizes <= 52)",
    )
    text.add_argument(
        "--shift-markers",
        action="store_true",
        help="with --index-hints: start each row's markers at a letter drawn for that row "
        "(e0.5 f0.7; the row's marker_offset), so that a model trained on small sizes "
        "sees every marker; for training data (evaluations ask from 'a')",
    )
    text.add_argument(
        "--float-format",
        default="default",
        choices=list(FLOAT_FORMATS),
        help="'default' (dm-clrs 2.0.3, str()) or 'legacy' (.3g/.3f, the July 2024 datasets)",
    )
    text.add_argument(
        "--truncate-decimals",
        default="3",
        metavar="D",
        help="truncate float inputs to D decimals, or 'none' (default: 3, as the "
        "reference Hugging Face generator; the legacy datasets used none)",
    )
    text.add_argument(
        "--format",
        default="jsonl",
        choices=list(dataset_files.FILE_FORMATS),
        help="file format (parquet needs pyarrow: pip install 'transnar[parquet]')",
    )
    text.add_argument(
        "--with-graphs",
        action="store_true",
        help="also write the paired trajectories (.npz per split, algorithm and size)",
    )
    text.add_argument("--force", action="store_true", help="overwrite existing output files")
    text.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    text.add_argument(
        "--dry-run", action="store_true", help="print the splits and row counts; write nothing"
    )
    text.set_defaults(handler=run_text)


def parse_options(items: list[str]) -> dict[str, Any]:
    """``["p=(0.1, 0.2)", "chars=4"]`` -> ``{"p": (0.1, 0.2), "chars": 4}``."""
    options = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"sampler option {item!r} is not of the form KEY=VALUE")
        try:
            options[key.strip()] = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            options[key.strip()] = text.strip()
    return options


def run_graph(args: argparse.Namespace) -> int:
    """Writes the trajectories of each requested algorithm."""
    algorithms = parse_algorithms(args.algorithm)
    options = parse_options(args.sampler_option)
    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    several = len(algorithms) > 1
    if several and args.out.suffix == ".npz":
        raise ValueError("--out must be a directory when several algorithms are asked for")
    targets = {a: (args.out / f"{a}.npz" if several else args.out) for a in algorithms}
    if not args.force:
        refuse_existing(targets.values(), overwrite=False)
    # Build every sampler first, so a bad option fails before anything is written.
    samplers = {
        a: build_sampler(a, args.size, args.seed, args.truncate_decimals, **options)
        for a in algorithms
    }
    for algorithm, sampler in samplers.items():
        trajectories = [
            sampler.draw()
            for _ in tqdm(
                range(args.count),
                desc=algorithm,
                unit="traj",
                disable=args.no_progress or None,
                leave=False,
            )
        ]
        metadata = {
            "size": args.size,
            "seed": args.seed,
            "truncate_decimals": args.truncate_decimals,
            "sampler_options": {
                k: list(v) if isinstance(v, tuple) else v for k, v in options.items()
            },
            "transnar_version": __version__,
        }
        save_trajectories(targets[algorithm], trajectories, metadata, overwrite=args.force)
        print(f"wrote {len(trajectories)} {algorithm} trajectories to {targets[algorithm]}")
    return 0


def _integers(text: str, what: str) -> list[int]:
    """``"4-8,12"`` -> ``[4, 5, 6, 7, 8, 12]`` (ranges are inclusive)."""
    values = []
    for item in text.split(","):
        low, dash, high = item.strip().partition("-")
        try:
            if dash:
                if int(high) < int(low):
                    raise ValueError
                values += range(int(low), int(high) + 1)
            else:
                values.append(int(low))
        except ValueError:
            raise ValueError(
                f"{what} must be integers or ranges like '4-8,12', got {text!r}"
            ) from None
    return values


def _counts(text: str | None, names: list[str]) -> dict[str, int | None]:
    """``--count``: ``"100"`` for every split, or ``"train=100,test=10"``; ``None``
    where the preset's count stays."""
    counts: dict[str, int | None] = dict.fromkeys(names)
    if text is None:
        return counts
    if "=" not in text:
        return dict.fromkeys(names, _integer(text, "--count"))
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name.strip() not in counts:
            raise ValueError(
                f"--count names split {name.strip()!r}, which is not written ({', '.join(names)})"
            )
        counts[name.strip()] = _integer(value, f"--count of {name.strip()}")
    return counts


def _integer(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what} must be an integer, got {text!r}") from None


def _truncate_decimals(text: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    return _integer(text, "--truncate-decimals (or 'none')")


def text_splits(args: argparse.Namespace) -> list[datasets.Split]:
    """The splits ``transnar data text`` writes: the preset's, with the overrides."""
    preset = datasets.get_preset(args.preset)
    names = list(preset) if args.split == "all" else [n.strip() for n in args.split.split(",")]
    unknown = [n for n in names if n not in preset]
    if unknown or len(set(names)) != len(names):
        raise ValueError(
            f"--split {args.split!r}: preset {args.preset} has the splits {', '.join(preset)}"
        )
    if args.seed is not None and len(names) > 1:
        raise ValueError(
            "--seed replaces the seeds of one split; pick it with --split "
            "(evaluation seeds must stay disjoint from training seeds)"
        )
    algorithms = None if args.algorithm == "all" else parse_algorithms(args.algorithm)
    sizes = None if args.sizes is None else _integers(args.sizes, "--sizes")
    seeds = None if args.seed is None else _integers(args.seed, "--seed")
    counts = _counts(args.count, names)
    splits = []
    for name in names:
        if counts[name] is not None and counts[name] < 1:
            raise ValueError(f"--count must be at least 1, got {counts[name]}")
        splits.append(
            preset[name].replace(
                algorithms=algorithms, sizes=sizes, seeds=seeds, count=counts[name]
            )
        )
    return splits


def _sizes_text(split: datasets.Split) -> str:
    """``"4-8,12"``, or ``"4..64 (per algorithm)"`` when the algorithms differ."""
    tables = set(split.sizes.values())
    if len(tables) > 1:
        every = [n for sizes in tables for n in sizes]
        return f"{min(every)}..{max(every)} (per algorithm)"
    runs: list[list[int]] = []
    for n in next(iter(tables)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def _preset_table() -> str:
    lines = []
    for name, splits in datasets.PRESETS.items():
        for number, split in enumerate(splits.values()):
            seeds = ",".join(map(str, split.seeds))
            lines.append(
                f"  {name if number == 0 else '':<10} {split.name:<6} "
                f"sizes {_sizes_text(split):<26} seeds {seeds:<16} count {split.count}"
            )
    return "\n".join(lines)


def _describe(split: datasets.Split) -> str:
    return (
        f"{split.num_rows} rows: {len(split.sizes)} algorithm(s), sizes {_sizes_text(split)}, "
        f"seeds {','.join(map(str, split.seeds))}, {split.count} per algorithm, size and seed"
    )


def run_text(args: argparse.Namespace) -> int:
    """Writes the CLRS-Text splits of a preset (and their trajectories)."""
    splits = text_splits(args)
    truncate_decimals = _truncate_decimals(args.truncate_decimals)
    if args.dry_run:
        for split in splits:
            path = dataset_files.split_path(args.out, split, args.format)
            print(f"{split.name}: {_describe(split)} -> {path}")
        return 0
    try:
        manifest = dataset_files.write_dataset(
            args.out,
            splits,
            use_hints=args.use_hints,
            index_hints=args.index_hints,
            shift_markers=args.shift_markers,
            float_format=args.float_format,
            truncate_decimals=truncate_decimals,
            file_format=args.format,
            with_graphs=args.with_graphs,
            overwrite=args.force,
            preset=args.preset,
            progress=False if args.no_progress else None,
        )
    except ImportError as error:
        raise ValueError(str(error)) from None
    for name, entry in manifest["splits"].items():
        graphs = f" and {entry['graphs']['files']} graph files" if "graphs" in entry else ""
        print(f"wrote {entry['rows']} {name} rows to {args.out / entry['file']}{graphs}")
    print(f"wrote {args.out / dataset_files.MANIFEST}")
    return 0
