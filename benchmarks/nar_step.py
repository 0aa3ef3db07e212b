"""NAR training-step time: transnar against the reference dm-clrs, side by side.

For each algorithm, one fixed batch (``--batch`` samples at ``--size``), a
single-task NAR with the given processor and hidden size, and Adam with global
norm clipping; after a warm-up step, the median time of ``--steps`` training
steps (forward, loss, backward, clipping, update). The reference
``BaselineModel`` with the same configuration is timed in its own interpreter
(``--reference-python`` or ``$TRANSNAR_REFERENCE_PYTHON``) in the same run.

On a shared machine the speed drifts by tens of percent within minutes, so the
two are measured in ``--rounds`` alternating rounds (the reference, then
transnar, for every algorithm); the table gives each side's median over the
rounds and the median and range of the per-round ratios.

    python benchmarks/nar_step.py          # insertion_sort, bfs, dijkstra, floyd_warshall
    python benchmarks/nar_step.py --algorithms bfs --steps 5 --out docs/results/
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from _results import machine, save
from transnar import clrs
from transnar.nar import NAR, Features, NARConfig

HERE = Path(__file__).parent
DEFAULT_ALGORITHMS = "insertion_sort,bfs,dijkstra,floyd_warshall"


def ours(algorithm: str, processor: str, hidden: int, batch: int, size: int, steps: int) -> float:
    """Median seconds per training step of transnar's NAR."""
    torch.manual_seed(0)
    # no termination head: the reference has none, so both do the same work
    nar = NAR(
        NARConfig(
            algorithms=(algorithm,), processor=processor, hidden_dim=hidden, termination=False
        )
    )
    optimizer = torch.optim.Adam(nar.parameters(), lr=1e-3)
    trajectories = clrs.sample(algorithm, size, seed=0, count=batch)
    features = Features.from_trajectories(trajectories, rng=np.random.RandomState(0))

    def step() -> None:
        loss, _ = nar.loss(features, nar(features))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(nar.parameters(), 1.0)
        optimizer.step()

    step()  # warm-up
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def reference(python: str, algorithms: list[str], args: argparse.Namespace) -> dict[str, float]:
    command = [python, str(HERE / "reference_nar_step.py"), ",".join(algorithms), args.processor]
    command += [str(args.hidden), str(args.batch), str(args.size), str(args.steps)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--algorithms", default=DEFAULT_ALGORITHMS)
    parser.add_argument("--processor", default="triplet_gmpnn")
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--reference-python", default=os.environ.get("TRANSNAR_REFERENCE_PYTHON"))
    parser.add_argument("--out", type=Path, help="directory for nar_step.json and nar_step.md")
    args = parser.parse_args()
    algorithms = args.algorithms.split(",")

    meta = machine(**{k: v for k, v in vars(args).items() if k not in ("out", "reference_python")})
    meta["reference"] = bool(args.reference_python)
    ours_s = {algorithm: [] for algorithm in algorithms}
    theirs_s = {algorithm: [] for algorithm in algorithms}
    for round_index in range(args.rounds):
        theirs = reference(args.reference_python, algorithms, args) if args.reference_python else {}
        for algorithm in algorithms:
            ours_s[algorithm].append(
                ours(algorithm, args.processor, args.hidden, args.batch, args.size, args.steps)
            )
            if theirs:
                theirs_s[algorithm].append(theirs[algorithm])
            print(
                f"round {round_index + 1}",
                algorithm,
                ours_s[algorithm][-1],
                theirs.get(algorithm),
                file=sys.stderr,
            )
    rows = [summary(algorithm, ours_s[algorithm], theirs_s[algorithm]) for algorithm in algorithms]
    table = markdown(rows, args)
    print(table)
    save(args.out, "nar_step", meta, rows, table)


def summary(algorithm: str, ours_s: list[float], theirs_s: list[float]) -> dict:
    """One algorithm's times per round (seconds per step), their medians and the ratios."""
    row = {"algorithm": algorithm, "ours_s": statistics.median(ours_s), "ours_rounds": ours_s}
    if theirs_s:
        ratios = [a / b for a, b in zip(ours_s, theirs_s, strict=True)]
        row.update(
            reference_s=statistics.median(theirs_s),
            reference_rounds=theirs_s,
            ratio=statistics.median(ratios),
            ratio_min=min(ratios),
            ratio_max=max(ratios),
        )
    return row


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    with_reference = "ratio" in rows[0]
    header = "| algorithm | transnar s/step |" + (
        " reference s/step | ours / reference | range over rounds |" if with_reference else ""
    )
    lines = [
        f"Single-task `{args.processor}`, hidden {args.hidden}, batch {args.batch}, size "
        f"{args.size}; per round, the median of {args.steps} training steps after one warm-up "
        f"step; medians over {args.rounds} alternating round(s).",
        "",
        header,
        "|---|---:|" + ("---:|---:|---:|" if with_reference else ""),
    ]
    for row in rows:
        line = f"| {row['algorithm']} | {row['ours_s']:.3f} |"
        if with_reference:
            line += (
                f" {row['reference_s']:.3f} | {row['ratio']:.2f} |"
                f" {row['ratio_min']:.2f}-{row['ratio_max']:.2f} |"
            )
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
