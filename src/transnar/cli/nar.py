"""``transnar nar``: train a NAR, evaluate a checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from transnar.cli._arguments import (
    add_config_arguments,
    add_preset_arguments,
    add_trainer_run_arguments,
    non_negative_int,
    run_trainer,
    trainer_base_config,
)
from transnar.persistence import atomic_write, refuse_existing, write_json

# The handlers import transnar.nar (and so torch) themselves, so that the other
# commands and --help start without loading torch.
STEP_MODES = ("oracle", "learned", "budget")  # transnar.nar.stepping's (a test checks)

TRAIN_EPILOG = """\
presets (the nar sections of transnar run's presets, configs/PRESET.yaml):
  tiny   the default, about a minute: bfs + insertion_sort, hidden 16, sizes 4,6,
         300 steps of 8, tested at 8
  small  about 10 min on one CPU thread: bfs, insertion_sort, minimum,
         find_maximum_subarray_kadane, activity_selector, lcs_length; hidden 64,
         sizes 4,7,11, batch 16, 1,500 steps, tested at 44
  clrs30 the small NAR on all 30 algorithms, 500 steps (about 40 min)
  paper  Ibarz et al. 2022: all 30 algorithms, hidden 128, sizes 4,7,11,13,16,
         batch 32, 10,000 steps, Adam 1e-3, clipping 1.0, validation every 50 steps,
         tested at 64
  tiny, small and clrs30 run on one thread (threads=0: torch's default)

overrides (KEY=VALUE, after the options; a dotted path or any unambiguous tail):
  nar:   algorithms hidden_dim processor nb_triplet_fts use_ln hint_mode
         hint_teacher_forcing hint_repred_mode dropout encoder_init termination
         msg_passing_steps sinkhorn_steps feedback_sinkhorn_steps sinkhorn_temperature
  data:  train_sizes test_sizes val_count test_count eval_multipliers test_steps
         random_pos
  train: seed device threads precision steps batch_size learning_rate grad_clip
         eval_every eval_batch_size (the same options as lm train's train section)

The run directory gets config.json, train.log (start, validations, a progress
line every 30 s with step, loss and ETA, also on standard error when it is not a
terminal, e.g. under nohup), metrics.jsonl (loss per algorithm per step,
validation scores), checkpoints/last.pt (exact resume: model, optimizer, random
states, data position) and checkpoints/best.pt (best mean validation score,
restored at the end for testing), results.json and results.md (scores per
algorithm, size and output, in and out of distribution).

Run again, the command continues the run in RUN_DIR from its last checkpoint
(with the run's own config unless --preset or --config is given); overrides may
change only steps, device, threads, test_sizes, test_count and test_steps then.
Another config is refused: use another --out, or --force to start over.

examples:
  transnar nar train --preset tiny --out runs/tiny
  transnar nar train --preset small --out runs/small
  transnar nar train --preset paper --device cuda --out runs/paper
  transnar nar train --algorithms bfs,dfs --processor mpnn --out runs/x steps=2000
  transnar nar train --out runs/small                        # continue after a stop
  transnar nar train --out runs/small steps=2000             # continue, for longer
  transnar nar train --config runs/small/config.json --out runs/small2 seed=1
"""

EVAL_EPILOG = """\
CHECKPOINT is a .pt file or a run directory (its checkpoints/best.pt). Test sets
are drawn as in training's final test: seeds from the run's seed, the samplers'
default options, plain pos. Sizes up to an algorithm's largest training size are
in distribution.

examples:
  transnar nar eval runs/small --sizes 11 44
  transnar nar eval runs/small --sizes 11 44 --steps oracle learned budget
  transnar nar eval runs/paper/checkpoints/best.pt --sizes 16 64 --count 128 \\
      --algorithms bfs,dijkstra --out runs/paper/eval64 --device cuda
"""


NAR_EPILOG = """\
examples:
  transnar nar train --preset tiny --out runs/nar-tiny
  transnar nar train --out runs/nar-tiny steps=400           # continue, for longer
  transnar nar eval runs/nar-tiny --sizes 8 16
  transnar nar train --help                                  # presets, overrides, files
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds the ``nar`` command and its subcommands."""
    nar = commands.add_parser(
        "nar",
        help="train and evaluate Neural Algorithmic Reasoners on CLRS-30",
        description="Train a (multi-task) NAR on CLRS-30 or evaluate a NAR checkpoint.",
        epilog=NAR_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = nar.add_subparsers(dest="action", metavar="ACTION", required=True)
    _register_train(actions)
    _register_eval(actions)


def _register_train(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "train",
        help="train a NAR (writes a run directory)",
        description=(
            "Train a NAR with the protocol of Ibarz et al. (2022): a shared Triplet-GMPNN\n"
            "processor with per-algorithm encoders and decoders, one batch and one Adam\n"
            "update per algorithm per step, online data over mixed sizes, validation at\n"
            "the largest training size, and the best checkpoint tested in and out of\n"
            "distribution."
        ),
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_preset_arguments(parser, "nar")
    parser.add_argument(
        "--algorithms",
        metavar="NAMES",
        help="comma-separated algorithms, or 'all' (default: the preset's)",
    )
    parser.add_argument("--processor", help="processor, e.g. triplet_gmpnn, mpnn, pgn")
    parser.add_argument("--device", help="cpu (default) or cuda")
    add_trainer_run_arguments(parser, "runs/nar-PRESET")
    add_config_arguments(parser)
    parser.set_defaults(handler=run_train)


def _register_eval(actions: argparse._SubParsersAction) -> None:
    parser = actions.add_parser(
        "eval",
        help="evaluate a NAR checkpoint at some sizes",
        description=(
            "Score a NAR checkpoint as the reference does (per output; micro-F1 = mean\n"
            "over outputs) on fresh test sets of the given sizes; print a Markdown table."
        ),
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("checkpoint", type=Path, help="a .pt checkpoint or a run directory")
    parser.add_argument(
        "--sizes", type=int, nargs="+", required=True, metavar="N", help="test sizes"
    )
    parser.add_argument(
        "--count",
        type=int,
        default=None,
        help="samples per algorithm and size (default: the run's)",
    )
    parser.add_argument(
        "--algorithms",
        metavar="NAMES",
        help="comma-separated subset (default, or 'all': all the NAR's)",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="evaluation batch size")
    parser.add_argument(
        "--steps",
        nargs="+",
        choices=STEP_MODES,
        default=None,
        metavar="MODE",
        help="how the NAR steps, one score column each: oracle (the true trajectory length, "
        "the CLRS protocol), learned (its termination head, capped by a budget per "
        "algorithm and size: leak-free), budget (the cap alone: leak-free); default the "
        "run's data.test_steps",
    )
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--threads",
        type=non_negative_int,
        default=0,
        help="CPU threads torch may use (default: its own)",
    )
    parser.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="also write eval.json and eval.md"
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing eval files")
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    parser.set_defaults(handler=run_eval)


def train_config(args: argparse.Namespace):
    """The resolved :class:`~transnar.training.nar_config.NARTrainConfig` of ``nar train``."""
    from transnar.training.nar_config import NARTrainConfig, apply_overrides, preset

    config = trainer_base_config(args, NARTrainConfig, "nar", preset)
    named = {"algorithms": args.algorithms, "processor": args.processor, "device": args.device}
    explicit = [f"{key}={value}" for key, value in named.items() if value is not None]
    return apply_overrides(config, [*explicit, *args.overrides])


def run_train(args: argparse.Namespace) -> int:
    """Trains and prints the results table."""
    from transnar.evaluation.nar import nar_results_markdown
    from transnar.training.nar import train_nar

    result = run_trainer(args, ("nar", "train"), "nar", train_config, train_nar)
    if result is None:  # --dry-run
        return 0
    print(nar_results_markdown(result.results), end="")
    print(
        f"wrote {args.out}/ (config.json, train.log, metrics.jsonl, checkpoints/, "
        "results.json, results.md)"
    )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Evaluates a checkpoint and prints (and writes) the table."""
    from transnar.clrs.specs import ALL_ALGORITHMS_WORDS, parse_algorithms
    from transnar.evaluation.nar import nar_results_markdown
    from transnar.training.checkpoint import checkpoint_path
    from transnar.training.nar_checkpoint import build_nar, read_nar_checkpoint
    from transnar.training.nar_config import apply_overrides
    from transnar.training.nar_eval import evaluate_nar
    from transnar.training.runs import resolve_device, torch_threads

    device = resolve_device(args.device)
    path = args.checkpoint
    if path.is_dir():
        path = checkpoint_path(path, "best")
    if args.count is not None and args.count < 1:
        raise ValueError(f"--count must be at least 1, got {args.count}")
    if any(n < 2 for n in args.sizes):
        raise ValueError(f"--sizes must be at least 2, got {args.sizes}")
    outputs = [args.out / "eval.json", args.out / "eval.md"] if args.out else []
    refuse_existing(outputs, args.force)
    payload = read_nar_checkpoint(path)
    config = payload["config"]
    if args.batch_size is not None:
        config = apply_overrides(config, {"eval_batch_size": args.batch_size})
    nar = build_nar(config, payload["model"], str(path)).to(device)
    algorithms = None  # all the NAR's
    if args.algorithms and args.algorithms.strip().lower() not in ALL_ALGORITHMS_WORDS:
        algorithms = parse_algorithms(args.algorithms)
        for algorithm in algorithms:
            nar.head(algorithm)
    with torch_threads(args.threads):
        results = evaluate_nar(
            nar,
            config,
            sizes=args.sizes,
            count=args.count,
            algorithms=algorithms,
            progress=False if args.no_progress else None,
            steps=args.steps,
        )
    results["checkpoint"] = str(path)
    results["step"] = payload["step"]
    text = nar_results_markdown(results)
    print(text, end="")
    if args.out:
        write_json(outputs[0], results, overwrite=args.force)
        with atomic_write(outputs[1], overwrite=args.force, mode="w") as handle:
            handle.write(text)
        print(f"wrote {outputs[0]} and {outputs[1]}")
    return 0
