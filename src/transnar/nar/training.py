"""Multi-task training of the NAR (Ibarz et al. 2022; reference ``clrs/examples/run.py``).

One step draws one batch per algorithm and makes one Adam update per
algorithm. The processor is shared; each algorithm's encoders and decoders
only get gradients from its own batches (the other heads' gradients are
``None``, and torch's Adam leaves such parameters, and their moments, alone).
Gradients are clipped to a global norm. Every ``eval_every`` steps the NAR is
validated on fixed sets at the largest training size; the weights with the
best mean validation score are kept and, at the end, restored and tested in
and out of distribution (:mod:`transnar.nar.tasks` describes the data).

A run directory holds::

    config.json          the resolved RunConfig (+ transnar version)
    train.log            start, resumes, a progress line every 30 s (step, loss,
                         seconds per step, ETA; on standard error too when it is
                         not a terminal), validations, interruption, end
    metrics.jsonl        one line per step (loss per algorithm, seconds) and per
                         validation (score per algorithm, mean, best so far)
    tensorboard/         the same metrics as TensorBoard events (when installed)
    checkpoints/last.pt  model, optimizer, step, best score, every random state
                         and the data position: resuming from it continues
                         exactly as if the run had not stopped
    checkpoints/best.pt  the weights of the best validation
    results.json         per algorithm: validation score, test scores per size and
    results.md           per output, in and out of distribution

Example:
    >>> from transnar.nar.run_config import preset, apply_overrides
    >>> config = apply_overrides(preset("tiny"), ["steps=4"])
    >>> result = train(config, "runs/tiny", progress=False)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from transnar import __version__
from transnar._distributed import (
    World,
    all_reduce_gradients,
    all_reduce_sum,
    barrier,
    device_for,
    gather_rng_states,
    process_seed,
    restore_rng_states,
    sum_floats,
    world,
)
from transnar._files import atomic_write
from transnar._runs import (
    TENSORBOARD_DIR,
    TRAIN_LOG,
    MetricsLog,
    ProgressLog,
    log_interruption,
    prepare_run_dir,
    resolve_device,
    truncate_metrics,
    write_json,
)
from transnar._runs import check_finite as _check_finite
from transnar._runs import torch_threads as _torch_threads
from transnar.clrs.specs import SPECS
from transnar.nar.checkpoint import (
    CheckpointError,
    build_nar,
    checkpoint_path,
    read_checkpoint,
    save_checkpoint,
)
from transnar.nar.features import Features
from transnar.nar.model import NAR
from transnar.nar.run_config import RESUMABLE_CHANGES, RunConfig
from transnar.nar.stepping import check_step_mode
from transnar.nar.tasks import (
    TaskStream,
    derive_seed,
    eval_count,
    evaluate,
    evaluate_stepping,
    evaluation_batches,
    train_options,
    validation_size,
)

CONFIG = "config.json"
METRICS = "metrics.jsonl"
RESULTS = "results.json"
RESULTS_MD = "results.md"
RUN_FILES = (CONFIG, METRICS, RESULTS, RESULTS_MD, TRAIN_LOG)


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        run_dir: the run directory.
        config: the resolved config.
        steps: training steps done.
        best_step: the step of the best validation (the weights tested).
        best_score: its mean validation score over the algorithms.
        results: the content of ``results.json``.
    """

    run_dir: Path
    config: RunConfig
    steps: int
    best_step: int
    best_score: float
    results: dict


