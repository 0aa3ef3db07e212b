"""``transnar data``: generate datasets."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path
from typing import Any

from tqdm import tqdm

from transnar import __version__
from transnar.clrs import CLRS30_ALGORITHMS, build_sampler, get_spec
from transnar.clrs.io import save_trajectories

GRAPH_EPILOG = """\
examples:
  transnar data graph --algorithm bfs --size 16 --count 1000 --seed 1 --out bfs.npz
  transnar data graph --algorithm all --size 16 --count 100 --seed 1 --out data/
  transnar data graph --algorithm dijkstra --size 16 --count 32 --seed 0 \\
      --sampler-option "p=(0.1, 0.3)" --truncate-decimals 3 --out dijkstra.npz

The .npz layout is described in docs/data-format.md; read it back with
transnar.clrs.io.load_trajectories.
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds the ``data`` command and its subcommands."""
    data = commands.add_parser("data", help="generate CLRS-30 datasets", description=__doc__)
    kinds = data.add_subparsers(dest="kind", metavar="KIND", required=True)
    graph = kinds.add_parser(
        "graph",
        help="CLRS-30 trajectories (inputs, outputs, hints) as .npz",
        description=(
            "Sample random instances of CLRS-30 algorithms with the reference "
            "distributions, run the algorithms and write their trajectories "
            "(inputs, outputs and step-by-step hints). The same seed and size give "
            "the same instances as DeepMind's clrs build_sampler(...).next()."
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


def _algorithms(text: str) -> list[str]:
    names = list(CLRS30_ALGORITHMS) if text == "all" else [a.strip() for a in text.split(",")]
    for name in names:
        get_spec(name)
    return names


def run_graph(args: argparse.Namespace) -> int:
    """Writes the trajectories of each requested algorithm."""
    algorithms = _algorithms(args.algorithm)
    options = parse_options(args.sampler_option)
    if args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    several = len(algorithms) > 1
    if several and args.out.suffix == ".npz":
        raise ValueError("--out must be a directory when several algorithms are asked for")
    targets = {a: (args.out / f"{a}.npz" if several else args.out) for a in algorithms}
    if not args.force:
        existing = [str(p) for p in targets.values() if p.exists()]
        if existing:
            raise ValueError(f"{', '.join(existing)} already exist(s); pass --force to overwrite")
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
