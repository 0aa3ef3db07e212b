"""The NAR's test, in and out of distribution: the content of ``results.json``.

Each algorithm is tested at its largest training size and at the test sizes,
on fixed sets (seeds derived from the run's seed, disjoint from training and
validation), with each step mode asked for (:mod:`transnar.nar.stepping`): the
true number of steps, the NAR's own stop, or a budget. The trainer runs it on
its best weights at the end (:func:`~transnar.training.nar.train_nar`);
``transnar nar eval`` on any saved NAR.
"""

from __future__ import annotations

from collections.abc import Sequence

from tqdm import tqdm

from transnar import __version__
from transnar.clrs.specs import SPECS
from transnar.evaluation.nar import score_nar_stepping
from transnar.nar.model import NAR
from transnar.nar.stepping import check_step_mode
from transnar.training.nar_config import NARTrainConfig
from transnar.training.nar_data import derive_seed, eval_count, evaluation_batches, validation_size


def evaluate_nar(
    nar: NAR,
    config: NARTrainConfig,
    sizes: Sequence[int] | None = None,
    count: int | None = None,
    algorithms: Sequence[str] | None = None,
    progress: bool | None = None,
    steps: Sequence[str] | None = None,
) -> dict:
    """Tests ``nar`` in and out of distribution; the content of ``results.json``.

    Args:
        nar: the NAR (on its device).
        config: the run's config: its seed gives the test seeds, its training
            sizes say what is in distribution.
        sizes: test sizes (default: each algorithm's largest training size,
            then ``config.data.test_sizes``).
        count: samples per algorithm and size (default ``test_count``, times
            the reference's multipliers when ``eval_multipliers``).
        algorithms: default: all the NAR's.
        progress: show a progress bar (``None``: only on a terminal).
        steps: the step modes to test with (default ``data.test_steps``);
            the first gives ``scores`` and ``mean``.

    Returns:
        ``{"algorithms": {name: {"family", "validation_size", "test": {size:
        {"in_distribution", "count", "seed", "scores", "steps": {mode:
        {"scores", "stop_accuracy", "stop_error"}}}}}}, "mean": {size: mean
        score}, "mean_by_steps": {mode: {size: mean score}}, "step_modes": [modes],
        ...}``; test sets use the samplers' default options.
    """
    tc, data = config.train, config.data
    modes = list(steps or data.test_steps)
    for mode in modes:
        check_step_mode(mode, "steps")
    algorithms = list(algorithms or config.nar.algorithms)
    jobs = []
    for algorithm in algorithms:
        nar.head(algorithm)
        in_size = validation_size(algorithm, data.train_sizes)
        wanted = [in_size, *data.test_sizes] if sizes is None else list(sizes)
        for size in dict.fromkeys(wanted):
            jobs.append((algorithm, size, in_size))
    table: dict[str, dict] = {}
    for algorithm, size, in_size in tqdm(
        jobs, desc="nar test", unit="set", disable=(not progress) if progress is not None else None
    ):
        seed = derive_seed(tc.seed, algorithm, "test", size)
        n = (
            count
            if count is not None
            else eval_count(algorithm, data.test_count, data.eval_multipliers)
        )
        by_mode = {}
        for mode in modes:
            batches = evaluation_batches(algorithm, size, seed, n, tc.eval_batch_size)
            scores, stops = score_nar_stepping(nar, batches, mode)
            by_mode[mode] = {"scores": scores, **stops}
        entry = table.setdefault(
            algorithm,
            {"family": SPECS[algorithm].family.value, "validation_size": in_size, "test": {}},
        )
        entry["test"][str(size)] = {
            "in_distribution": size <= in_size,
            "count": n,
            "seed": seed,
            "scores": by_mode[modes[0]]["scores"],
            "steps": by_mode,
        }
    all_sizes = list(dict.fromkeys(s for entry in table.values() for s in entry["test"]))
    by_steps = {}
    for mode in modes:
        by_steps[mode] = {}
        for size in all_sizes:
            values = [
                e["test"][size]["steps"][mode]["scores"]["score"]
                for e in table.values()
                if size in e["test"]
            ]
            by_steps[mode][size] = sum(values) / len(values)
    return {
        "transnar_version": __version__,
        "config": config.to_dict(),
        "algorithms": table,
        "step_modes": modes,
        "mean": by_steps[modes[0]],
        "mean_by_steps": by_steps,
    }


__all__ = ["evaluate_nar"]