def train(
    config: RunConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
) -> TrainResult:
    """Trains a NAR, writing the run directory (see the module docstring).

    Args:
        config: the run's config (for a resumed run, the stored one, possibly
            with more steps or another device).
        run_dir: the run directory; it must be empty or absent unless
            ``resume`` or ``overwrite``.
        resume: continue from ``run_dir``'s last checkpoint.
        overwrite: start afresh in a used run directory (its run files are
            deleted first).
        progress: show a progress bar (``None``: only on a terminal).

    Returns:
        A :class:`TrainResult`.

    Raises:
        OutputExistsError: ``run_dir`` is in use and neither ``resume`` nor
            ``overwrite`` was given.
        CheckpointError: nothing to resume, or a checkpoint of another run.
        ValueError: a config the samplers reject, or an unavailable device.
    """
    run_dir = Path(run_dir)
    tc = config.train
    current = world()
    device = device_for(resolve_device(tc.device))
    if not current.is_main:
        progress = False
    algorithms = config.nar.algorithms
    with _torch_threads(tc.threads):
        streams = {a: TaskStream(a, tc.train_sizes, tc.seed, tc.random_pos) for a in algorithms}
        val_sets = {a: list(validation_batches(config, a)) for a in algorithms}

        torch.manual_seed(tc.seed)
        nar = NAR(config.nar).to(device)
        optimizer = torch.optim.Adam(nar.parameters(), lr=tc.learning_rate)
        if current.distributed:  # the same weights, but each process its own noise
            torch.manual_seed(process_seed(tc.seed, current.rank))
        state = {
            "step": 0,
            "best_score": -math.inf,
            "best_step": 0,
            "best_val": {},  # algorithm -> validation score at best_step
            "train_seconds": 0.0,
        }
        if resume:
            state = _restore(run_dir, config, nar, optimizer, streams, device)
        elif current.is_main:
            prepare_run_dir(run_dir, overwrite, RUN_FILES, ("checkpoints", TENSORBOARD_DIR))
        if current.is_main:
            write_json(run_dir / CONFIG, {"transnar_version": __version__, **config.to_dict()})
        barrier()

        bar = tqdm(
            total=tc.steps,
            initial=state["step"],
            desc="nar train",
            unit="step",
            disable=(not progress) if progress is not None else None,
            dynamic_ncols=True,
        )
        resume_step = state["step"] if resume else None
        log = ProgressLog(run_dir / TRAIN_LOG, tc.steps, state["step"], current.is_main)
        saved = state["step"] if resume else None  # the last checkpoint's step
        with (
            bar,
            MetricsLog(run_dir / METRICS, resume_step, current.is_main) as metrics,
            log,
            log_interruption(log, lambda: state["step"], lambda: saved),
        ):
            how = f"resuming from step {state['step']:,}" if resume else "starting"
            log.event(
                f"{how}: NAR ({config.nar.processor}, hidden {config.nar.hidden_dim}) on "
                f"{len(algorithms)} algorithm(s), {tc.steps:,} steps, device {device}"
            )
            while state["step"] < tc.steps:
                started = time.perf_counter()
                losses = {}
                for algorithm in algorithms:
                    features = streams[algorithm].next_batch(tc.batch_size)
                    features = shard_features(features, current).to(device)
                    losses[algorithm] = train_step(nar, optimizer, features, tc.grad_clip)
                    _check_finite(losses[algorithm], algorithm, state["step"] + 1)
                seconds = time.perf_counter() - started
                state["step"] += 1
                state["train_seconds"] += seconds
                metrics.log({"step": state["step"], "loss": losses, "seconds": seconds})
                bar.update(1)
                bar.set_postfix(loss=f"{sum(losses.values()) / len(losses):.3f}", refresh=False)

                validate = state["step"] % tc.eval_every == 0 or state["step"] == tc.steps
                rng = gather_rng_states(device) if validate else None  # every process's
                if validate and current.is_main:  # the others go on, and wait for it
                    scores = {a: evaluate(nar, val_sets[a])["score"] for a in algorithms}
                    mean = sum(scores.values()) / len(scores)
                    improved = mean > state["best_score"]
                    if improved:
                        state["best_score"], state["best_step"] = mean, state["step"]
                        state["best_val"] = scores
                        # best before last: a crash between them leaves a best
                        # from the future that the resumed run rewrites.
                        save_checkpoint(
                            checkpoint_path(run_dir, "best"),
                            config,
                            state["step"],
                            nar.state_dict(),
                        )
                    _save_last(run_dir, config, nar, optimizer, streams, state, rng)
                    saved = state["step"]
                    record = {"step": state["step"], "val": scores, "val_mean": mean}
                    metrics.log({**record, "best": improved, "best_step": state["best_step"]})
                    log.event(
                        f"step {state['step']:,}: validation score {mean:.3f} (best "
                        f"{state['best_score']:.3f} at step {state['best_step']:,}); checkpoint"
                    )
                    bar.set_postfix(
                        loss=f"{sum(losses.values()) / len(losses):.3f}",
                        val=f"{mean:.3f}",
                        best=f"{state['best_score']:.3f}",
                        refresh=False,
                    )
                best = state["best_score"]
                best_text = f", best val {best:.3f}" if math.isfinite(best) else ""
                log.step(
                    state["step"],
                    f"loss {sum(losses.values()) / len(losses):.3f}{best_text}, "
                    f"{state['train_seconds'] / state['step']:.2f} s/step",
                    force=state["step"] == tc.steps,
                )
            log.event(f"training done at step {state['step']:,}; testing the best weights")

        if current.is_main:
            results = _test_best(run_dir, config, state, device, progress)
        barrier()
        if not current.is_main:
            results = json.loads((run_dir / RESULTS).read_text())
    return TrainResult(
        run_dir, config, results["steps"], results["best_step"], results["best_val_score"], results
    )


