"""Dumps reference CLRS-30 samples for transnar's parity tests.

Runs under the *reference* interpreter (a virtual environment with dm-clrs,
see the README), never under transnar's. Reads a JSON list of jobs from the
file given as first argument and writes one ``.npz`` per job into the
directory given as second argument:

    {"name": "...", "algorithm": "bfs", "size": 16, "seed": 0, "count": 8,
     "truncate_decimals": null, "postprocess": false}

Each ``.npz`` holds ``input/<probe>`` ``(K, ...)``, ``output/<probe>``
``(K, ...)``, ``hint/<probe>`` ``(T, K, ...)`` (time-major, as the reference
batches them), ``lengths`` ``(K,)`` and ``spec`` (JSON: probe -> [stage,
location, type] after any postprocessing).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import clrs
import numpy as np

# The reference examples/run.py list of algorithms whose pred_h becomes an input.
PRED_AS_INPUT = {
    "binary_search",
    "minimum",
    "find_maximum_subarray",
    "find_maximum_subarray_kadane",
    "matrix_chain_order",
    "lcs_length",
    "optimal_bst",
    "activity_selector",
    "task_scheduling",
    "naive_string_matcher",
    "kmp_matcher",
    "jarvis_march",
}


def run_job(job, out_dir):
    sampler, spec = clrs.build_sampler(
        job["algorithm"],
        num_samples=job["count"],
        length=job["size"],
        seed=job["seed"],
        truncate_decimals=job.get("truncate_decimals"),
        **job.get("options", {}),
    )
    feedback = sampler.next()
    if job.get("postprocess"):
        stream = iter([feedback])
        if job["algorithm"] in PRED_AS_INPUT:
            spec, stream = clrs.process_pred_as_input(spec, stream)
        spec, stream = clrs.process_permutations(spec, stream, True)
        feedback = next(stream)
    arrays = {"lengths": np.asarray(feedback.features.lengths)}
    for stage, points in (
        ("input", feedback.features.inputs),
        ("output", feedback.outputs),
        ("hint", feedback.features.hints),
    ):
        for point in points:
            arrays[f"{stage}/{point.name}"] = np.asarray(point.data)
    arrays["spec"] = np.array(json.dumps({k: list(v) for k, v in spec.items()}))
    # Compressed (hints are mostly zeros) and renamed into place only when complete,
    # so that the cache never holds a truncated dump.
    path = os.path.join(out_dir, job["name"] + ".npz")
    with open(path + ".partial", "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(path + ".partial", path)


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    for job in jobs:
        run_job(job, sys.argv[2])


if __name__ == "__main__":
    main()
