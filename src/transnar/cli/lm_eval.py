"""``transnar lm eval`` and ``transnar lm compare``: score a trained TransNAR or
baseline on CLRS-Text, and compare result files (baseline vs TransNAR).

:func:`register_eval` adds both to the ``lm`` command group (``transnar.cli.lm``).
The handlers import torch and the library themselves, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from transnar.cli._arguments import (
    add_algorithm_subset_argument,
    add_model_arguments,
    add_positions_argument,
    add_resamples_argument,
    non_negative_int,
    pick_model,
)

EVAL_EPILOG = """\
MODEL_DIR is a model saved with TransNAR.save_pretrained (transnar.json beside
the LM's config.json), a run directory holding one in model/, or a pipeline run
(transnar run): there --arm and --model-seed pick the model, RUN/<arm>-s<seed>
(default: TransNAR's first seed), and standard error says which.

evaluation set (default: the 'transnar' preset's test split):
  sizes 10 (OOD interpolation), 12 (in distribution), 14 (OOD extrapolation);
  seed 2, disjoint from the training (0) and validation (1) seeds; --count
  samples per algorithm, size and seed (default 100; the paper's is 3,000).
  For a run directory (RUN_DIR/model saved by 'transnar lm train'), the
  options not given come from the data section of RUN_DIR/config.json: its
  algorithms, test sizes, test seed and count, training and validation seeds,
  training sizes and text format (traces, index hints). Without one, the
  algorithms are those of the model's NAR (all 30 for a baseline). The regimes
  (in distribution, OOD interpolation or extrapolation) follow the training
  sizes (--train-sizes; default TransNAR's 4-8 and 12).

decoding: greedy, KV cache, batches of one algorithm and size (the NAR runs
once per batch), stopping at the blank line or after each question's budget:
a bound on its answer's length from the algorithm and its inputs alone (never
the true answer); the model's positions (random by default, drawn per question
from --position-seed and its text, so that 'transnar generate --seed S'
reproduces a prediction) unless --positions says otherwise.

scores (TransNAR paper section 4): parse, shape, CLRS; per algorithm x size,
per family, per size and overall (unweighted means over algorithms).

writes into --out (default MODEL_DIR/eval, or RUN_DIR/eval; for a pipeline
run, RUN/<arm>-s<seed>/eval):
  results.json       settings, seeds, versions, data hash, timing, all tables,
                     per-sample predictions and scores (unless --no-samples)
  results.md         the tables
  predictions.jsonl  one row per sample ('transnar score' reads it)
  clrs_score.png, shape_score.png, parse_score.png
                     per algorithm, one panel per size (paper Figures 4-6)
  family_clrs_score.png
                     per family (paper Figure 1)
  comparison.md, comparison.json
                     with --compare: this model beside the other(s)

examples:
  transnar lm eval runs/transnar --count 200
  transnar lm eval runs/baseline/model --algorithms bfs,insertion_sort --sizes 10 12 14
  transnar lm eval runs/transnar --compare runs/baseline/eval/results.json --out cmp/
  transnar lm eval runs/pipeline-tiny --arm baseline --model-seed 1 --count 50
"""

COMPARE_EPILOG = """\
A file's label is the one its evaluation gave it (--label; a pipeline run's arm:
baseline, control, TransNAR, student); LABEL=RESULTS gives it another, e.g. to
compare variants of one arm from several runs (final=runs/a/eval/transnar-s0
all=runs/b/eval/transnar-s0). Files with the same label (e.g. one per training
seed) are averaged: the tables
show mean ± std and the plots error bars (with one file per label: the 95%
bootstrap interval over the questions). Labels are ordered baseline, control,
TransNAR, others after. For every two labels A, B (with more than four labels,
one of them baseline or TransNAR: the pairs with those only) the tables have a
'Δ CLRS A − B' column and the summary counts the algorithm x size cells where
each is ahead. When the files keep their per-sample records (the default of
'transnar lm eval'), each Δ comes with a paired test over the questions both
answered (paired by algorithm, size, seed and index, their texts checked; a
question with index hints pairs with the same question without):
the mean difference, its 95% paired bootstrap interval (--resamples
resamples of the questions, stratified by algorithm and size), '*' when it
excludes 0. A cell where the labels did not answer the same questions gets
no test, with a warning. --algorithms compares those algorithms only (each
file's tables made again from its per-sample records), e.g. the index-search
algorithms apart from the rest.

writes into --out: comparison.md, comparison.json, clrs_score.png,
shape_score.png, parse_score.png, family_clrs_score.png.

examples:
  transnar lm compare runs/baseline/eval runs/transnar/eval --out docs/results/cmp
  transnar lm compare base-s*/eval/results.json tn-s*/eval/results.json --out cmp --force
  transnar lm compare plain=runs/a/eval/transnar-s0 hints=runs/b/eval/transnar-s0 --out cmp
  transnar lm compare base-s*/eval tn-s*/eval --algorithms minimum,binary_search --out cmp
"""


def register_eval(lm_commands: argparse._SubParsersAction) -> None:
    """Adds ``eval`` and ``compare`` to the ``lm`` command group's subparsers."""
    _register_eval(lm_commands)
    _register_compare(lm_commands)


def _register_eval(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "eval",
        help="score a trained TransNAR or baseline on CLRS-Text (tables and plots)",
        description=(
            "Generate answers to CLRS-Text evaluation sets by algorithm and size, score\n"
            "them (parse, shape and CLRS scores) and write results.json, results.md,\n"
            "predictions and plots in the style of the TransNAR paper's figures."
        ),
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=None, metavar="N", help="default 10 12 14"
    )
    parser.add_argument("--count", type=int, default=None, metavar="N", help="default 100")
    parser.add_argument(
        "--algorithms",
        nargs="+",
        default=None,
        metavar="NAME",
        help="names (space- or comma-separated); 'all' for the 30",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=None, metavar="S", help="sampler seeds (default 2)"
    )
    parser.add_argument(
        "--training-seeds",
        type=int,
        nargs="*",
        default=None,
        metavar="S",
        help="seeds the model was trained on, refused for evaluation (default 0 1)",
    )
    parser.add_argument(
        "--train-sizes",
        type=int,
        nargs="*",
        default=None,
        metavar="N",
        help="sizes the model was trained on, for the regimes (default: the run's, else 4-8 12)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, metavar="B", help="questions per batch (default 32)"
    )
    add_positions_argument(parser)
    parser.add_argument(
        "--position-seed", type=int, default=0, metavar="S", help="seed of random positions"
    )
    parser.add_argument("--use-hints", action="store_true", help="questions with traces")
    parser.add_argument(
        "--index-hints",
        action="store_true",
        help="list and matrix elements preceded by their index markers (default: the run's)",
    )
    parser.add_argument("--label", default=None, help="name in tables and plots")
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        default=(),
        metavar="RESULTS",
        help="other results.json (or their directories) to plot and tabulate beside this one",
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="where the files go (see below)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing result files")
    parser.add_argument(
        "--no-samples", action="store_true", help="no per-sample records or predictions.jsonl"
    )
    parser.add_argument("--no-plots", action="store_true", help="no PNG plots")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 (default cpu)")
    parser.add_argument(
        "--threads", type=non_negative_int, default=0, help="torch CPU threads (0: default)"
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    parser.set_defaults(handler=run_eval)


def _register_compare(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "compare",
        help="compare result files (baseline, control, TransNAR): tables, paired tests, plots",
        description="Tabulate and plot several 'transnar lm eval' results side by side.",
        epilog=COMPARE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "results",
        nargs="+",
        metavar="[LABEL=]RESULTS",
        help="results.json or eval directories, each optionally under another label",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="where the files go (see below)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("--no-plots", action="store_true", help="only the tables")
    add_algorithm_subset_argument(parser, "the comparison over their questions only")
    add_resamples_argument(parser)
    parser.set_defaults(handler=run_compare)


def run_eval(args: argparse.Namespace) -> int:
    """Loads the model, evaluates it, prints the overall table, writes the files."""

    from transnar.evaluation import evaluate, load_results, write_results
    from transnar.evaluation.answering import load_model
    from transnar.evaluation.results import (
        COMPARISON_JSON,
        COMPARISON_MD,
        PLOTS,
        PREDICTIONS_JSONL,
        RESULTS_JSON,
        RESULTS_MD,
    )
    from transnar.persistence import refuse_existing
    from transnar.training.runs import resolve_device, torch_threads

    device = resolve_device(args.device)
    others = [load_results(path) for path in args.compare]
    model_dir = pick_model(args)
    if model_dir != args.model_dir and model_dir.parent != args.model_dir:
        run_dir = model_dir.parent  # RUN/<arm>-s<seed> of a pipeline run
    else:
        run_dir = args.model_dir if (args.model_dir / "model").is_dir() else None
    out = args.out or (run_dir or model_dir) / "eval"
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; it must be a directory")
    files = [RESULTS_JSON, RESULTS_MD]
    files += [] if args.no_samples else [PREDICTIONS_JSONL]
    files += [] if args.no_plots else list(PLOTS.values())
    files += [COMPARISON_JSON, COMPARISON_MD] if others else []
    refuse_existing([out / name for name in files], args.force)  # before the long part
    model, directory = load_model(model_dir, device)
    settings = _settings(args, _run_data(directory))
    with torch_threads(args.threads):
        results = evaluate(
            model,
            settings,
            label=args.label,
            path=str(directory),
            progress=False if args.no_progress else None,
        )
    paths = write_results(
        results,
        out,
        overwrite=args.force,
        include_samples=not args.no_samples,
        plots=not args.no_plots,
        compare_with=others,
    )
    overall = results.report.to_markdown().split("## Overall (mean over algorithms)\n\n", 1)[-1]
    print(f"{results.label} ({directory}), mean over algorithms:")
    print(overall, end="")
    for path in paths:
        print(f"wrote {path}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Loads the result files, prints and writes the comparison."""
    from transnar.evaluation import write_comparison
    from transnar.evaluation.results import restrict_results

    documents = [_labelled_results(item) for item in args.results]
    if args.algorithms is not None:
        documents = [restrict_results(document, args.algorithms) for document in documents]
    comparison, paths = write_comparison(
        documents, args.out, overwrite=args.force, plots=not args.no_plots, resamples=args.resamples
    )
    print(comparison.to_markdown(), end="")
    for path in paths:
        print(f"wrote {path}")
    return 0


def _labelled_results(item: str) -> dict:
    """The results of ``RESULTS`` or ``LABEL=RESULTS`` (under that label; an
    existing path with ``=`` in its name is a path)."""
    from transnar.evaluation import load_results

    label, sep, path = item.partition("=")
    if not sep or Path(item).exists():
        return load_results(item)
    if not label.strip():
        raise ValueError(f"{item!r}: the label before '=' is empty")
    return {**load_results(path), "label": label.strip()}


def _settings(args: argparse.Namespace, run: dict):
    """The evaluation settings: the options given, else the run's data config
    (``run``: its test split, training seeds and sizes), else the defaults."""
    from transnar.clrs.specs import parse_algorithms
    from transnar.evaluation import EvalSettings

    def pick(option, key, default, convert=tuple):
        if option is not None:
            return convert(option)
        if run.get(key) is not None:
            used.append(key)
            return convert(run[key])
        return default

    used: list[str] = []
    defaults = EvalSettings()
    run_seeds = [run[k] for k in ("train_seed", "val_seed") if isinstance(run.get(k), int)]
    settings = EvalSettings(
        algorithms=pick(args.algorithms and parse_algorithms(args.algorithms), "algorithms", None),
        sizes=pick(args.sizes, "test_sizes", defaults.sizes),
        seeds=pick(
            args.seeds,
            "test_seed",
            defaults.seeds,
            lambda v: (v,) if isinstance(v, int) else tuple(v),
        ),
        count=pick(args.count, "test_count", defaults.count, int),
        batch_size=args.batch_size,
        positions=args.positions,
        position_seed=args.position_seed,
        use_hints=args.use_hints or bool(pick(None, "use_hints", False, bool)),
        index_hints=args.index_hints or bool(pick(None, "index_hints", False, bool)),
        float_format=pick(None, "float_format", defaults.float_format, str),
        truncate_decimals=run.get("truncate_decimals", defaults.truncate_decimals),
        training_seeds=tuple(
            args.training_seeds
            if args.training_seeds is not None
            else run_seeds or defaults.training_seeds
        ),
        train_sizes=pick(args.train_sizes, "train_sizes", defaults.train_sizes) or None,
        keep_samples=not args.no_samples,
    )
    if used:
        print(f"from the run's config.json: {', '.join(used)}", file=sys.stderr)
    return settings


def _run_data(model_dir: Path) -> dict:
    """The data section of the training run's ``config.json`` (the section
    with ``algorithms`` and ``train_seed``), when the model sits in a run
    directory's ``model/``; ``{}`` otherwise."""
    from transnar.training.loop import CONFIG

    if model_dir.name != "model":
        return {}
    try:
        config = json.loads((model_dir.parent / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return _find_data(config) or {}


def _find_data(node) -> dict | None:
    """The first dictionary with ``algorithms`` and ``train_seed`` in a JSON document."""
    if isinstance(node, dict):
        if "algorithms" in node and "train_seed" in node:
            return node
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _find_data(child)
        if found is not None:
            return found
    return None


__all__ = ["register_eval", "run_compare", "run_eval"]
