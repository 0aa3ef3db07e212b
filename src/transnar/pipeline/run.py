"""The whole TransNAR pipeline in one call: data, NAR, baseline and TransNAR, evaluation, report.

:func:`run_pipeline` builds the stages of a :class:`RunPipelineConfig` and runs
them with :func:`~transnar.pipeline.schedule.run_stages` (skipping those already
done, resuming an interrupted one):

1. ``data``: the CLRS-Text train and val splits of ``lm.data``, written once
   into ``RUN/data`` (:func:`~transnar.clrs.text.dataset_files.write_dataset`); every
   language model reads them (``data.path``), so all see the same examples
   (``data-hints``: the same splits with index hints, for the arms that use them);
2. ``nar``: the NAR pre-trained on CLRS-30 (:func:`transnar.training.nar.train_nar`);
3. per seed and arm (``arms``; the arms are rows of :data:`transnar.arms.ARMS`),
   ``<arm>-s<seed>``: the language model of that arm, e.g. ``baseline-s0``
   trained without the NAR, ``control-s0`` with the NAR memory of other
   instances and ``transnar-s0`` with the frozen NAR on its own instance
   (:func:`transnar.training.train_lm`), same data, steps and seed (a student
   of its teacher's answers first gets its ``distill-s<seed>`` stage; the
   student of its distributions reads the teacher's model); then
   ``eval-<arm>-s<seed>``: each answers ``lm.data``'s test split
   (:func:`transnar.evaluation.evaluate`);
4. ``report``: ``report.md`` and ``report.html`` (:func:`transnar.pipeline.report.write_report`).

The trainers resume exactly from their ``checkpoints/last.pt``, so a run
killed in the middle of a stage continues from its last checkpoint. Under
``torchrun`` the trainers are data-parallel and the other stages run on rank 0
(:mod:`transnar.pipeline.stages`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from transnar import __version__
from transnar._config import flatten, unflatten
from transnar.evaluation.results import COMPARISON_JSON
from transnar.persistence import CheckpointError, OutputExistsError, atomic_write, write_json
from transnar.pipeline.config import RunPipelineConfig, from_mapping, load_yaml, preset, to_yaml
from transnar.pipeline.layout import (
    CONFIG_JSON,
    CONFIG_YAML,
    DATA_DIR,
    EVAL_DIR,
    NAR_DIR,
    REPORT_HTML,
    REPORT_MD,
    STAGES_DIR,
    ModelRun,
    model_runs,
)
from transnar.pipeline.records import read_record
from transnar.pipeline.report import write_report
from transnar.pipeline.schedule import run_stages, subprocess_launcher
from transnar.pipeline.stages import (
    Outcome,
    PipelineStage,
    check_configs,
    check_jobs,
    check_stage_names,
)
from transnar.training.checkpoint import BEST, CHECKPOINTS, checkpoint_path
from transnar.training.distill import MANIFEST as DISTILL_MANIFEST
from transnar.training.distill import teacher_dataset
from transnar.training.distributed import barrier, world
from transnar.training.lm import MODEL_DIR, train_lm
from transnar.training.lm_config import RESUMABLE_CHANGES, LMTrainConfig, TeacherSource
from transnar.training.lm_config import apply_overrides as lm_overrides
from transnar.training.loop import CONFIG
from transnar.training.nar import train_nar
from transnar.training.nar_config import NARTrainConfig
from transnar.training.runs import resolve_device, torch_threads

# Keys of a stage's config that change nothing in its output: where and how fast
# it runs, or paths whose content is an input of the stage.
NAR_UNHASHED = ("train.device", "train.threads")
LM_UNHASHED = (
    *RESUMABLE_CHANGES,  # device, threads, validation interval and batch, the NAR's and
    # the data's paths (the outputs of the nar and data stages are inputs)
    "model.nar_node_dim",  # set from the NAR (an input)
    "model.nar_edge_dim",
    "data.test_sizes",  # the evaluation's, not read in training
    "data.test_count",
    "data.test_seed",
)


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` returns.

    Attributes:
        run_dir: the run directory.
        config: the resolved config.
        outcomes: what was done with each stage (skipped, ran, resumed).
        report: the report files, once the report stage is done.
    """

    run_dir: Path
    config: RunPipelineConfig
    outcomes: list[Outcome]
    report: list[Path]


