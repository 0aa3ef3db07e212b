"""Dumps reference CLRS-Text (question, answer) pairs for transnar's parity tests.

Runs under the *reference* interpreter (dm-clrs; see the README). Reads a JSON
list of jobs from the file given as first argument and writes one JSON file per
job (a list of [question, answer]) into the directory given as second argument:

    {"name": "...", "algorithm": "bfs", "size": 16, "seed": 0, "count": 8,
     "truncate_decimals": 3, "use_hints": false, "float_format": "default"}

Samples are drawn one at a time, as the reference's Hugging Face generator does
(``build_sampler(..., num_samples=-1, track_max_steps=False)`` then
``next(batch_size=1)``). ``float_format: "legacy"`` formats with the reference
formatter as it was before January 2025 (commit dcf8643, "Add
num_decimals_in_float parameter to the data generators"): that commit changed
four float renderings from ``.3g`` / ``.3f`` to ``str()``; the legacy formatter
is rebuilt here by undoing exactly those four changes in the installed module.
"""

import inspect
import json
import os
import sys
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import clrs
from clrs._src.clrs_text import clrs_utils

# (text in dm-clrs 2.0.3, text before commit dcf8643)
_LEGACY_CHANGES = [
    (
        "join([str(scalar) for scalar in sorted_values])",
        "join([f'{scalar:.3g}' for scalar in sorted_values])",
    ),
    (
        "SEQUENCE_SEPARATOR.join([str(a) for a in x])",
        "SEQUENCE_SEPARATOR.join([f'{a:.3g}' for a in x])",
    ),
    (
        "case specs.Type.SCALAR:\n      return str(x)",
        "case specs.Type.SCALAR:\n      return f'{x:.3f}'",
    ),
    ("' '.join([str(a) for a in r])", "' '.join([f'{a:.3g}' for a in r])"),
]


def legacy_formatter():
    source = inspect.getsource(clrs_utils)
    for new, old in _LEGACY_CHANGES:
        if source.count(new) != 1:
            raise RuntimeError(f"cannot rebuild the legacy formatter: {new!r} not found once")
        source = source.replace(new, old)
    module = types.ModuleType("clrs_utils_legacy")
    exec(compile(source, "clrs_utils_legacy", "exec"), module.__dict__)
    return module


def run_job(job, out_dir, formatters):
    sampler, _ = clrs.build_sampler(
        job["algorithm"],
        num_samples=-1,
        length=job["size"],
        seed=job["seed"],
        track_max_steps=False,
        truncate_decimals=job.get("truncate_decimals"),
    )
    formatter = formatters[job.get("float_format", "default")]
    pairs = []
    for _ in range(job["count"]):
        sample = sampler.next(batch_size=1)
        pairs.append(
            list(
                formatter.format_clrs_example(
                    job["algorithm"], sample, use_hints=job.get("use_hints", False)
                )
            )
        )
    path = os.path.join(out_dir, job["name"] + ".json")
    with open(path + ".partial", "w") as f:
        json.dump(pairs, f)
    os.replace(path + ".partial", path)


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    formatters = {"default": clrs_utils, "legacy": legacy_formatter()}
    for job in jobs:
        run_job(job, sys.argv[2], formatters)


if __name__ == "__main__":
    main()