def _test_best(
    run_dir: Path, config: RunConfig, state: dict, device: torch.device, progress: bool | None
) -> dict:
    """Restores the best weights, tests them, writes ``results.json`` and
    ``results.md``; the results."""
    best = read_checkpoint(checkpoint_path(run_dir, "best"))
    if best["step"] != state["best_step"]:
        raise CheckpointError(
            f"{checkpoint_path(run_dir, 'best')} is from step {best['step']}, but the "
            f"run's best validation was at step {state['best_step']}"
        )
    nar = build_nar(config, best["model"], "best checkpoint").to(device)
    results = evaluate_nar(nar, config, progress=progress)
    for algorithm, score in state["best_val"].items():
        results["algorithms"][algorithm]["validation_score"] = score
    results.update(
        steps=state["step"],
        best_step=state["best_step"],
        best_val_score=state["best_score"],
        train_seconds=state["train_seconds"],
        seconds_per_step=state["train_seconds"] / max(state["step"], 1),
    )
    write_json(run_dir / RESULTS, results)
    with atomic_write(run_dir / RESULTS_MD, overwrite=True, mode="w") as handle:
        handle.write(results_markdown(results))
    return results


def train_step(
    nar: NAR, optimizer: torch.optim.Optimizer, features: Features, grad_clip: float
) -> float:
    """One Adam update on one algorithm's batch; returns the loss.

    Gradients are reset to ``None`` first, so the heads of other algorithms
    get none and Adam does not touch them. In data-parallel training
    ``features`` is this process's share of the global batch: each loss term is
    divided by its global element count and the gradients (and the loss
    returned) are summed over the processes, which makes the update the one of
    the global batch.
    """
    distributed = world().distributed
    optimizer.zero_grad(set_to_none=True)
    output = nar(features)
    loss, _ = nar.loss(features, output, all_reduce_sum if distributed else None)
    loss.backward()
    all_reduce_gradients(nar.parameters())
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(
            [p for p in nar.parameters() if p.grad is not None], grad_clip
        )
    optimizer.step()
    return sum_floats([float(loss.detach())])[0]


def shard_features(features: Features, current: World) -> Features:
    """This process's rows of a global batch (all of it in a single process):
    ``rank, rank + size, ...``, with the global batch's number of steps.

    Raises:
        ValueError: fewer rows than processes.
    """
    if not current.distributed:
        return features
    if features.batch_size < current.size:
        raise ValueError(
            f"a batch of {features.batch_size} cannot be shared by {current.size} processes"
        )
    return features.rows(current.rows(features.batch_size, features.lengths.device))