def run_pipeline(
    config: RunPipelineConfig,
    run_dir: str | os.PathLike,
    *,
    force: bool = False,
    stop_after: str | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    jobs: int = 1,
    only: str | None = None,
    restart: tuple[str, ...] = (),
) -> PipelineResult:
    """Runs (or continues) the pipeline in ``run_dir`` (see the module docstring).

    Args:
        config: the resolved config.
        run_dir: the run directory: new, empty, or a run of this pipeline.
        force: re-run the stages whose config changed (and those depending on
            them) instead of refusing.
        stop_after: stop once this stage is done (e.g. ``nar``).
        progress: the trainers' progress bars (``None``: only on a terminal).
        log: receives the one-line progress of each stage (default standard error).
        jobs: how many stages may run at once. Above 1, each stage runs in a
            child process (``transnar run --only STAGE`` on the run's
            ``config.yaml``, its output in ``RUN/logs/<stage>.log``) as soon as
            its input stages are done; refused under ``torchrun``.
        only: run this stage alone (skipped when up to date, resumed when
            interrupted); its input stages must be done.
        restart: stages to run from their start even if they are done or
            could resume (e.g. after a checkpoint was corrupted); the stages
            that read them run again if their outputs change.

    Returns:
        A :class:`PipelineResult`.

    Raises:
        OutputExistsError: ``run_dir`` is a non-empty directory that is not a
            run of this pipeline (and not ``force``), or a file.
        ValueError: a device that is not available; ``stop_after``, ``only``
            or ``restart`` naming no stage (nothing is written then).
        StageConfigError: a stage already recorded was made with another config
            (and not ``force``); nothing is run or written then.
        StageFailedError: with ``jobs`` > 1, a stage's process failed.
    """
    run_dir = Path(run_dir)
    check_jobs(jobs, only=only, stop_after=stop_after)
    # refused before anything is written; run_stages checks again, harmlessly
    stages, _ = checked_stages(
        config,
        run_dir,
        force=force,
        stop_after=stop_after,
        only=only,
        restart=restart,
        progress=progress,
    )
    barrier()  # every process has checked the run directory before rank 0 writes
    if world().is_main:
        write_config(config, run_dir)
    launch = None
    if jobs > 1:
        # each stage in `transnar run --only STAGE`, on the config.yaml just written
        if from_mapping(load_yaml(run_dir / CONFIG_YAML), preset("tiny")) != config:
            raise ValueError(f"{run_dir / CONFIG_YAML} does not hold this config: use --jobs 1")
        command = [sys.executable, "-m", "transnar", "run", "--out", str(run_dir)]
        command += ["--config", str(run_dir / CONFIG_YAML), "--no-progress"]
        command += ["--force"] if force else []

        def stage_command(stage: PipelineStage) -> list[str]:
            again = ["--restart", stage.name] if stage.name in restart else []
            return [*command, "--only", stage.name, *again]

        launch = subprocess_launcher(stage_command)
    outcomes = run_stages(
        run_dir,
        stages,
        force=force,
        stop_after=stop_after,
        log=log,
        jobs=jobs,
        only=only,
        launch=launch,
        restart=restart,
    )
    done = [o.name for o in outcomes]
    report = [run_dir / REPORT_MD, run_dir / REPORT_HTML] if "report" in done else []
    return PipelineResult(run_dir, config, outcomes, report)


def write_config(config: RunPipelineConfig, run_dir: Path) -> None:
    """``config.yaml`` and ``config.json``: the resolved config."""
    header = (
        f"The resolved config of this transnar run (transnar {__version__}).\n"
        f"Run it again, or elsewhere: transnar run --config {CONFIG_YAML} --out DIR"
    )
    with atomic_write(run_dir / CONFIG_YAML, overwrite=True, mode="w") as handle:
        handle.write(to_yaml(config, header))
    write_json(run_dir / CONFIG_JSON, {"transnar_version": __version__, **config.to_dict()})


def checked_stages(
    config: RunPipelineConfig,
    run_dir: Path,
    *,
    force: bool = False,
    stop_after: str | None = None,
    only: str | None = None,
    restart: Sequence[str] = (),
    progress: bool | None = None,
) -> tuple[list[PipelineStage], dict[str, dict | None]]:
    """The run's stages and their records, once the run directory, the devices,
    the stage names of the options and the recorded configs are checked (the
    errors of :func:`run_pipeline`, before anything is written)."""
    check_run_dir(run_dir, force)
    for device in (config.nar.train.device, config.lm.train.device):
        resolve_device(device)  # a missing GPU is an error before the first stage
    stages = build_stages(config, run_dir, progress)
    check_stage_names(stages, stop_after=stop_after, only=only, restart=restart)
    records = {stage.name: read_record(run_dir, stage.name) for stage in stages}
    check_configs(stages, records, force)
    return stages, records


