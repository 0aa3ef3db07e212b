"""The report of one or several pipeline runs: ``report.md``, ``report.html``, figures.

The report opens with what was run (and, for a run of the ``tiny`` preset's
budgets, that its scores mean nothing), then a headline
(:mod:`~transnar.pipeline.report.headline`): per evaluation size each arm's CLRS score
and the paired differences between arms with their intervals. It then puts
side by side, for the baseline, the control and TransNAR (the arms the run
trained), the parse, shape and CLRS scores per algorithm and size, per family
and overall (:class:`~transnar.evaluation.Comparison`: several seeds or runs
of a model give mean ± standard deviation; a paired test per pair of arms),
with the evaluation's bar charts (:func:`~transnar.evaluation.write_plots`);
then the language models' training (a table and loss curves), the NAR's own
CLRS-30 test scores (per algorithm, and per family beside the published
Triplet-GMPNN) and training curves, and the time each stage took.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from transnar.arms import ARMS_BY_NAME
from transnar.evaluation import Comparison, write_plots
from transnar.evaluation.comparison import PLOTS, Cell, arm_of
from transnar.evaluation.nar import by_column, column_means, column_order, in_distribution_note
from transnar.evaluation.plots import REGIME_NAMES, series_colors
from transnar.evaluation.results import COMPARISON_JSON
from transnar.evaluation.significance import RESAMPLES
from transnar.persistence import atomic_write, refuse_existing, write_json
from transnar.pipeline.layout import FIGURES_DIR, REPORT_HTML, REPORT_MD
from transnar.pipeline.records import differences
from transnar.pipeline.report.competence import competence
from transnar.pipeline.report.curves import lm_panels, nar_panels, plot_panels
from transnar.pipeline.report.headline import headline
from transnar.pipeline.report.html import markdown_to_html
from transnar.pipeline.report.markers import marker_lines, marker_summary
from transnar.pipeline.report.nar_families import nar_family_table
from transnar.pipeline.report.runs import RunData, load_run
from transnar.pipeline.report.shares import share_lines, student_shares
from transnar.pipeline.resources import format_peaks
from transnar.tables import markdown_table
from transnar.training.runs import duration

TITLE = "TransNAR vs the Transformer baseline"
LM_CURVES = "lm_loss.png"
NAR_CURVES = "nar_training.png"
SMOKE_NOTE = (
    "**Smoke run: scores mean nothing.** This run has the `tiny` preset's budgets (language "
    "models of d_model ≤ 64, a NAR of ≤ 300 training steps): it only shows that the "
    "pipeline runs from end to end. Use the `small` or `paper` preset for results."
)
STEPPING_TEXTS = {
    "learned": "learned (leak-free)",
    "budget": "budget (a step bound from the algorithm and size alone: leak-free)",
    "oracle": "oracle (reads the true trajectory length: CLRS protocol, not leak-free)",
}
_PLOT_TITLES = {
    "clrs": "CLRS score per algorithm and size",
    "shape": "Shape score per algorithm and size",
    "parse": "Parse score per algorithm and size",
    "families": "CLRS score per algorithm family",
}


def write_report(
    run_dirs: Sequence[str | os.PathLike],
    out: str | os.PathLike | None = None,
    force: bool = False,
    replace_own: bool = True,
    resamples: int = RESAMPLES,
    arms: Sequence[str] | None = None,
    algorithms: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
) -> list[Path]:
    """Writes ``report.md``, ``report.html``, ``comparison.json`` (every table's
    cells and paired tests, :meth:`~transnar.evaluation.Comparison.to_dict`) and
    ``figures/`` for one or several runs.

    Args:
        run_dirs: run directories of ``transnar run``; the runs' models of the
            same kind are averaged (mean ± std per cell).
        out: the output directory; default the run directory (of one run).
        force: replace a report in ``out``.
        replace_own: replace a run's own report (``out`` its directory) even
            without ``force``, as the pipeline's report stage does;
            ``transnar report`` passes False.
        resamples: of the paired bootstrap tests between the arms.
        arms: report only these arms of the runs (default: all of them).
        algorithms: report only these algorithms of the runs (default: all of
            them): every table, test and figure of the language models is then
            over those algorithms' questions (the NAR's section stays whole).
        seeds: report only the language models of these seeds (default: all).

    Returns:
        The files written.

    Raises:
        ValueError: no runs, several runs without ``out``, an arm, algorithm or
            seed a run does not have, or a run that is not finished.
        OutputExistsError: ``out`` holds a report, a ``comparison.json`` or
            figures of the same names (e.g. of ``transnar lm compare``) and not
            ``force`` (nor ``replace_own`` for a run's own report).
    """
    if not run_dirs:
        raise ValueError("no run directories to report on")
    runs = [load_run(d, arms, algorithms, seeds) for d in run_dirs]
    if out is None and len(runs) > 1:
        raise ValueError("a report on several runs needs an output directory (--out)")
    own = out is None or Path(out).resolve() == runs[0].directory.resolve()
    out = Path(out) if out is not None else runs[0].directory
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; the report's output must be a directory")
    figures = out / FIGURES_DIR
    planned = [out / REPORT_MD, out / REPORT_HTML, out / COMPARISON_JSON]
    planned += [figures / name for name in (*PLOTS.values(), LM_CURVES, NAR_CURVES)]
    refuse_existing(planned, force or (replace_own and own and len(runs) == 1))
    documents = [
        {**model.results, "source": os.path.relpath(run.directory / model.run.name, out)}
        for run in runs
        for model in run.models
    ]
    comparison = Comparison.of(documents, resamples=resamples)
    paths = write_plots(comparison, figures)
    paths.append(plot_panels(lm_panels(_lm_lines(runs)), figures / LM_CURVES, "Language models"))
    nars = [(_run_label(run, len(runs)), k, run.nar_metrics) for k, run in enumerate(runs)]
    paths.append(plot_panels(nar_panels(nars), figures / NAR_CURVES, "The NAR"))
    markers = marker_summary(runs)  # read once: each hinted model's predictions
    text = report_markdown(runs, comparison, markers)
    with atomic_write(out / REPORT_MD, overwrite=True, mode="w") as handle:
        handle.write(text)
    with atomic_write(out / REPORT_HTML, overwrite=True, mode="w") as handle:
        handle.write(markdown_to_html(text, TITLE, out))
    document = comparison.to_dict()
    shares = student_shares(runs, comparison)
    if shares:  # with students: what each keeps of TransNAR's gain, per size
        document["student_shares"] = shares
    if markers:  # with index hints: where the hinted answers' markers go wrong
        document["index_markers"] = markers
    write_json(out / COMPARISON_JSON, document, indent=1)
    return [out / REPORT_MD, out / REPORT_HTML, out / COMPARISON_JSON, *paths]


def report_markdown(
    runs: Sequence[RunData], comparison: Comparison, index_markers: dict | None = None
) -> str:
    """The report's Markdown (its figures in ``figures/`` beside it);
    ``index_markers``: the runs' :func:`~transnar.pipeline.report.markers.marker_summary`
    when already made (None: made here)."""
    lines = [f"# {TITLE}", ""]
    if any(run.is_smoke for run in runs):
        lines += [SMOKE_NOTE, ""]
    lines += [*_setup(runs), ""]
    lines += ["## Headline: CLRS score per size", "", *headline(runs, comparison), ""]
    shares = share_lines(runs, comparison)
    if shares:
        lines += ["### What the students keep", "", *shares, ""]
    if index_markers is None:
        index_markers = marker_summary(runs)
    markers = marker_lines(index_markers, runs[0].config.lm.data.train_sizes)
    if markers:
        lines += ["### Index markers", "", *markers, ""]
    lines += ["## In-distribution competence", "", *competence(comparison), ""]
    versus = " vs ".join(comparison.labels)
    lines += [f"## Scores: {versus}", "", *_demoted(comparison.to_markdown()), ""]
    lines += [f"![{_PLOT_TITLES[key]}]({FIGURES_DIR}/{name})" for key, name in PLOTS.items()]
    lines += ["", _error_bars(comparison)]
    lines += ["", "## Training the language models", "", *_training_table(runs), ""]
    lines += [f"![Training and validation loss]({FIGURES_DIR}/{LM_CURVES})", ""]
    lines += ["## The NAR on CLRS-30", "", *_nar_section(runs), ""]
    lines += ["### By family", "", *nar_family_table([run.nar_results for run in runs]), ""]
    lines += [f"![The NAR's training]({FIGURES_DIR}/{NAR_CURVES})", ""]
    lines += ["## Stages", "", *_stages(runs)]
    return "\n".join(lines).rstrip() + "\n"


def _same_data_line(arms: Sequence[str], seeds: Sequence[int]) -> list[str]:
    """That the arms other than the students of TransNAR's answers train on
    the same data (none when the report shows such students only)."""
    trained = [arm.description for arm in map(ARMS_BY_NAME.get, arms) if not arm.distill]
    if not trained:
        return []
    return [
        f"- {_words(trained)} train on the same data for the same steps, at seed(s) {_join(seeds)}"
    ]


def _student_lines(runs: Sequence[RunData]) -> list[str]:
    """What each student learned from, when the runs have students: its
    questions, and how often its teacher's answers to them were right."""
    config, lines = runs[0].config, []
    for arm in (ARMS_BY_NAME[name] for name in runs[0].arms if ARMS_BY_NAME[name].student):
        if arm.distributions:
            teacher = config.lm.teacher
            lines.append(
                f"- {arm.description}: its loss is {1 - teacher.weight:g} x the answers' "
                f"cross-entropy + {teacher.weight:g} x {teacher.temperature:g}² x the KL "
                f"divergence from TransNAR's distributions at temperature "
                f"{teacher.temperature:g}, over the answer tokens (lm.teacher)"
            )
            continue
        questions = config.student_questions(arm.name)
        manifests = [
            m.teacher_answers["teacher_vs_truth"]["train"]
            for run in runs
            for m in run.models
            if m.run.kind == arm.name and m.teacher_answers
        ]
        agreement = ""
        if manifests:
            exact = Cell.of([m["exact"] for m in manifests]).text()
            clrs = Cell.of([m["clrs"] for m in manifests]).text()
            sizes = [str(size) for size in questions.sizes]
            by_size = ", ".join(
                f"{size}: {Cell.of([m['by_size'][size]['clrs'] for m in manifests]).text()}"
                for size in sizes
                if all(size in m.get("by_size", {}) for m in manifests)
            )
            agreement = (
                f"; TransNAR's answers to them: exactly right {exact}, CLRS score {clrs} "
                f"(the share, {'mean ± std over' if len(manifests) > 1 else 'of'} "
                f"{len(manifests)} teacher(s))"
            ) + (f"; their CLRS score by size: {by_size}" if by_size else "")
        lines.append(
            f"- {arm.description}: {questions.count:,} questions per algorithm and size at "
            f"sizes {_join(questions.sizes)} (sampler seed {questions.seed}, not a training "
            "or test seed) answered by TransNAR as in its evaluation; trained with the "
            "other arms' optimizer and epochs (its steps follow from its number of "
            f"questions){agreement}"
        )
    return lines


def _setup(runs: Sequence[RunData]) -> list[str]:
    """The bullet list describing what was run."""
    config, arms = runs[0].config, runs[0].arms
    lm, data, nar = config.lm.model, config.lm.data, config.nar
    train = config.lm.train
    seeds = sorted({model.run.seed for run in runs for model in run.models})
    length = f"{train.steps:,} steps" if train.steps else f"{config.lm.optim.epochs} epoch(s)"
    nar_results = runs[0].nar_results
    regimes = _regimes(config.eval_settings().regimes())
    hints = (
        "; index hints (list and matrix elements after their markers)" if data.index_hints else ""
    )
    lines = [
        "- run(s): " + ", ".join(f"`{run.directory}`" for run in runs),
        f"- data: {', '.join(data.algorithms)}; training sizes "
        f"{_join(data.train_sizes)}, {data.train_count:,} examples per algorithm and size "
        f"(seed {data.train_seed}); validation {data.val_count:,} (seed {data.val_seed})"
        f"{hints}",
        f"- language models: {lm.lm.n_layers} layers, d_model {lm.lm.d_model}, "
        f"{lm.lm.n_heads} heads, L_max {lm.lm.max_position}; AdamW, learning rate "
        f"{train.learning_rate:g}, batch {train.batch_size}, {length}; TransNAR adds "
        f"gated cross-attention to the frozen NAR after every {lm.xattn_every} layer(s) "
        f"({lm.memory} memory)",
        *_same_data_line(arms, seeds),
        *_student_lines(runs),
        f"- NAR: {nar.nar.processor}, hidden {nar.nar.hidden_dim}, "
        f"{len(nar.nar.algorithms)} algorithm(s), sizes {_join(nar.data.train_sizes)}, "
        f"{nar.train.steps:,} steps (best validation {nar_results.get('best_val_score', 0):.3f} "
        f"at step {nar_results.get('best_step', '?')})",
        f"- evaluation: sizes {regimes}; {data.test_count:,} questions per algorithm and size "
        f"(seed {data.test_seed}), greedy decoding",
    ]
    if any(ARMS_BY_NAME[arm].use_nar or ARMS_BY_NAME[arm].student for arm in arms):
        stepping = runs[0].nar_steps  # the NAR of TransNAR, the controls, the teachers
        lines.append(f"- NAR stepping: {STEPPING_TEXTS.get(stepping, stepping)}")
    others = [arm for arm in config.arms if arm not in arms]
    if others:
        lines.append(
            f"- this report shows the arms {', '.join(arms)}; the run also has "
            f"{', '.join(others)} (left out here)"
        )
    first = config.lm.train.seed
    unreported = [s for s in range(first, first + config.seeds) if s not in runs[0].seeds]
    if unreported:
        lines.append(
            f"- this report shows the language models of seed(s) {_join(runs[0].seeds)}; "
            f"the run also has seed(s) {_join(unreported)} (left out here)"
        )
    left_out = [name for name in data.algorithms if name not in runs[0].algorithms]
    if left_out:
        lines.append(
            f"- this report shows the algorithms {', '.join(runs[0].algorithms)}: every "
            "score, test and figure of the language models is over their questions only; "
            f"the run also has {', '.join(left_out)} (left out here)"
        )
    for run in runs[1:]:
        if run.config != config:
            changed = differences(config.to_dict(), run.config.to_dict(), limit=5)
            lines.append(f"- `{run.directory}` differs: {changed}")
    return lines


def _regimes(regimes: dict[int, str | None]) -> str:
    """``5 (in distribution), 7 (OOD extrapolation)``."""
    return ", ".join(
        f"{size} ({REGIME_NAMES.get(regime, regime)})" if regime else str(size)
        for size, regime in sorted(regimes.items())
    )


def _demoted(markdown: str) -> list[str]:
    """A document's lines without its title, its headings one level down."""
    lines = markdown.strip().splitlines()
    if lines and lines[0].startswith("# "):
        lines = "\n".join(lines[1:]).strip().splitlines()
    return ["#" + line if line.startswith("#") else line for line in lines]


def _training_table(runs: Sequence[RunData]) -> list[str]:
    several = len(runs) > 1
    header = [*(["run"] if several else []), "model", "seed", "steps", "epochs"]
    header += ["train loss", "val loss", "tokens/s", "train time", "peak memory"]
    header += ["trainable parameters"]
    rows = []
    for run in runs:
        for model in run.models:
            s = model.summary
            rows.append(
                [
                    *([run.directory.name] if several else []),
                    model.run.label,
                    str(model.run.seed),
                    str(s["steps"]),
                    f"{s['epochs']:.2f}",
                    f"{s['train_loss']:.4f}",
                    f"{s['val_loss']:.4f}",
                    f"{s['tokens_per_second']:.0f}",
                    duration(s["train_seconds"]) if "train_seconds" in s else "-",
                    _peaks(run.stages.get(model.run.name)),
                    str(s["parameters"]),
                ]
            )
    return markdown_table(header, rows)


def _peaks(record: dict | None) -> str:
    """A stage's peak memory (resident; and GPU), ``-`` when not measured."""
    return format_peaks((record or {}).get("peak_memory")).removeprefix("peak ") or "-"


def _nar_section(runs: Sequence[RunData]) -> list[str]:
    """The NAR's test scores per algorithm and size (mean ± std over runs), one
    column per :func:`~transnar.evaluation.nar.by_column` column: every
    algorithm's in-distribution test in one (the string matchers' size differs),
    then the out-of-distribution sizes; a missing cell is ``-``."""
    results = [run.nar_results for run in runs]
    tables = [by_column(r["algorithms"]) for r in results]
    columns = column_order(column for table in tables for column in table)
    names = list(dict.fromkeys(name for r in results for name in r["algorithms"]))

    def tests(name: str, column: str):
        for table in tables:
            test = table.get(column, {}).get(name)
            yield None if test is None else test["scores"]["score"]

    header = ["algorithm", "family", "val", *columns]
    rows = []
    for name in names:
        family = next(r["algorithms"][name]["family"] for r in results if name in r["algorithms"])
        cells = [_cell(r["algorithms"].get(name, {}).get("validation_score") for r in results)]
        cells += [_cell(tests(name, column)) for column in columns]
        rows.append([name, family, *cells])
    means = [column_means(r["algorithms"]) for r in results]
    rows.append(
        [
            "**mean**",
            "",
            _cell(r.get("best_val_score") for r in results),
            *(_cell(m.get(column) for m in means) for column in columns),
        ]
    )
    modes = results[0].get("step_modes")
    note = (
        "Test scores of the NAR's best checkpoint (the reference's per-output scores, "
        "averaged over an algorithm's outputs: the micro-F1 of the CLRS papers)"
        + (f", stepping {modes[0]}" if modes else "")
        + f"; val: its validation score; {in_distribution_note(results[0]['algorithms'])}"
        + ("; mean ± std over the runs." if len(runs) > 1 else ".")
    )
    return [note, "", *markdown_table(header, rows)]


def _cell(values) -> str:
    values = [v for v in values if v is not None]
    return Cell.of(values).text() if values else "-"


def _stages(runs: Sequence[RunData]) -> list[str]:
    """The time (and peak memory) of each stage before the report (the
    report's own is not known while it is written). A stage resumed after an
    interruption shows the time of its last part only (marked ``+``; the
    training table has each model's whole training time)."""
    lines = []
    for run in runs:
        done = {
            name: record
            for name, record in run.stages.items()
            if record.get("status") == "done" and name != "report"
        }
        times = []
        for name, record in done.items():
            peaks = format_peaks(record.get("peak_memory"))
            resumed = "+" if record.get("resumed") else ""
            peaks = f" ({peaks})" if peaks else ""
            times.append(f"{name} {duration(record['seconds'])}{resumed}{peaks}")
        total = sum(record["seconds"] for record in done.values())
        where = f"`{run.directory}`: " if len(runs) > 1 else ""
        resumed = any(record.get("resumed") for record in done.values())
        total_text = f"total {'at least ' if resumed else ''}{duration(total)}"
        lines.append(f"- {where}{', '.join(times)} ({total_text})")
    if any(record.get("resumed") for run in runs for record in run.stages.values()):
        lines.append(
            "- `+`: resumed after an interruption; the time of its last part only (the "
            "training table above has each model's whole training time)"
        )
    return lines


def _lm_lines(runs: Sequence[RunData]) -> list[tuple]:
    """``(label, colour, style, metrics)`` per language model: one colour per arm
    (as in the bar charts), its seeds (and runs) in line styles in turn."""
    models = [(run, model) for run in runs for model in run.models]
    arms = list(dict.fromkeys(model.run.label for _, model in models))
    colors = dict(zip(arms, series_colors([arm_of(arm, None) for arm in arms]), strict=True))
    lines, seen = [], {}
    for run, model in models:
        arm = model.run.label
        style = seen[arm] = seen.get(arm, -1) + 1
        lines.append((_model_label(run, model, len(runs)), colors[arm], style, model.metrics))
    return lines


def _run_label(run: RunData, count: int) -> str:
    return run.directory.name if count > 1 else "NAR"


def _model_label(run: RunData, model, count: int) -> str:
    label = f"{model.run.label} s{model.run.seed}"
    return f"{run.directory.name}: {label}" if count > 1 else label


def _join(values) -> str:
    return ", ".join(map(str, values))


def _words(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``; capitalised."""
    text = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    return text[:1].upper() + text[1:]


def _error_bars(comparison: Comparison) -> str:
    """What the bar charts' error bars show."""
    notes = [
        f"{label}: {note}" for label in comparison.labels if (note := comparison.error_bars(label))
    ]
    if not notes:
        return "The bar charts have no error bars (one file per model and no per-sample records)."
    return (
        "Error bars: the standard deviation over a model's seeds; with one seed, the 95% "
        "bootstrap interval of its mean over the questions (" + "; ".join(notes) + ")."
    )


__all__ = ["LM_CURVES", "NAR_CURVES", "TITLE", "report_markdown", "write_report"]
