"""Parity with the reference dm-clrs: inputs drawn, outputs and hints, spec table.

Runs only where ``TRANSNAR_REFERENCE_PYTHON`` names the reference interpreter.
The default run covers every algorithm at sizes 4..64 over several seeds; the
``slow`` variant adds many more seeds.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.reference import (
    assert_matches_reference,
    job_name,
    load_dump,
    requires_reference,
    run_reference,
)
from transnar import clrs

pytestmark = [pytest.mark.reference, requires_reference]

ALGORITHMS = [a for a in clrs.CLRS30_ALGORITHMS if a in clrs.ALGORITHMS and a in clrs.SAMPLERS]

# Sizes and the number of samples drawn at each, per seed.  The reference is
# slow at 64 for some algorithms (about one sample a second for
# matrix_chain_order), so fewer samples are drawn there.
DEFAULT_PLAN = {4: 6, 5: 6, 6: 4, 7: 4, 8: 4, 11: 3, 16: 3, 23: 2, 32: 2, 64: 1}
DEFAULT_SEEDS = (0, 1)
SLOW_PLAN = {size: 4 for size in range(4, 65)}
SLOW_SEEDS = tuple(range(2, 12))


# ``execute`` on the reference's inputs; the reference's preprocessing.
EXECUTE_PLAN, EXECUTE_SEEDS = {5: 3, 12: 2}, (7,)
PREPROCESS_PLAN, PREPROCESS_SEEDS = {6: 3}, (3,)


def _jobs(algorithms, plan, seeds, truncate_decimals):
    return [
        {
            "algorithm": a,
            "size": size,
            "seed": seed,
            "count": count,
            "truncate_decimals": truncate_decimals,
        }
        for a in algorithms
        for size, count in plan.items()
        for seed in seeds
    ]


def _check_jobs(jobs, paths):
    for job in jobs:
        dump = load_dump(paths[job_name(job)])
        ours = clrs.sample(
            job["algorithm"],
            job["size"],
            job["seed"],
            job["count"],
            truncate_decimals=job["truncate_decimals"],
        )
        assert len(ours) == job["count"]
        for index, trajectory in enumerate(ours):
            assert_matches_reference(trajectory, dump, index)


@pytest.fixture(scope="session")
def default_dumps(reference_cache):
    """One reference run for the default plan of every algorithm (then cached)."""
    jobs = [job for t in (None, 3) for job in _jobs(ALGORITHMS, DEFAULT_PLAN, DEFAULT_SEEDS, t)]
    return run_reference("dump_reference.py", jobs, reference_cache)


def _preprocess_jobs(algorithms):
    jobs = _jobs(algorithms, PREPROCESS_PLAN, PREPROCESS_SEEDS, None)
    return [{**job, "postprocess": True} for job in jobs]


@pytest.fixture(scope="session")
def execute_dumps(reference_cache):
    """The reference's trajectories for the ``execute`` tests, all algorithms in one run."""
    jobs = _jobs(ALGORITHMS, EXECUTE_PLAN, EXECUTE_SEEDS, None)
    return run_reference("dump_reference.py", jobs, reference_cache)


@pytest.fixture(scope="session")
def preprocess_dumps(reference_cache):
    """The reference's preprocessed samples, all algorithms in one run."""
    return run_reference("dump_reference.py", _preprocess_jobs(ALGORITHMS), reference_cache)


@pytest.mark.parametrize("truncate_decimals", [None, 3])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_samples_match_reference(algorithm, truncate_decimals, default_dumps):
    """Same seed and size: the same inputs, outputs and hints as the reference."""
    _check_jobs(_jobs([algorithm], DEFAULT_PLAN, DEFAULT_SEEDS, truncate_decimals), default_dumps)


@pytest.mark.slow
@pytest.mark.parametrize("truncate_decimals", [None, 3])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_samples_match_reference_many_seeds(algorithm, truncate_decimals, reference_cache):
    """Every size from 4 to 64, ten more seeds."""
    jobs = _jobs([algorithm], SLOW_PLAN, SLOW_SEEDS, truncate_decimals)
    _check_jobs(jobs, run_reference("dump_reference.py", jobs, reference_cache))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_execute_matches_reference_on_reference_inputs(algorithm, execute_dumps):
    """``execute`` on the reference's own input probes reproduces its trajectories."""
    for job in _jobs([algorithm], EXECUTE_PLAN, EXECUTE_SEEDS, None):
        dump = load_dump(execute_dumps[job_name(job)])
        for index in range(job["count"]):
            inputs = {
                k.split("/", 1)[1]: v[index] for k, v in dump.items() if k.startswith("input/")
            }
            assert_matches_reference(clrs.execute(job["algorithm"], inputs), dump, index)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_preprocessing_matches_reference(algorithm, preprocess_dumps):
    """``pred_h`` as input and the permutation transform, as the reference applies them."""
    for job in _preprocess_jobs([algorithm]):
        dump = load_dump(preprocess_dumps[job_name(job)])
        spec = json.loads(str(dump.pop("spec")))
        ours = [
            clrs.preprocess(t)
            for t in clrs.sample(job["algorithm"], job["size"], job["seed"], job["count"])
        ]
        assert {
            k: [p.stage.value, p.location.value, p.type.value] for k, p in ours[0].spec.items()
        } == spec
        for index, trajectory in enumerate(ours):
            for key, expected in dump.items():
                stage, _, name = key.partition("/")
                if stage in ("input", "output"):
                    assert np.array_equal(trajectory.probes(stage)[name], expected[index]), key


def test_spec_table_matches_reference(reference_cache):
    """Every probe's name, stage, location and type, in the reference order."""
    jobs = [
        {"algorithm": a, "size": 6, "seed": 0, "count": 1, "truncate_decimals": None}
        for a in clrs.CLRS30_ALGORITHMS
    ]
    paths = run_reference("dump_reference.py", jobs, reference_cache)
    for job in jobs:
        spec = json.loads(str(load_dump(paths[job_name(job)])["spec"]))
        ours = {
            k: [p.stage.value, p.location.value, p.type.value]
            for k, p in clrs.SPECS[job["algorithm"]].items()
        }
        assert list(ours.items()) == list(spec.items()), job["algorithm"]
