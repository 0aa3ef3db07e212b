"""``transnar run``: the whole pipeline in one command (:mod:`transnar.pipeline`)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from transnar.cli._arguments import (
    add_config_arguments,
    add_preset_arguments,
    command_line,
    on_interrupt,
)

# The handler imports the pipeline (and so torch) itself, so that --help is fast.

EPILOG = """\
stages (each skipped when its output exists and its config is unchanged):
  data                 the CLRS-Text train and val splits of lm.data, written once
                       into RUN/data; every language model reads them
  nar                  the NAR pre-trained on CLRS-30 (section nar), into RUN/nar
  baseline-s<seed>     the Transformer baseline, into RUN/baseline-s<seed>
  transnar-s<seed>     TransNAR: the same model, data, steps and seed, cross-attending
                       to the frozen NAR, into RUN/transnar-s<seed>
  distill-s<seed>      with the student arm (arms=...,student): that TransNAR answers
                       the distill section's questions, into RUN/distill-s<seed>
  student-s<seed>      the student: the baseline's model trained on those answers,
                       no NAR (distillation), into RUN/student-s<seed>
  student-soft-s<seed> with that arm: the baseline's model trained on RUN/data and
                       that TransNAR's next-token distributions (lm.teacher)
  eval-<model>-s<seed> each answers lm.data's test split (test_sizes, test_count,
                       test_seed) in and out of distribution, into RUN/eval/
  report               RUN/report.md and RUN/report.html (transnar report)

A killed run continues where it stopped when run again (the trainers resume
exactly from their last checkpoint); after Ctrl-C the command prints how. A
stage whose config changed is refused: use a new --out, or --force to re-run it
and the stages that depend on it. Device and thread changes are allowed. A
stage whose outputs were modified or deleted runs again (its line says why).
--restart STAGE starts a stage over, e.g. when its checkpoint is truncated or
corrupt and it cannot resume (the error says so); the stages that read it run
again if its outputs change. --plan prints what a run with the same options
would do with each stage (skip, resume or run, and why) and the time left.

Progress: each stage prints a line as it starts and ends, with an estimate of
the time left once stages like the remaining ones are done; the trainers write
RUN/<stage>/train.log and, when standard error is not a terminal (nohup, a
redirection), print a progress line (step, loss, throughput, ETA) every 30 s.

--jobs K runs up to K stages at once, each as soon as the stages it reads are
done (the models of every arm and seed once data and nar are: on an idle 2-core
CPU, --jobs 2 with threads=1 trains two at once). Each runs in its own process
(transnar run --only STAGE), its output in RUN/logs/STAGE.log; the command
prints a line as each starts and ends. If one fails the others are stopped and
the command names it and its log; Ctrl-C or SIGTERM stops them all, and running
the command again resumes them. Not with torchrun.

presets (each defined once, in configs/PRESET.yaml; their nar and lm sections are
the presets of nar train and lm train):
  tiny   the default, 1-2 minutes on a CPU: bfs + insertion_sort; NAR hidden
         16, 300 steps; LMs d_model 64, 2 layers, 256 examples at sizes 4 and 5,
         8 epochs (1,024 steps); evaluation at 5 (in distribution) and 7 (OOD),
         32 questions each
  small  about 7 h on a 2-core CPU with --jobs 2: 6 algorithms of 6 families;
         the small NAR preset with 1,500 steps; the small LM preset (d_model 128,
         4 layers, sizes 4-8, 3,000 examples each, 2 epochs); baseline, control
         and TransNAR x 3 seeds; evaluation at 8 (in distribution), 10, 12, 100
         questions each, with paired tests
  clrs30 the paper's protocol on all 30 algorithms, for a 2-core CPU: about 2.5 h
         for one seed with --jobs 2; the small NAR (500 steps) and LMs (d_model
         128, 4 layers), sizes 4-8 and 12, 400 examples each, one epoch; baseline,
         control and TransNAR; evaluation at 10, 12, 14, 50 questions each
  paper  Bounsi et al. 2024 on GPUs (--device cuda): the 30 algorithms; the paper
         NAR (hidden 128, 10,000 steps); 6-layer d_model 640 LMs, sizes 4-8 and 12,
         7,000 examples each, batch 256, 7 epochs; evaluation at 10, 12, 14 with
         3,000 questions each; 4 seeds
  tiny, small and clrs30 run on one thread (faster for these small models; --threads N)

