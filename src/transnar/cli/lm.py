"""``transnar lm``: train a TransNAR or its baseline on CLRS-Text (and evaluate it).

The ``lm`` command group is built in :func:`register`; each subcommand adds
itself to it: :func:`register_train` (``lm train``, here) and
:func:`register_evaluation` (the evaluation module's subcommands,
:mod:`transnar.cli.lm_eval`).
"""

from __future__ import annotations

import argparse

from transnar.cli._arguments import (
    add_config_arguments,
    add_preset_arguments,
    add_trainer_run_arguments,
    run_trainer,
    trainer_base_config,
)

# The handlers import torch (through transnar.training) themselves, so that the
# other commands and --help start without loading it.

TRAIN_EPILOG = """\
presets (the lm sections of transnar run's presets, configs/PRESET.yaml):
  tiny   the default, about a minute: bfs + insertion_sort at sizes 4,5 (256
         examples each), d_model 64, 2 layers, L_max 256, batch 8, 8 epochs (1,024
         steps); NAR: the tiny preset's, trained first into RUN_DIR/nar unless
         --nar is given
  small  1-2 h on a CPU: bfs, insertion_sort, minimum,
         find_maximum_subarray_kadane, activity_selector, lcs_length at sizes 4-8
         (3,000 examples each), d_model 128, 4 layers, L_max 1024, batch 32,
         2 epochs; NAR: the small preset's (or --nar runs/nar-small);
         evaluate at 8 (in distribution), 10, 12
  clrs30 the small model on all 30 algorithms at sizes 4-8 and 12 (400 each),
         L_max 2048, one epoch; evaluate at 10, 12, 14
  paper  Bounsi et al. 2024: the 30 algorithms at sizes 4-8 and 12 (7,000 each),
         6 layers, d_model 640, 10 heads, L_max 8192, batch 256, Adam 1e-4,
         7 epochs, bf16 on CUDA; NAR: pass --nar (the paper NAR otherwise)
  tiny, small and clrs30 run on one thread (threads=0: torch's default)

overrides (KEY=VALUE after the options; a dotted path or any unambiguous tail):
  model:  use_nar xattn_every xattn_heads memory (final|lockstep)
          nar_steps (learned: leak-free, the default | budget: leak-free |
          oracle: the true trajectory length, CLRS protocol, reads the answer's
          length) memory_source (question | decoy: the control | blank: zeros,
          a second control)
  model.lm: d_model n_layers n_heads d_ff mlp dropout max_position
          random_positions random_positions_eval rope_base init_std ...
          pretrained (a Hugging Face causal LM id or directory, with its own
          tokenizer and positions; needs pip install 'transnar[hf]')
  nar:    checkpoint preset train_steps cache_memory
  data:   algorithms train_sizes train_count train_seed val_sizes val_count
          val_seed test_sizes test_count test_seed use_hints float_format
          truncate_decimals max_tokens bucket_batches path
          index_hints (true: every list and matrix element preceded by its
          index marker, Zhou et al. 2023; a data.path dataset must match)
  optim:  min_learning_rate warmup_steps weight_decay beta1 beta2 eps grad_accum
          epochs
  train:  seed device threads precision steps (0: as many as epochs take)
          batch_size learning_rate grad_clip eval_every eval_batch_size (the same
          options as nar train's train section)
  teacher: model (a saved TransNAR or its training run: token-level
          distillation, the model also learns its next-token distributions;
          none by default) weight (the KL term's share of the loss, default
          0.5) temperature (default 2)

The run directory gets config.json (the resolved config), train.log (start,
validations, a progress line every 30 s with step, loss, tokens/s and ETA, also
on standard error when it is not a terminal, e.g. under nohup), metrics.jsonl
(loss, learning rate, gradient norm, tokens/s per step; validation loss per
algorithm), checkpoints/last.pt (exact resume: weights, optimizer, random states,
data position), nar/ (the NAR, when trained for the run), model/ (the final
model: TransNAR.from_pretrained) and summary.json.

Run again, the command continues the run in RUN_DIR from its last checkpoint
(with the run's own config unless --preset or --config is given); overrides may
change only device, threads, eval_every, eval_batch_size, nar.checkpoint (if
it holds the same NAR), data.path and teacher.model (if they hold the same
examples and teacher) then. Another config is refused: use another --out, or
--force to start over.

examples:
  transnar lm train --preset tiny --out runs/tiny
  transnar lm train --preset tiny --no-nar --out runs/tiny-baseline
  transnar lm train --preset tiny --no-nar --out runs/tiny-student \
      teacher.model=runs/tiny
  transnar nar train --preset small --out runs/nar-small
  transnar lm train --preset small --nar runs/nar-small --out runs/transnar-small
  transnar lm train --preset small --no-nar --out runs/baseline-small
  transnar lm train --preset small --nar runs/nar-small --control --out runs/control-small
  transnar lm train --preset paper --nar runs/nar-paper --device cuda --out runs/paper
  transnar lm train --out runs/transnar-small                     # continue after a stop
"""