def validation_batches(config: RunConfig, algorithm: str) -> Iterator[Features]:
    """The fixed validation set of ``algorithm``: the largest training size,
    the training sampler options, seeds disjoint from training."""
    tc = config.train
    size = validation_size(algorithm, tc.train_sizes)
    return evaluation_batches(
        algorithm,
        size,
        derive_seed(tc.seed, algorithm, "val", size),
        eval_count(algorithm, tc.val_count, tc.eval_multipliers),
        tc.eval_batch_size,
        train_options(algorithm, size),
    )


def evaluate_nar(
    nar: NAR,
    config: RunConfig,
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
            then ``config.train.test_sizes``).
        count: samples per algorithm and size (default ``test_count``, times
            the reference's multipliers when ``eval_multipliers``).
        algorithms: default: all the NAR's.
        progress: show a progress bar (``None``: only on a terminal).
        steps: the step modes to test with (default ``train.test_steps``);
            the first gives ``scores`` and ``mean``.

    Returns:
        ``{"algorithms": {name: {"family", "validation_size", "test": {size:
        {"in_distribution", "count", "seed", "scores", "steps": {mode:
        {"scores", "stop_accuracy", "stop_error"}}}}}}, "mean": {size: mean
        score}, "mean_by_steps": {mode: {size: mean score}}, "step_modes": [modes],
        ...}``; test sets use the samplers' default options.
    """
    tc = config.train
    modes = list(steps or tc.test_steps)
    for mode in modes:
        check_step_mode(mode, "steps")
    algorithms = list(algorithms or config.nar.algorithms)
    jobs = []
    for algorithm in algorithms:
        nar.head(algorithm)
        in_size = validation_size(algorithm, tc.train_sizes)
        wanted = [in_size, *tc.test_sizes] if sizes is None else list(sizes)
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
            else eval_count(algorithm, tc.test_count, tc.eval_multipliers)
        )
        by_mode = {}
        for mode in modes:
            batches = evaluation_batches(algorithm, size, seed, n, tc.eval_batch_size)
            scores, stops = evaluate_stepping(nar, batches, mode)
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


def results_markdown(results: dict) -> str:
    """``results.md``: a table of scores per algorithm and size, then per output."""
    table = results["algorithms"]
    sizes = list(results["mean"])
    lines = ["# NAR results", ""]
    if "best_step" in results:
        lines += [
            f"Best validation (mean over algorithms) {results['best_val_score']:.4f} at step "
            f"{results['best_step']} of {results['steps']}; "
            f"{results['seconds_per_step']:.3f} s per training step.",
            "",
        ]
    lines += [
        "Scores (micro-F1 as in CLRS: mean over the outputs of per-output scores over the "
        "whole test set); sizes marked * are in distribution"
        + ("; val: the best checkpoint's validation score." if "best_step" in results else "."),
        "",
    ]

    def label(size: str) -> str:
        marks = {e["test"][size]["in_distribution"] for e in table.values() if size in e["test"]}
        return f"n={size}" + ("*" if marks == {True} else "" if marks == {False} else " (*)")

    val = any("validation_score" in entry for entry in table.values())
    header = ["algorithm", "family", *(["val"] if val else []), *(label(s) for s in sizes)]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|---|---|" + "---:|" * (len(header) - 2))
    for name, entry in table.items():
        cells = [f"{entry['validation_score']:.3f}"] if val else []
        cells += [_cell(entry["test"].get(s), "score") for s in sizes]
        lines.append(f"| {name} | {entry['family']} | " + " | ".join(cells) + " |")
    means = ([f"{results['best_val_score']:.3f}"] if val else []) + [
        f"{results['mean'][s]:.3f}" for s in sizes
    ]
    lines.append("| **mean** | | " + " | ".join(means) + " |")
    lines += _stepping_table(results, sizes, label)
    lines += ["", "## Per output", ""]
    lines.append("| algorithm | output | " + " | ".join(label(s) for s in sizes) + " |")
    lines.append("|---|---|" + "---:|" * len(sizes))
    for name, entry in table.items():
        outputs = [k for k in next(iter(entry["test"].values()))["scores"] if k != "score"]
        for output in outputs:
            cells = [_cell(entry["test"].get(s), output) for s in sizes]
            lines.append(f"| {name} | {output} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _stepping_table(results: dict, sizes: list[str], label) -> list[str]:
    """The scores under each step mode (and where a leak-free NAR stopped),
    when the results have more than one mode."""
    modes = results.get("step_modes", [])
    if len(modes) < 2:
        return []
    lines = [
        "",
        "## Stepping: leak-free against oracle",
        "",
        "Scores when the NAR stops at the true trajectory length (oracle, the CLRS "
        "protocol) and when it decides itself (learned: its termination head, capped by a "
        "step budget per algorithm and size; budget: the cap alone). stop: the share of "
        "samples a leak-free mode stopped at their true last step.",
        "",
    ]
    header = ["algorithm", "size", *modes]
    leak_free = [m for m in modes if m != "oracle"]
    header += [f"stop ({m})" for m in leak_free]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|---|---|" + "---:|" * (len(header) - 2))
    for name, entry in results["algorithms"].items():
        for size in sizes:
            test = entry["test"].get(size)
            if test is None or "steps" not in test:
                continue
            cells = [f"{test['steps'][m]['scores']['score']:.3f}" for m in modes]
            cells += [f"{test['steps'][m]['stop_accuracy']:.2f}" for m in leak_free]
            lines.append(f"| {name} | {label(size)} | " + " | ".join(cells) + " |")
    lines += ["", "Mean over algorithms: " + _means_line(results, sizes, modes, label) + "."]
    return lines


def _means_line(results: dict, sizes: list[str], modes: list[str], label) -> str:
    by_steps = results["mean_by_steps"]
    return "; ".join(
        f"{label(s)}: " + ", ".join(f"{m} {by_steps[m][s]:.3f}" for m in modes) for s in sizes
    )


def _cell(entry: dict | None, key: str) -> str:
    return "" if entry is None else f"{entry['scores'][key]:.3f}"


def _save_last(
    run_dir: Path,
    config: RunConfig,
    nar: NAR,
    optimizer: torch.optim.Optimizer,
    streams: dict[str, TaskStream],
    state: dict,
    rng: list[dict[str, torch.Tensor]],
) -> None:
    train_state = {
        **state,
        "data": {a: s.state_dict() for a, s in streams.items()},
        "rng": rng[0],
        "rng_processes": rng,
    }
    save_checkpoint(
        checkpoint_path(run_dir, "last"),
        config,
        state["step"],
        nar.state_dict(),
        optimizer.state_dict(),
        train_state,
    )


def _restore(
    run_dir: Path,
    config: RunConfig,
    nar: NAR,
    optimizer: torch.optim.Optimizer,
    streams: dict[str, TaskStream],
    device: torch.device,
) -> dict:
    """Loads the last checkpoint into the model, optimizer and streams; the train state."""
    path = checkpoint_path(run_dir, "last")
    if not path.exists():
        raise CheckpointError(f"nothing to resume: {path} does not exist")
    payload = read_checkpoint(path)
    differences = [k for k in payload["config"].differences(config) if k not in RESUMABLE_CHANGES]
    if differences:
        raise CheckpointError(
            f"{path} is from a run with another config (differs in {', '.join(differences)}); "
            f"only {', '.join(k.split('.')[1] for k in RESUMABLE_CHANGES)} may change on resume"
        )
    if "train_state" not in payload or "optimizer" not in payload:
        raise CheckpointError(f"{path} holds no training state to resume from")
    try:
        nar.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        train_state = payload["train_state"]
        for algorithm, stream in streams.items():
            stream.load_state_dict(train_state["data"][algorithm])
        restore_rng_states(train_state, device)
    except (KeyError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"{path} does not fit this run: {error}") from None
    keys = ("step", "best_score", "best_step", "best_val", "train_seconds")
    state = {k: train_state[k] for k in keys}
    if world().is_main:
        truncate_metrics(run_dir / METRICS, state["step"])
    return state