config (KEY=VALUE after the options, a dotted path or any unambiguous tail;
--config FILE.yaml is applied over the preset first):
  seeds                language-model seeds: lm.train.seed, lm.train.seed + 1, ...
  nar.nar.*            the NAR: algorithms hidden_dim processor ...
  nar.data.*           its data: train_sizes test_sizes val_count test_count ...
  nar.train.*          its trainer: steps batch_size learning_rate seed threads ...
  lm.model.*, lm.model.lm.*, lm.data.*, lm.optim.*, lm.train.*
                       the language models (as transnar lm train)
  lm.data.index_hints  true: data, training and evaluation with index hints, every
                       list and matrix element after its index marker (Zhou et al. 2023)
  lm.data.shift_markers
                       true (with index_hints): each training example's markers start
                       at a letter drawn for it (the evaluation's at a)
  eval.*               batch_size positions position_seed samples
  arms                 baseline,control,transnar (default); control-blank (TransNAR
                       reading zeros: a second control); student, student-wide (a
                       text-only student of TransNAR's answers; the wide one also at
                       the evaluation sizes); student-soft (the baseline learning
                       TransNAR's next-token distributions too); transnar-final,
                       transnar-lockstep, transnar-all, transnar-pooled (TransNAR with
                       that memory mode); transnar-all-last (all, every step the
                       last: its control); baseline-hints, transnar-hints (with index
                       hints, on the same questions); baseline-hints-shifted,
                       transnar-hints-shifted (index hints whose training markers start
                       at a letter drawn per example: every marker seen in training)
  distill.*            the student's questions: sizes count val_count (empty, 0: those of
                       lm.data) seed batch_size
  lm.teacher.weight, lm.teacher.temperature
                       the soft student's loss: the KL term's share (default 0.5)
                       and both distributions' temperature (default 2)
  e.g. nar.train.steps=300 lm.train.steps=500 d_model=64 data.test_count=50 seeds=2

The run directory gets config.yaml and config.json (the resolved config),
stages/ (a record per stage), logs/ (each stage's output, with --jobs), data/,
nar/, baseline-s*/, transnar-s*/, eval/, report.md, report.html and figures/.
A copy made by 'transnar export --resumable' goes on with 'transnar run --out
COPY': the finished stages whose outputs the copy left out are skipped until a
stage that must run needs them (then made again first, saying why).

--estimate sizes a run before it starts: per stage the examples, tokens and
optimizer steps, the longest sequence, the parameters, the FLOPs and the memory
of the largest batch (from a few measured samples per algorithm and size; see
docs/pipeline.md), e.g. to choose GPUs for the paper preset.

examples:
  transnar run                                        # the tiny preset, into runs/pipeline-tiny
  transnar run --preset paper --estimate              # what the paper preset costs
  transnar run --preset small --out runs/small
  transnar run --preset paper --device cuda --out runs/paper
  transnar run --config configs/small.yaml --out runs/small-300 nar.train.steps=300
  transnar run --out runs/small                       # again: skips what is done, resumes
  transnar run --out runs/small --plan                # what that would do, and how long
  transnar run --preset small --out runs/small --jobs 2  # two stages at a time
  transnar run --out runs/small --force data.test_count=200  # re-evaluate only
  transnar run --out runs/small --restart transnar-s0  # train it again from its start
  transnar report runs/a runs/b --out runs/ab         # mean ± std over runs
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``transnar run``."""
    parser = commands.add_parser(
        "run",
        help="the whole pipeline: data, NAR, baseline and TransNAR, evaluation, report",
        description=(
            "Generate the data, pre-train the NAR, train the Transformer baseline and\n"
            "TransNAR with the same budget, evaluate both in and out of distribution and\n"
            "write the report, in one run directory. Stages already done are skipped;\n"
            "an interrupted run continues where it stopped."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_preset_arguments(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="RUN_DIR",
        help="the run directory (default: runs/pipeline-PRESET)",
    )
    parser.add_argument("--device", help="cpu or cuda, for every stage (default: the config's)")
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads for every stage (0: torch's default)"
    )
    parser.add_argument(
        "--algorithms",
        metavar="A,B,...",
        help="the algorithms of both the NAR and the language models ('all': the 30)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="re-run the stages whose config changed (and those depending on them)",
    )
    parser.add_argument("--stop-after", metavar="STAGE", help="stop once this stage is done")
    parser.add_argument(
        "--restart",
        metavar="STAGE[,STAGE]",
        action="append",
        default=[],
        help="run these stages from their start, even if done or interrupted (e.g. when a "
        "checkpoint cannot be read); the stages that read them run again if their outputs "
        "change (repeatable)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="K",
        help="run up to K stages at once, each in its own process with its output in "
        "RUN/logs/STAGE.log, as soon as the stages it reads are done (default 1: one "
        "after another in this process); not under torchrun",
    )
    parser.add_argument(
        "--only",
        metavar="STAGE",
        help="advanced (what --jobs runs in each process): this stage alone, skipped if "
        "up to date, resumed if interrupted; the stages it reads must be done",
    )
    parser.add_argument(
        "--plan",
        action="store_true",
        help="print what the run would do with each stage (skip, resume or run, and why) "
        "and the time left, and exit; nothing is run or written",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="print what each stage will cost (examples, tokens, steps, longest sequence, "
        "parameters, FLOPs, memory of the largest batch) and exit; nothing is written",
    )
    add_config_arguments(parser)
    parser.set_defaults(handler=run)


def resolve_config(args: argparse.Namespace):
    """The :class:`~transnar.pipeline.RunPipelineConfig` of the arguments: the
    preset (without ``--preset``, the run directory's own config when it has
    one, else ``tiny``), then the YAML file, then the shortcuts and overrides."""
    from transnar.pipeline.config import apply_overrides, preset
    from transnar.pipeline.layout import CONFIG_YAML

    config = preset(args.preset or "tiny")
    own = None if args.out is None else args.out / CONFIG_YAML
    if args.preset is None and own is not None and own.is_file():
        config = _from_yaml(own, config)
        print(f"continuing with the config of {own}", file=sys.stderr)
    if args.config is not None:
        config = _from_yaml(args.config, config)
    named = []
    if args.device is not None:
        named += [f"nar.train.device={args.device}", f"lm.train.device={args.device}"]
    if args.threads is not None:
        named += [f"nar.train.threads={args.threads}", f"lm.train.threads={args.threads}"]
    if args.algorithms is not None:
        named += [f"nar.nar.algorithms={args.algorithms}", f"lm.data.algorithms={args.algorithms}"]
    return apply_overrides(config, [*named, *args.overrides])


def _restart(args: argparse.Namespace) -> tuple[str, ...]:
    """The stages of ``--restart`` (repeatable, each a comma-separated list)."""
    return tuple(name.strip() for value in args.restart for name in value.split(",") if name)


def _from_yaml(path: Path, base):
    from transnar.pipeline.config import from_mapping, load_yaml

    data = load_yaml(path)
    try:
        return from_mapping(data, base)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _continue_command(args: argparse.Namespace, out: Path) -> str:
    """The command that continues an interrupted run: ``transnar run --out OUT``
    once the run's config.yaml is written (it is then the run's config)."""
    from transnar.pipeline.layout import CONFIG_YAML

    if not (out / CONFIG_YAML).is_file():
        return command_line(*args.argv)
    jobs = ["--jobs", args.jobs] if args.jobs > 1 else []
    progress = ["--no-progress"] if args.no_progress else []
    force = ["--force"] if args.force else []  # stages not reached still hold the old config
    return command_line("run", "--out", out, *force, *jobs, *progress)


def run(args: argparse.Namespace) -> int:
    """Runs the pipeline and prints where the report is."""
    from transnar.pipeline.config import to_yaml
    from transnar.pipeline.run import run_pipeline
    from transnar.pipeline.schedule import sigterm_interrupts
    from transnar.pipeline.stages import StageFailedError
    from transnar.training.runs import duration

    config = resolve_config(args)
    if args.dry_run:
        print(to_yaml(config, _summary(config)), end="")
        return 0
    if args.estimate:
        from transnar.pipeline.estimate import estimate, estimate_table

        print(estimate_table(estimate(config), config.seeds), end="")
        return 0
    out = args.out or Path("runs") / f"pipeline-{args.preset or 'tiny'}"
    if args.plan:
        from transnar.pipeline.plan import plan_run

        plan = plan_run(
            config,
            out,
            force=args.force,
            stop_after=args.stop_after,
            restart=_restart(args),
            jobs=args.jobs,
        )
        print("\n".join(plan.lines()))
        return 0
    on_interrupt(args, lambda: _continue_command(args, out))
    started = time.perf_counter()
    try:
        # --only is each stage's process under --jobs: SIGTERM stops it cleanly
        with sigterm_interrupts() if args.only else contextlib.nullcontext():
            result = run_pipeline(
                config,
                out,
                force=args.force,
                stop_after=args.stop_after,
                progress=False if args.no_progress else None,
                jobs=args.jobs,
                only=args.only,
                restart=_restart(args),
            )
    except StageFailedError as error:
        print(f"transnar: error: {error}", file=sys.stderr)
        return 1
    ran = [o for o in result.outcomes if o.status != "skipped"]
    seconds = sum(o.seconds for o in ran)
    if args.jobs > 1:
        seconds = time.perf_counter() - started  # the stages overlapped
    print(
        f"{len(ran)} stage(s) run in {duration(seconds)}, "
        f"{len(result.outcomes) - len(ran)} skipped; run directory {out}",
        file=sys.stderr,
    )
    for path in result.report:
        print(f"report: {path}")
    return 0


__all__ = ["register", "resolve_config", "run"]


def _summary(config) -> str:
    """The dry run's header: what the run trains and how the NAR steps."""
    from transnar.nar.stepping import STEP_DESCRIPTIONS

    steps = config.lm.model.nar_steps
    return (
        f"{config.seeds} seed(s) x arms {', '.join(config.arms)}\n"
        f"NAR stepping inside TransNAR and the control: {steps}: {STEP_DESCRIPTIONS[steps]}"
    )