def check_run_dir(run_dir: Path, force: bool) -> None:
    """An :class:`OutputExistsError` unless ``run_dir`` is new, empty or a run
    (or ``force``); a file is always refused."""
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputExistsError(f"{run_dir} exists and is not a directory")
    used = run_dir.is_dir() and any(run_dir.iterdir())
    ours = (run_dir / STAGES_DIR).is_dir() or (run_dir / CONFIG_YAML).is_file()
    if used and not ours and not force:
        raise OutputExistsError(
            f"{run_dir} is not empty and holds no transnar run (no {STAGES_DIR}/): use a new "
            "--out, or --force to run there anyway"
        )


# --- the stages -----------------------------------------------------------------------


def build_stages(
    config: RunPipelineConfig, run_dir: Path, progress: bool | None = None
) -> list[PipelineStage]:
    """The stages of a run, in order (see the module docstring)."""
    stages = [data_stage(config, run_dir, progress), nar_stage(config, run_dir, progress)]
    runs = model_runs(config)
    hinted = {model.data_dir: model.arm.shift_markers for model in runs if model.index_hints}
    for position, (name, shifted) in enumerate(sorted(hinted.items()), start=1):
        # after data: data-hints, then data-hints-shifted
        stage = data_stage(config.with_index_hints(shifted), run_dir, progress, name)
        stages.insert(position, stage)
    for seed in sorted({m.seed for m in runs}):
        models = [m for m in runs if m.seed == seed]
        for model in models:
            if model.distill_dir is not None:
                stages.append(distill_stage(config, run_dir, model, progress))
            stages.append(lm_stage(config, run_dir, model, progress))
        stages += [eval_stage(config, run_dir, m, progress) for m in models]
    stages.append(report_stage(stages, run_dir))
    return stages


def data_stage(
    config: RunPipelineConfig, run_dir: Path, progress: bool | None, name: str = DATA_DIR
) -> PipelineStage:
    """Writes ``lm.data``'s train and val splits into ``RUN/<name>`` (``data``;
    ``data-hints`` for the index-hint arms, ``data-hints-shifted`` for the shifted
    ones), the stage of that name."""
    from transnar.clrs.text.dataset_files import MANIFEST, damaged_splits, write_dataset

    data = config.lm.data
    splits = [split for kind, split in data.splits().items() if kind != "test"]
    options = {
        "use_hints": data.use_hints,
        "float_format": data.float_format,
        "truncate_decimals": data.truncate_decimals,
    }
    if data.index_hints:  # only when set: the default stage's hash stays as it was
        options["index_hints"] = True
    if data.shift_markers:
        options["shift_markers"] = True

    def run(resume: bool) -> None:
        write_dataset(run_dir / name, splits, overwrite=True, progress=progress, **options)

    rows = sum(split.num_rows for split in splits)
    hints = " with index hints" if data.index_hints else ""
    hints += " (shifted markers)" if data.shift_markers else ""
    return PipelineStage(
        name,
        f"write the CLRS-Text train and val splits{hints} ({rows:,} rows)",
        {"splits": {split.name: split.to_json() for split in splits}, **options},
        (f"{name}/{MANIFEST}",),
        run,
        resumable=_never,
        damaged=lambda: damaged_splits(run_dir / name),  # the splits the manifest hashes
    )


def nar_stage(config: RunPipelineConfig, run_dir: Path, progress: bool | None) -> PipelineStage:
    """Pre-trains the NAR into ``RUN/nar``."""
    directory = run_dir / NAR_DIR
    last = checkpoint_path(directory, "last")

    def run(resume: bool) -> None:
        resume = resume and last.is_file()
        with _restart_hint(run_dir, "nar", resume):
            train_nar(config.nar, directory, resume=resume, overwrite=not resume, progress=progress)

    nar = config.nar
    return PipelineStage(
        "nar",
        f"pre-train the NAR on {len(nar.nar.algorithms)} CLRS-30 algorithm(s), "
        f"{nar.train.steps:,} steps",
        _without(nar.to_dict(), NAR_UNHASHED, "nar."),
        (f"{NAR_DIR}/{CHECKPOINTS}/{BEST}", f"{NAR_DIR}/results.json"),
        run,
        distributed=True,
        resumable=last.is_file,
        upgrade=_upgrade(NARTrainConfig, NAR_UNHASHED, "nar."),
    )