LM_EPILOG = """\
examples:
  transnar lm train --preset tiny --out runs/transnar-tiny
  transnar lm train --preset tiny --no-nar --out runs/baseline-tiny
  transnar lm eval runs/transnar-tiny --count 50
  transnar lm compare runs/baseline-tiny/eval runs/transnar-tiny/eval --out runs/cmp
  transnar lm train --help                                   # presets, overrides, files
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds the ``lm`` command group and its subcommands."""
    lm = commands.add_parser(
        "lm",
        help="train (and evaluate) TransNAR and its Transformer baseline on CLRS-Text",
        description=(
            "Train a TransNAR, or the Transformer-only baseline, on CLRS-Text; evaluate\n"
            "and compare them."
        ),
        epilog=LM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = lm.add_subparsers(dest="action", metavar="ACTION", required=True)
    register_train(actions)
    register_evaluation(actions)


def register_evaluation(actions: argparse._SubParsersAction) -> None:
    """Adds the evaluation's subcommands (``lm eval``, ``lm compare``; :mod:`~.lm_eval`)."""
    from transnar.cli import lm_eval

    lm_eval.register_eval(actions)


def register_train(actions: argparse._SubParsersAction) -> None:
    """Adds ``lm train``."""
    parser = actions.add_parser(
        "train",
        help="train a TransNAR or the baseline (writes a run directory)",
        description=(
            "Train a decoder-only Transformer on CLRS-Text, cross-attending to a frozen\n"
            "NAR's embeddings of the same instances (TransNAR) or not (--no-nar: the\n"
            "baseline). Answer-only loss at random positions, AdamW with warm-up and\n"
            "cosine decay, gradient clipping, validation loss and checkpoints every\n"
            "eval_every steps, exact resume; the final model is saved in RUN_DIR/model."
        ),
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_preset_arguments(parser, "lm")
    nar = parser.add_mutually_exclusive_group()
    nar.add_argument(
        "--nar",
        metavar="CHECKPOINT",
        help="the frozen NAR: a NAR checkpoint (.pt) or run directory (default: train "
        "one with the preset's NAR preset into RUN_DIR/nar)",
    )
    nar.add_argument("--no-nar", action="store_true", help="train the Transformer-only baseline")
    parser.add_argument(
        "--control",
        action="store_true",
        help="train the control: TransNAR's architecture and parameters, whose memory is "
        "the NAR's memory of another instance of the same algorithm and size "
        "(model.memory_source=decoy)",
    )
    parser.add_argument("--device", help="cpu (default) or cuda")
    add_trainer_run_arguments(parser, "runs/transnar-PRESET or runs/baseline-PRESET")
    add_config_arguments(parser)
    parser.set_defaults(handler=run_train)


def train_config(args: argparse.Namespace):
    """The resolved :class:`~transnar.training.LMTrainConfig` of ``transnar lm train``."""
    from transnar.training.lm_config import LMTrainConfig, apply_overrides, preset

    config = trainer_base_config(args, LMTrainConfig, "lm", preset)
    named = []
    if args.nar is not None:
        named += [f"nar.checkpoint={args.nar}", "model.use_nar=true"]
    if args.no_nar:
        named.append("model.use_nar=false")
    if args.control:
        if args.no_nar:
            raise ValueError("--control reads a NAR's memory: it cannot go with --no-nar")
        named += ["model.use_nar=true", "model.memory_source=decoy"]
    if args.device is not None:
        named.append(f"train.device={args.device}")
    return apply_overrides(config, [*named, *args.overrides])


def run_train(args: argparse.Namespace) -> int:
    """Trains and prints a summary."""
    from transnar.training.lm import train_lm

    name = "baseline" if args.no_nar else "transnar"
    result = run_trainer(args, ("lm", "train"), name, train_config, train_lm)
    if result is None:  # --dry-run
        return 0
    s = result.summary
    print(
        f"{s['model']}: {s['steps']} steps ({s['epochs']:.2f} epochs, {s['tokens']:,} tokens, "
        f"{s['tokens_per_second']:,.0f} tokens/s); train loss {s['train_loss']:.4f}, "
        f"validation loss {s['val_loss']:.4f}"
    )
    print(
        f"wrote {args.out}/ (config.json, train.log, metrics.jsonl, checkpoints/, model/, "
        "summary.json)"
    )
    return 0
