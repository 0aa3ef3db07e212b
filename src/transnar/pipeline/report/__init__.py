"""The report of a pipeline run (``transnar report``): the arms (baseline, control,
TransNAR) with paired tests, the NAR, training.

- :func:`write_report`: ``report.md``, ``report.html`` (one self-contained
  file) and ``figures/`` for one run, or for several (mean ± std per cell);
- :mod:`~transnar.pipeline.report.headline`: per size, each arm's score and the paired
  differences between arms, said plainly;
- :mod:`~transnar.pipeline.report.runs`: reading a run directory of ``transnar run``;
- :mod:`~transnar.pipeline.report.curves`: training-curve figures;
- :mod:`~transnar.pipeline.report.html`: the HTML page from the Markdown;
- :mod:`~transnar.pipeline.report.competence`: what each arm learned in distribution.

Imports: the evaluation (comparisons, plots), the run directory's description
(:mod:`~transnar.pipeline.config`, ``layout``, ``records``, ``resources``); never
:mod:`transnar.pipeline.run` (which writes the report as its last stage) or the CLI.
"""

from transnar.pipeline.report.document import report_markdown, write_report
from transnar.pipeline.report.runs import ModelResult, RunData, load_run

__all__ = ["ModelResult", "RunData", "load_run", "report_markdown", "write_report"]
