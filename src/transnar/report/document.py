"""The report of one or several pipeline runs: ``report.md``, ``report.html``, figures.

The report puts side by side, for the baseline and TransNAR, the parse, shape
and CLRS scores per algorithm and size, per family and overall
(:class:`~transnar.evaluation.Comparison`: several seeds or runs of a model
give mean ± standard deviation), with the evaluation's bar charts
(:func:`~transnar.evaluation.write_plots`); then the language models'
training (a table and loss curves), the NAR's own CLRS-30 test scores and
training curves, and the time each stage took.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from transnar._files import atomic_write, refuse_existing
from transnar.clrs.text.scoring import markdown_table
from transnar.evaluation import Comparison, write_plots
from transnar.evaluation.plots import REGIME_NAMES
from transnar.evaluation.results import PLOTS, Cell
from transnar.pipeline.layout import FIGURES_DIR, REPORT_HTML, REPORT_MD
from transnar.pipeline.stages import differences, duration
from transnar.report.curves import lm_panels, nar_panels, plot_panels
from transnar.report.html import markdown_to_html
from transnar.report.runs import RunData, load_run

TITLE = "TransNAR vs the Transformer baseline"
LM_CURVES = "lm_loss.png"
NAR_CURVES = "nar_training.png"
_PLOT_TITLES = {
    "clrs": "CLRS score per algorithm and size",
    "shape": "Shape score per algorithm and size",
    "parse": "Parse score per algorithm and size",
    "families": "CLRS score per algorithm family",
}


def write_report(
    run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None, force: bool = False
) -> list[Path]:
    """Writes ``report.md``, ``report.html`` and ``figures/`` for one or several runs.

    Args:
        run_dirs: run directories of ``transnar run``; the runs' models of the
            same kind are averaged (mean ± std per cell).
        out: the output directory; default the run directory (of one run), whose
            report is then rewritten.
        force: replace a report in ``out`` (a run's own report is always rewritten).

    Returns:
        The files written.

    Raises:
        ValueError: no runs, several runs without ``out``, or a run that is not
            finished.
        OutputExistsError: ``out`` holds a report and not ``force``.
    """
    if not run_dirs:
        raise ValueError("no run directories to report on")
    runs = [load_run(d) for d in run_dirs]
    if out is None and len(runs) > 1:
        raise ValueError("a report on several runs needs an output directory (--out)")
    own = out is None or Path(out).resolve() == runs[0].directory.resolve()
    out = Path(out) if out is not None else runs[0].directory
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file; the report's output must be a directory")
    refuse_existing([out / REPORT_MD, out / REPORT_HTML], force or (own and len(runs) == 1))
    documents = [
        {**model.results, "source": os.path.relpath(run.directory / model.run.name, out)}
        for run in runs
        for model in run.models
    ]
    comparison = Comparison.of(documents)
    figures = out / FIGURES_DIR
    paths = write_plots(comparison, figures)
    paths.append(plot_panels(lm_panels(_lm_lines(runs)), figures / LM_CURVES, "Language models"))
    nars = [(_run_label(run, len(runs)), k, run.nar_metrics) for k, run in enumerate(runs)]
    paths.append(plot_panels(nar_panels(nars), figures / NAR_CURVES, "The NAR"))
    text = report_markdown(runs, comparison)
    with atomic_write(out / REPORT_MD, overwrite=True, mode="w") as handle:
        handle.write(text)
    with atomic_write(out / REPORT_HTML, overwrite=True, mode="w") as handle:
        handle.write(markdown_to_html(text, TITLE, out))
    return [out / REPORT_MD, out / REPORT_HTML, *paths]


def report_markdown(runs: Sequence[RunData], comparison: Comparison) -> str:
    """The report's Markdown (its figures in ``figures/`` beside it)."""
    lines = [f"# {TITLE}", "", *_setup(runs), ""]
    lines += ["## Scores: baseline vs TransNAR", "", *_demoted(comparison.to_markdown()), ""]
    lines += [f"![{_PLOT_TITLES[key]}]({FIGURES_DIR}/{name})" for key, name in PLOTS.items()]
    lines += ["", "## Training the language models", "", *_training_table(runs), ""]
    lines += [f"![Training and validation loss]({FIGURES_DIR}/{LM_CURVES})", ""]
    lines += ["## The NAR on CLRS-30", "", *_nar_section(runs), ""]
    lines += [f"![The NAR's training]({FIGURES_DIR}/{NAR_CURVES})", ""]
    lines += ["## Stages", "", *_stages(runs)]
    return "\n".join(lines).rstrip() + "\n"


def _setup(runs: Sequence[RunData]) -> list[str]:
    """The bullet list describing what was run."""
    config = runs[0].config
    lm, data, optim, nar = config.lm.model, config.lm.data, config.lm.optim, config.nar
    seeds = sorted({model.run.seed for run in runs for model in run.models})
    length = f"{optim.steps:,} steps" if optim.steps else f"{optim.epochs} epoch(s)"
    nar_results = runs[0].nar_results
    regimes = _regimes(config.eval_settings().regimes())
    lines = [
        "- run(s): " + ", ".join(f"`{run.directory}`" for run in runs),
        f"- data: {', '.join(data.algorithms)}; training sizes "
        f"{_join(data.train_sizes)}, {data.train_count:,} examples per algorithm and size "
        f"(seed {data.train_seed}); validation {data.val_count:,} (seed {data.val_seed})",
        f"- language models: {lm.lm.n_layers} layers, d_model {lm.lm.d_model}, "
        f"{lm.lm.n_heads} heads, L_max {lm.lm.max_position}; AdamW, learning rate "
        f"{optim.learning_rate:g}, batch {optim.batch_size}, {length}; TransNAR adds "
        f"gated cross-attention to the frozen NAR after every {lm.xattn_every} layer(s) "
        f"({lm.memory} memory)",
        f"- the baseline and TransNAR train on the same data for the same steps, at seed(s) "
        f"{_join(seeds)}",
        f"- NAR: {nar.nar.processor}, hidden {nar.nar.hidden_dim}, "
        f"{len(nar.nar.algorithms)} algorithm(s), sizes {_join(nar.train.train_sizes)}, "
        f"{nar.train.steps:,} steps (best validation {nar_results.get('best_val_score', 0):.3f} "
        f"at step {nar_results.get('best_step', '?')})",
        f"- evaluation: sizes {regimes}; {data.test_count:,} questions per algorithm and size "
        f"(seed {data.test_seed}), greedy decoding",
    ]
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
    header += ["train loss", "val loss", "tokens/s", "trainable parameters"]
    rows = []
    for run in runs:
        for model in run.models:
            s = model.summary
            rows.append(
                [
                    *([_run_label(run, 2)] if several else []),
                    model.run.label,
                    str(model.run.seed),
                    str(s["steps"]),
                    f"{s['epochs']:.2f}",
                    f"{s['train_loss']:.4f}",
                    f"{s['val_loss']:.4f}",
                    f"{s['tokens_per_second']:.0f}",
                    str(s["parameters"]),
                ]
            )
    return markdown_table(header, rows)


def _nar_section(runs: Sequence[RunData]) -> list[str]:
    """The NAR's test scores per algorithm and size (mean ± std over runs)."""
    results = [run.nar_results for run in runs]
    first = results[0]
    sizes = list(first["mean"])
    marks = {
        size: all(e["test"][size]["in_distribution"] for e in first["algorithms"].values())
        for size in sizes
    }
    header = ["algorithm", "family", "val", *(f"n={s}" + ("*" if marks[s] else "") for s in sizes)]
    rows = []
    for name, entry in first["algorithms"].items():
        cells = [_cell(r["algorithms"][name].get("validation_score") for r in results)]
        cells += [
            _cell(r["algorithms"][name]["test"][s]["scores"]["score"] for r in results)
            for s in sizes
        ]
        rows.append([name, entry["family"], *cells])
    means = [_cell(r.get("best_val_score") for r in results)]
    means += [_cell(r["mean"][s] for r in results) for s in sizes]
    rows.append(["**mean**", "", *means])
    note = (
        "Test scores of the NAR's best checkpoint (the reference's per-output scores, "
        "averaged over an algorithm's outputs: the micro-F1 of the CLRS papers); "
        "val: its validation score; * = in distribution"
        + ("; mean ± std over the runs." if len(runs) > 1 else ".")
    )
    return [note, "", *markdown_table(header, rows)]


def _cell(values) -> str:
    values = [v for v in values if v is not None]
    return Cell.of(values).text() if values else "-"


def _stages(runs: Sequence[RunData]) -> list[str]:
    """The time of each stage before the report (the report's own is not known
    while it is written)."""
    lines = []
    for run in runs:
        done = {
            name: record["seconds"]
            for name, record in run.stages.items()
            if record.get("status") == "done" and name != "report"
        }
        times = [f"{name} {duration(seconds)}" for name, seconds in done.items()]
        total = sum(done.values())
        where = f"`{run.directory}`: " if len(runs) > 1 else ""
        lines.append(f"- {where}{', '.join(times)} (total {duration(total)})")
    return lines


def _lm_lines(runs: Sequence[RunData]) -> list[tuple]:
    """``(label, kind, style, metrics)`` per language model; models of one kind
    get line styles in turn."""
    lines, seen = [], {}
    for run in runs:
        for model in run.models:
            style = seen[model.run.kind] = seen.get(model.run.kind, -1) + 1
            lines.append(
                (_model_label(run, model, len(runs)), model.run.kind, style, model.metrics)
            )
    return lines


def _run_label(run: RunData, count: int) -> str:
    return run.directory.name if count > 1 else "NAR"


def _model_label(run: RunData, model, count: int) -> str:
    label = f"{model.run.label} s{model.run.seed}"
    return f"{run.directory.name}: {label}" if count > 1 else label


def _join(values) -> str:
    return ", ".join(map(str, values))


__all__ = ["LM_CURVES", "NAR_CURVES", "TITLE", "report_markdown", "write_report"]
