"""Sampler throughput: transnar against the reference dm-clrs, side by side.

For every algorithm and size, measures how many trajectories per second each
implementation samples, runs and batches into one padded batch:
``transnar.clrs.collate(transnar.clrs.sample(...))`` against the reference's
``build_sampler(algorithm, num_samples=K, length=size, seed=0)``. The count K
doubles until one build takes at least ``--min-time`` seconds.

The reference runs in its own interpreter (``--reference-python`` or
``$TRANSNAR_REFERENCE_PYTHON``, see the README); without it only transnar is
measured.

    python benchmarks/samplers.py                      # all 30 algorithms, sizes 16 and 64
    python benchmarks/samplers.py --algorithms bfs,dfs --sizes 16 --out results/
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from _results import machine, save
from transnar import clrs

HERE = Path(__file__).parent


def ours(algorithm: str, size: int, min_time: float) -> float:
    """Trajectories per second of transnar (sample + run + collate)."""
    count = 1
    while True:
        start = time.perf_counter()
        clrs.collate(clrs.sample(algorithm, size, seed=0, count=count))
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or count >= 1 << 16:
            return count / elapsed
        count *= 2


def reference(python: str, algorithms: list[str], sizes: list[int], min_time: float) -> dict:
    """Trajectories per second of the reference, from its own interpreter."""
    command = [python, str(HERE / "reference_samplers.py"), ",".join(algorithms)]
    command += [",".join(map(str, sizes)), str(min_time)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def markdown(rows: list[dict], sizes: list[int], with_reference: bool) -> str:
    header = "| algorithm |" + "".join(
        f" ours n={s} |" + (f" ref n={s} | ratio n={s} |" if with_reference else "") for s in sizes
    )
    lines = [header, "|---" * (1 + len(sizes) * (3 if with_reference else 1)) + "|"]
    for row in rows:
        cells = [row["algorithm"]]
        for s in sizes:
            cells.append(f"{row[f'ours/{s}']:.1f}")
            if with_reference:
                cells += [f"{row[f'reference/{s}']:.1f}", f"{row[f'ratio/{s}']:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    if with_reference:
        means = [f"{geometric_mean([r[f'ratio/{s}'] for r in rows]):.2f}x" for s in sizes]
        lines.append("| **geometric mean ratio** |" + "".join(f" | | {m} |" for m in means))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algorithms", default="all", help="comma-separated names, or 'all'")
    parser.add_argument("--sizes", default="16,64", help="comma-separated sizes")
    parser.add_argument("--min-time", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--reference-python", default=os.environ.get("TRANSNAR_REFERENCE_PYTHON"))
    parser.add_argument("--out", type=Path, help="directory for samplers.json and samplers.md")
    args = parser.parse_args()
    algorithms = (
        list(clrs.CLRS30_ALGORITHMS) if args.algorithms == "all" else args.algorithms.split(",")
    )
    sizes = [int(s) for s in args.sizes.split(",")]

    meta = machine(sizes=sizes, min_time=args.min_time, reference=bool(args.reference_python))
    theirs = (
        reference(args.reference_python, algorithms, sizes, args.min_time)
        if args.reference_python
        else {}
    )
    rows = []
    for algorithm in algorithms:
        row = {"algorithm": algorithm}
        for size in sizes:
            row[f"ours/{size}"] = ours(algorithm, size, args.min_time)
            if theirs:
                row[f"reference/{size}"] = theirs[f"{algorithm}/{size}"]
                row[f"ratio/{size}"] = row[f"ours/{size}"] / row[f"reference/{size}"]
        rows.append(row)
        print(
            algorithm, {k: round(v, 2) for k, v in row.items() if k != "algorithm"}, file=sys.stderr
        )

    table = markdown(rows, sizes, bool(theirs))
    print(table)
    save(args.out, "samplers", meta, rows, table)


if __name__ == "__main__":
    main()