def lm_config(config: RunPipelineConfig, run_dir: Path, model: ModelRun) -> LMTrainConfig:
    """The training config of one language model: the ``lm`` section with its
    arm, seed, the run's data (a student's: its teacher's answers), (for
    TransNAR and the control) the run's NAR, and (for the student of its
    teacher's distributions) its teacher, with ``lm.teacher``'s weight and
    temperature; the other arms have no teacher."""
    data = model.data_dir
    if model.index_hints:
        config = config.with_index_hints(model.arm.shift_markers)
    teacher = TeacherSource()  # none: their configs (and stage hashes) have no teacher
    if model.arm.distributions:
        directory = run_dir / model.teacher.name / MODEL_DIR
        teacher = replace(config.lm.teacher, model=str(directory.resolve()))
    changes: dict[str, Any] = {
        **{f"model.{key}": value for key, value in model.arm.model_changes().items()},
        "train.seed": model.seed,
        "data.path": str((run_dir / data).resolve()),
        "nar.checkpoint": str((run_dir / NAR_DIR).resolve()) if model.use_nar else None,
    }
    return replace(lm_overrides(config.lm, changes), teacher=teacher)


def lm_stage(
    config: RunPipelineConfig, run_dir: Path, model: ModelRun, progress: bool | None
) -> PipelineStage:
    """Trains one language model into ``RUN/<model>-s<seed>``."""
    directory = run_dir / model.name
    last = checkpoint_path(directory, "last")
    train_config = lm_config(config, run_dir, model)

    def run(resume: bool) -> None:
        resume = resume and last.is_file()
        with _restart_hint(run_dir, model.name, resume):
            resumed = _as_recorded(train_config, directory / CONFIG) if resume else train_config
            train_lm(resumed, directory, resume=resume, overwrite=not resume, progress=progress)

    steps, epochs = train_config.train.steps, train_config.optim.epochs
    length = f"{steps:,} steps" if steps else f"{epochs} epoch(s)"
    return PipelineStage(
        model.name,
        f"train {model.label} (seed {model.seed}, {length})",
        _without(train_config.to_dict(), LM_UNHASHED, "lm."),
        (f"{model.name}/{MODEL_DIR}",),
        run,
        inputs=_lm_inputs(model),
        distributed=True,
        resumable=last.is_file,
        group="train",
        upgrade=_upgrade(LMTrainConfig, LM_UNHASHED, "lm."),
    )


def _lm_inputs(model: ModelRun) -> tuple[str, ...]:
    """The stages a language model's training reads: its data, the NAR (when
    it reads one), its teacher (when it learns its distributions)."""
    inputs = [model.data_dir]
    if model.use_nar:
        inputs.append(NAR_DIR)
    if model.arm.distributions:
        inputs.append(model.teacher.name)
    return tuple(inputs)


def _as_recorded(config: LMTrainConfig, recorded: Path) -> LMTrainConfig:
    """``config`` with the evaluation fields its interrupted run recorded: they
    are not part of the stage's config (training does not read them), but the
    trainer resumes only with its own. A recorded config that cannot be read is
    a :class:`CheckpointError` (the stage then says how to start it over)."""
    try:
        data = LMTrainConfig.from_dict(json.loads(recorded.read_text(encoding="utf-8"))).data
    except (OSError, ValueError, TypeError) as error:
        raise CheckpointError(f"{recorded}: {error}") from None
    fields = {k: getattr(data, k) for k in ("test_sizes", "test_count", "test_seed")}
    return replace(config, data=replace(config.data, **fields))


def eval_stage(
    config: RunPipelineConfig, run_dir: Path, model: ModelRun, progress: bool | None
) -> PipelineStage:
    """Evaluates one language model into ``RUN/eval/<model>-s<seed>``."""
    from transnar.evaluation import evaluate, write_results
    from transnar.evaluation.answering import load_model
    from transnar.evaluation.results import RESULTS_JSON

    settings = config.model_eval_settings(model.index_hints)
    train = config.lm.train
    out = run_dir / EVAL_DIR / model.name

    def run(resume: bool) -> None:
        with torch_threads(train.threads):
            loaded, directory = load_model(run_dir / model.name, train.device)
            results = evaluate(
                loaded, settings, label=model.label, path=str(directory), progress=progress
            )
        write_results(
            results, out, overwrite=True, include_samples=settings.keep_samples, plots=False
        )

    count = len(settings.algorithms) * len(settings.sizes) * settings.count
    sizes = ", ".join(map(str, settings.sizes))
    return PipelineStage(
        f"eval-{model.name}",
        f"evaluate {model.label} (seed {model.seed}) on {count:,} questions at sizes {sizes}",
        settings.to_dict(),
        (f"{EVAL_DIR}/{model.name}/{RESULTS_JSON}",),
        run,
        inputs=(model.name,),
        resumable=_never,
        group="eval",
    )


