"""CLRS-Text: the text view of CLRS-30 trajectories (Markeeva et al. 2024).

- :func:`format_example` renders a trajectory as a question and an answer,
  byte for byte as the reference ``clrs_text`` formatter.
"""

from transnar.clrs.text.formatting import FLOAT_FORMATS, format_example, predecessors_to_order

__all__ = ["FLOAT_FORMATS", "format_example", "predecessors_to_order"]
