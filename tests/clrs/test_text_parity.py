"""CLRS-Text parity with the reference formatter: every algorithm, both trace modes,
both float formats, with and without truncation."""

from __future__ import annotations

import json

import pytest

from tests.reference import job_name, requires_reference, run_reference
from transnar import clrs
from transnar.clrs.text import format_example

pytestmark = [pytest.mark.reference, requires_reference]

# Sizes and samples per (algorithm, size, seed); traces of some algorithms grow
# quickly with the size (bridges at 14 is ~30,000 characters), so sizes stay small.
PLAN = {4: 5, 5: 5, 7: 4, 10: 3, 16: 2}
SEEDS = (0, 1)
MODES = [
    # (use_hints, float_format, truncate_decimals)
    (False, "default", 3),
    (True, "default", 3),
    (False, "default", None),
    (False, "legacy", None),
    (True, "legacy", None),
]


def _jobs(algorithm):
    return [
        {
            "algorithm": algorithm,
            "size": size,
            "seed": seed,
            "count": count,
            "truncate_decimals": truncate,
            "use_hints": hints,
            "float_format": floats,
        }
        for size, count in PLAN.items()
        for seed in SEEDS
        for hints, floats, truncate in MODES
    ]


@pytest.fixture(scope="session")
def text_dumps(reference_cache):
    jobs = [job for algorithm in clrs.CLRS30_ALGORITHMS for job in _jobs(algorithm)]
    return run_reference("dump_text.py", jobs, reference_cache, suffix=".json")


@pytest.mark.parametrize("algorithm", clrs.CLRS30_ALGORITHMS)
def test_format_example_is_byte_identical(algorithm, text_dumps):
    for job in _jobs(algorithm):
        expected = json.loads(text_dumps[job_name(job)].read_text())
        trajectories = clrs.sample(
            algorithm, job["size"], job["seed"], job["count"], job["truncate_decimals"]
        )
        for index, (trajectory, (question, answer)) in enumerate(
            zip(trajectories, expected, strict=True)
        ):
            ours = format_example(trajectory, job["use_hints"], job["float_format"])
            where = f"{algorithm} size {job['size']} seed {job['seed']} sample {index} {job}"
            assert ours[0] == question, f"question differs: {where}"
            assert ours[1] == answer, f"answer differs: {where}"
