"""``transnar distill``: a text-only student trained on a TransNAR's answers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from transnar.cli._arguments import add_model_arguments, pick_model, read_config_file

EPILOG = """\
The teacher (a TransNAR: a saved model, a training run, or a pipeline run with
--arm and --model-seed) answers questions drawn at --sizes (the training sizes
and, since the teacher needs no labels, larger ones) from their own sampler
seed (--seed, default 3: not a training or test seed), exactly as in its
evaluation (leak-free NAR, per-question budget and positions). Its answers
replace the true ones in a CLRS-Text dataset (OUT/data: train.jsonl, val.jsonl,
manifest.json with the teacher's agreement with the truth), and a student with
no NAR trains on it (OUT/student, a run of 'transnar lm train'). Running the
command again keeps the dataset and resumes the student; a teacher trained again
in its place (other weights) answers again, and the student starts over.

With --distributions the student also learns the teacher's next-token
distributions on those answers (token-level distillation: its loss mixes the
answers' cross-entropy with the KL divergence from the teacher's distributions,
by teacher.weight, default 0.5, at teacher.temperature, default 2); the teacher
then runs beside the student in every training step. To learn a teacher's
distributions on the true answers instead, train the student on the data
itself: transnar lm train --no-nar teacher.model=TEACHER_DIR.

The student's config: the teacher's training run's config.json (when MODEL_DIR
is a training or pipeline run) or --config, with model.use_nar=false and the
distilled data; KEY=VALUE overrides follow (as for transnar lm train). Evaluate
it with 'transnar lm eval OUT/student'.

examples:
  transnar distill runs/small --out runs/distill --sizes 4 5 6 7 8 10 12
  transnar distill runs/transnar --out runs/distill --count 200 optim.epochs=1
  transnar distill runs/transnar --out runs/distill-soft --distributions teacher.weight=0.9
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds the ``distill`` command."""
    parser = commands.add_parser(
        "distill",
        help="train a text-only student on a TransNAR's answers (no NAR at inference)",
        description="Sequence-level distillation of a TransNAR into a Transformer without a NAR.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(parser, "the teacher: saved model or run")
    parser.add_argument("--out", type=Path, required=True, help="the distillation directory")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        help="question sizes (default: the teacher's training sizes)",
    )
    parser.add_argument(
        "--count",
        type=int,
        default=None,
        help="training questions per algorithm and size (default: the student's data.train_count)",
    )
    parser.add_argument(
        "--val-count",
        type=int,
        default=None,
        help="validation questions per algorithm and size (default: its data.val_count)",
    )
    parser.add_argument("--seed", type=int, default=None, help="the questions' sampler seed")
    parser.add_argument(
        "--config",
        type=Path,
        help="the student's config, JSON or YAML (default: the teacher's run's config.json)",
    )
    parser.add_argument(
        "--distributions",
        action="store_true",
        help="the student also learns the teacher's next-token distributions on its "
        "answers (token-level distillation: teacher.weight, teacher.temperature)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ... (default cpu)")
    parser.add_argument("--no-progress", action="store_true", help="do not show progress bars")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="the student's config overrides"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Writes the teacher's dataset and trains the student."""
    from transnar.evaluation.answering import load_model
    from transnar.training.distill import DistillConfig, distill
    from transnar.training.lm_config import LMTrainConfig, apply_overrides
    from transnar.training.loop import CONFIG
    from transnar.training.runs import resolve_device

    directory = pick_model(args)
    teacher, _ = load_model(directory, resolve_device(args.device))
    if getattr(teacher, "nar", None) is None:
        raise ValueError(f"{directory} holds no TransNAR (a model without a NAR is no teacher)")
    own = directory.parent / CONFIG
    source = args.config or own
    base = read_config_file(
        source, LMTrainConfig, "training config", "the student's config: use --config; ", "lm"
    )
    taught = [f"teacher.model={directory}"] if args.distributions else []
    base = apply_overrides(base, [f"train.device={args.device}", *taught, *args.overrides])
    given = {
        "sizes": args.sizes,
        "count": args.count,
        "val_count": args.val_count,
        "seed": args.seed,
    }
    config = DistillConfig(**{k: v for k, v in given.items() if v is not None})
    manifest, result = distill(
        teacher,
        base,
        config,
        args.out,
        teacher_path=str(directory),
        progress=False if args.no_progress else None,
    )
    agreement = manifest["teacher_vs_truth"]["train"]
    print(
        f"teacher's answers: {agreement['exact']:.1%} exactly right, CLRS "
        f"{agreement['clrs']:.3f}, {agreement['stopped']:.1%} ended within the budget",
        file=sys.stderr,
    )
    print(f"student: {result.run_dir} ({result.steps:,} steps, val loss {result.val_loss:.4f})")
    return 0


__all__ = ["register", "run"]