def distill_stage(
    config: RunPipelineConfig, run_dir: Path, student: ModelRun, progress: bool | None
) -> PipelineStage:
    """A student's data: its teacher answers its questions
    (:meth:`RunPipelineConfig.student_questions`) into ``RUN/distill-s<seed>``
    (the wide student's: ``RUN/distill-wide-s<seed>``;
    :func:`~transnar.training.distill.teacher_dataset`). The teacher's answers go
    to ``RUN/teacher-answers/<teacher>``, shared by the students of that teacher:
    the questions the two students have in common are answered once."""
    from transnar.evaluation.answering import load_model

    teacher, name = student.teacher, student.distill_dir
    answers = run_dir / student.teacher_answers_dir
    train = config.lm.train
    questions = config.student_questions(student.kind)

    def run(resume: bool) -> None:
        with torch_threads(train.threads):
            loaded, directory = load_model(run_dir / teacher.name, train.device)
            teacher_dataset(
                loaded,
                questions,
                run_dir / name,
                os.path.relpath(directory, run_dir),  # the same wherever the run is
                progress,
                resume=resume,
                answers=answers,
            )

    count = (
        len(questions.algorithms) * len(questions.sizes) * (questions.count + questions.val_count)
    )
    sizes = ", ".join(map(str, questions.sizes))
    return PipelineStage(
        name,
        f"{teacher.label} (seed {student.seed}) answers {count:,} questions at sizes {sizes} "
        "for the student",
        {"distill": questions.to_dict()},
        (f"{name}/train.jsonl", f"{name}/val.jsonl", f"{name}/{DISTILL_MANIFEST}"),
        run,
        inputs=(teacher.name,),
        resumable=answers.is_dir,  # the cells answered so far
    )


def report_stage(stages: list[PipelineStage], run_dir: Path) -> PipelineStage:
    """Writes ``report.md`` and ``report.html`` from everything before it."""

    def run(resume: bool) -> None:
        write_report([run_dir])

    return PipelineStage(
        "report",
        "write report.md and report.html",
        {},  # no options: the report is a function of its inputs
        (REPORT_MD, REPORT_HTML, COMPARISON_JSON),
        run,
        inputs=tuple(stage.name for stage in stages if stage.name != "data"),
        resumable=_never,
        needs=(),  # it reads what every export keeps: results, summaries, manifests
    )


def _never() -> bool:
    """The ``resumable`` of a stage that always starts from the beginning."""
    return False


@contextlib.contextmanager
def _restart_hint(run_dir: Path, stage: str, resume: bool) -> Iterator[None]:
    """A :class:`CheckpointError` while resuming a trainer (a truncated or corrupt
    checkpoint, another run's) gets how to start the stage over."""
    try:
        yield
    except CheckpointError as error:
        if not resume:
            raise
        again = shlex.join(["transnar", "run", "--out", str(run_dir), "--restart", stage])
        raise CheckpointError(
            f"stage {stage} cannot resume: {error}. To train it again from its start "
            f"(what it had done is lost): {again}"
        ) from None


def _without(config: dict, keys: tuple[str, ...], prefix: str) -> dict[str, Any]:
    """The flattened config without ``keys``, its keys prefixed as in the
    pipeline's config (``lm.train.steps``), so that differences name them."""
    return {prefix + k: v for k, v in flatten(config).items() if k not in keys}


def _upgrade(cls, keys: tuple[str, ...], prefix: str) -> Callable[[Mapping], dict[str, Any]]:
    """How a trainer stage's recorded config (:func:`_without` of a ``cls``,
    perhaps from an older version) reads as this version writes it: read by
    ``cls.from_dict`` (which knows the moved keys) and flattened again; a
    record it cannot read stays as it is (and so differs)."""

    def upgrade(recorded: Mapping) -> dict[str, Any]:
        nested = unflatten({k.removeprefix(prefix): v for k, v in recorded.items()})
        try:
            return _without(cls.from_dict(nested).to_dict(), keys, prefix)
        except (ValueError, TypeError, KeyError):
            return dict(recorded)

    return upgrade


__all__ = [
    "LM_UNHASHED",
    "NAR_UNHASHED",
    "PipelineResult",
    "build_stages",
    "lm_config",
    "run_pipeline",
    "write_config",
]
