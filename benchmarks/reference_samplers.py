"""Times the reference dm-clrs samplers; run under the reference interpreter.

Called by ``benchmarks/samplers.py``; prints one JSON object mapping
``"<algorithm>/<size>"`` to samples per second. Each measurement builds a
dataset with ``build_sampler(algorithm, num_samples=K, length=size, seed=0)``
(which samples, runs the algorithm and batches K trajectories), doubling K
until a build takes at least the time budget.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import clrs


def throughput(algorithm, size, min_time):
    count = 1
    while True:
        start = time.perf_counter()
        clrs.build_sampler(algorithm, num_samples=count, length=size, seed=0)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or count >= 1 << 16:
            return count / elapsed
        count *= 2


def main():
    algorithms, sizes, min_time = sys.argv[1].split(","), sys.argv[2].split(","), float(sys.argv[3])
    clrs.build_sampler("bfs", num_samples=2, length=4, seed=0)  # warm up imports
    results = {}
    for algorithm in algorithms:
        for size in sizes:
            results[f"{algorithm}/{size}"] = throughput(algorithm, int(size), min_time)
            print(
                f"reference {algorithm} {size}: {results[f'{algorithm}/{size}']:.1f}/s",
                file=sys.stderr,
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
