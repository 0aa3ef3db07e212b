"""The report of a pipeline run (``transnar report``): the arms (baseline, control,
TransNAR) with paired tests, the NAR, training.

- :func:`write_report`: ``report.md``, ``report.html`` (one self-contained
  file) and ``figures/`` for one run, or for several (mean ± std per cell);
- :mod:`~transnar.report.headline`: per size, each arm's score and the paired
  differences between arms, said plainly;
- :mod:`~transnar.report.runs`: reading a run directory of ``transnar run``;
- :mod:`~transnar.report.curves`: training-curve figures;
- :mod:`~transnar.report.html`: the HTML page from the Markdown.
"""

from transnar.report.document import report_markdown, write_report
from transnar.report.runs import ModelResult, RunData, load_run

__all__ = ["ModelResult", "RunData", "load_run", "report_markdown", "write_report"]
